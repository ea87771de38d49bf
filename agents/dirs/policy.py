"""Trained DIRS agents as policies: checkpoints, the in-process plugin, and one agent process per MEC server over the bridge.

Decentralised inference (paper §V-A, Algorithm 1 lines 6–10): MEC server j's agent needs only its own
state h_j — the `gain_db` column of its offloading point's observation — and answers its N scores;
the emulator combines all servers' scores by max vote and solves problem (13) for the chosen
assignment. The same function serves both ways:

- in-process, as a plugin policy of the MEC offloading points (scenario or `ranemu sweep --policies`):
      agents.policies.offloading: "agents.dirs.policy:load?checkpoint=runs/dirs/dirs.pt"
- as its own process over the bridge, one per server:
      python -m agents.dirs.policy --checkpoint runs/dirs/dirs.pt --role mec/server0 [--endpoint ...]

A checkpoint is trained on one placement of IoTDs (one scenario seed, paper §III: positions fixed,
channels time-varying); it refuses points whose device count differs from its own.
"""
from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from agents.dirs.networks import Ensemble
from agents.dirs.world import GAIN_DB_COLUMN, server_index

log = logging.getLogger("ranemu.dirs")
FORMAT = 1


def save(ens: Ensemble, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write the ensemble (weights, input standardisation, sizes) and JSON-able `meta` to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "num_devices": ens.num_devices, "num_servers": ens.num_servers,
                "hidden": list(ens.hidden), "state_dict": ens.state_dict(), "meta": dict(meta or {})}, path)
    return path


@functools.lru_cache(maxsize=8)
def load_ensemble(path: str) -> Ensemble:
    """The ensemble saved at `path` (cached: every server's point of a run shares one load).
    Raises ValueError for a missing or foreign file."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no DIRS checkpoint at {path}")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a file that is not a checkpoint
        raise ValueError(f"{path} is not a DIRS checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise ValueError(f"{path} is not a DIRS checkpoint of format {FORMAT}")
    ens = Ensemble(int(ck["num_devices"]), int(ck["num_servers"]), tuple(ck["hidden"]))
    ens.load_state_dict(ck["state_dict"])
    ens.eval()
    return ens


def server_policy(ens: Ensemble, point: str, num_devices: int) -> Callable[[Any], np.ndarray]:
    """Agent j's policy for the offloading point `point` (mec/server{j}): indication → scores (N,)."""
    j = server_index(point)
    if j >= ens.num_servers:
        raise ValueError(f"{point}: the checkpoint has agents for {ens.num_servers} servers only")
    if num_devices != ens.num_devices:
        raise ValueError(f"{point} has {num_devices} devices, the checkpoint was trained for {ens.num_devices}")

    def policy(ind) -> np.ndarray:
        obs = np.asarray(ind.observation, dtype=np.float64)
        return ens.agent_scores(j, obs[:, GAIN_DB_COLUMN])

    return policy


def load(description: dict, checkpoint: str = "") -> Callable[[Any], np.ndarray]:
    """Plugin factory for `ControlPoint.policy("agents.dirs.policy:load?checkpoint=PATH")`.

    `description` is the point's describe() dict; only offloading points (kind "offloading") fit.
    Raises ValueError naming the problem (no checkpoint, wrong kind, size mismatch).
    """
    if not checkpoint:
        raise ValueError("agents.dirs.policy:load needs ?checkpoint=PATH")
    if description.get("kind") != "offloading":
        raise ValueError(f"DIRS agents serve MEC offloading points, not kind {description.get('kind')!r}")
    torch.set_num_threads(1)
    ens = load_ensemble(str(Path(checkpoint).resolve()))
    n = int(description["observation_space"]["shape"][0])
    return server_policy(ens, description["name"], n)


def main(argv: list[str] | None = None) -> int:
    """One (or more) MEC servers' trained DIRS agents as an agent process over the bridge."""
    from bridge.client import ENV_ENDPOINT, ENV_ROLES, BridgeError, Rejected, curve_from_env, run_agent

    ap = argparse.ArgumentParser(prog="python -m agents.dirs.policy", description=main.__doc__)
    ap.add_argument("--checkpoint", required=True, help="a DIRS checkpoint (dirs.pt of `ranemu experiment mec-dirs`)")
    ap.add_argument("--endpoint", default=os.environ.get(ENV_ENDPOINT, "tcp://127.0.0.1:5555"))
    ap.add_argument("--role", action="append", default=[], metavar="mec/serverJ[,...]",
                    help="offloading point(s) to serve (repeatable; default: $RANEMU_ROLES)")
    ap.add_argument("--name", default="dirs")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the emulator's answers")
    ap.add_argument("--give-up", type=float, default=60.0, help="seconds without a session before exiting")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    roles = [r.strip() for arg in (args.role or [os.environ.get(ENV_ROLES, "")]) for r in arg.split(",") if r.strip()]
    if not roles:
        ap.error("at least one --role is needed")
    torch.set_num_threads(1)
    try:
        ens = load_ensemble(str(Path(args.checkpoint).resolve()))
    except ValueError as exc:
        print(f"agents.dirs.policy: {exc}", file=sys.stderr)
        return 2
    policies: dict[str, Callable] = {}

    def on_welcome(welcome) -> None:
        for role, spec in welcome.roles.items():
            if spec.kind != "offloading":
                raise BridgeError(f"{role} is a {spec.kind} point; DIRS agents serve offloading points")
            policies[role] = server_policy(ens, role, int(spec.observation_space["shape"][0]))

    try:
        n = run_agent(args.endpoint, roles, lambda ind: policies[ind.role](ind), name=args.name,
                      curve=curve_from_env(), timeout_s=args.timeout, give_up_s=args.give_up, on_welcome=on_welcome)
    except Rejected as exc:
        print(f"agents.dirs.policy: refused by the emulator: {exc}", file=sys.stderr)
        return 2
    except (BridgeError, TimeoutError, ValueError) as exc:
        print(f"agents.dirs.policy: {exc}", file=sys.stderr)
        return 1
    log.info("served %d decisions", n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
