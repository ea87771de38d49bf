"""CURVE key pairs for authenticated agent connections: make them, load them, list the accepted ones."""
from __future__ import annotations

import os
from pathlib import Path

import zmq
import zmq.auth

from emulator.errors import RanemuError


def generate_keypair(directory: str | Path, name: str = "server", overwrite: bool = False) -> tuple[Path, Path]:
    """Write `NAME.key` (public, shareable) and `NAME.key_secret` (private, mode 0600) into `directory`.

    Returns (public_path, secret_path). Refuses to overwrite an existing pair unless asked, since
    replacing a server key locks out every agent that trusts the old one.
    """
    if not zmq.has("curve"):
        raise RanemuError("this libzmq was built without CURVE support; cannot make keys")
    if not name or "/" in name or name.startswith("."):
        raise RanemuError(f"key name {name!r} must be a plain file name")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    public, secret = d / f"{name}.key", d / f"{name}.key_secret"
    if not overwrite and (public.exists() or secret.exists()):
        raise RanemuError(f"{public} or {secret} already exists; choose another --name or remove them")
    pub_file, sec_file = zmq.auth.create_certificates(str(d), name)
    os.chmod(sec_file, 0o600)
    return Path(pub_file), Path(sec_file)


def load_public(path: str | Path) -> bytes:
    """The z85 public key from a `.key` or `.key_secret` file."""
    try:
        public, _ = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise RanemuError(f"{path}: cannot read CURVE key: {exc}") from None
    return public


def load_secret(path: str | Path) -> tuple[bytes, bytes]:
    """(public, secret) z85 keys from a `.key_secret` file."""
    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise RanemuError(f"{path}: cannot read CURVE key: {exc}") from None
    if secret is None:
        raise RanemuError(f"{path}: holds no secret key (expected a .key_secret file made by `ranemu keys`)")
    return public, secret


def authorized_keys(directory: str | Path) -> set[bytes]:
    """Public keys (z85) of every `*.key` file in `directory`: the agents allowed to attach."""
    d = Path(directory)
    if not d.is_dir():
        raise RanemuError(f"{d}: authorized_keys directory not found")
    return {load_public(p) for p in sorted(d.glob("*.key"))}
