"""Named random streams derived from one scenario seed (one seed, one run, bit for bit)."""
from __future__ import annotations

import hashlib

import numpy as np


def _name_key(name: str) -> tuple[int, ...]:
    # A stable (process- and platform-independent) key per stream name; Python's hash() is salted.
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=16).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class RandomStreams:
    """Hands out one independent `numpy.random.Generator` per name, e.g. "mobility", "traffic".

    Each stream depends only on (seed, name), so adding or changing one model never reshuffles
    the draws of another. Asking twice for the same name returns the same generator object.
    """

    def __init__(self, seed: int):
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self._streams: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        gen = self._streams.get(name)
        if gen is None:
            gen = self._streams[name] = self.fresh(name)
        return gen

    def fresh(self, name: str) -> np.random.Generator:
        """A new generator for `name` restarted from its initial state (does not touch `get`'s)."""
        ss = np.random.SeedSequence(entropy=self.seed, spawn_key=_name_key(name))
        return np.random.Generator(np.random.PCG64(ss))

    def __contains__(self, name: str) -> bool:
        return name in self._streams
