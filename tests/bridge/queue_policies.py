"""Pure policies for the test queue world, importable by agent processes without the emulator."""
from __future__ import annotations

import numpy as np


def proportional(ind) -> np.ndarray:
    """Serve faster as the backlog grows (float32 observation → float64 action, like a real agent)."""
    return np.clip(np.array([ind.observation[0] / 20.0]), 0.0, 1.0)


def informed(ind) -> np.ndarray:
    """Uses `info` (true arrival rate and a per-queue array) so info must travel exactly."""
    return np.clip(np.array([ind.info["arrival_rate"] * ind.info["weights"][0] / 30.0 + 0.01 * ind.reward]), 0.0, 1.0)


def forbidden(ind) -> np.ndarray:
    """Always the one value the queue point refuses (exercises invalid_action)."""
    return np.array([0.25])


POLICIES = {"proportional": proportional, "informed": informed, "forbidden": forbidden}
