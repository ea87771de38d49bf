"""Traffic masks: per slice, the share of each UE group that is active, one value per mask step."""
from __future__ import annotations

import math

import numpy as np

from emulator.ran.config import ConstantMask, CsvMask, DailyMask, RandomWalkMask


class MaskSeries:
    """Mask value of step j (time j·step_s onwards) for one slice, generated on demand and kept.

    Random masks draw from their own stream in step order, so the values of a seed do not depend
    on how far a run looks ahead or on other slices.
    """

    def __init__(self, cfg, rng: np.random.Generator, step_s: float):
        self.cfg, self.rng, self.step_s = cfg, rng, float(step_s)
        self._values: list[float] = []
        self._noise = 0.0
        self._csv = cfg.load() if isinstance(cfg, CsvMask) else None

    def value(self, j: int) -> float:
        while len(self._values) <= j:
            self._values.append(self._next(len(self._values)))
        return self._values[j]

    def values(self, n: int) -> np.ndarray:
        self.value(max(n - 1, 0))
        return np.asarray(self._values[:n])

    def _next(self, j: int) -> float:
        cfg = self.cfg
        if isinstance(cfg, ConstantMask):
            return float(cfg.value)
        if isinstance(cfg, CsvMask):
            return float(self._csv[j % self._csv.size])
        if isinstance(cfg, DailyMask):
            return daily_value(cfg, j * self.step_s, self._ar1(cfg.noise_std, cfg.noise_corr, j))
        if isinstance(cfg, RandomWalkMask):
            if j == 0:
                return float(cfg.start)
            return reflect(self._values[-1] + cfg.step_std * self.rng.standard_normal(), cfg.low, cfg.high)
        raise TypeError(f"unknown mask kind {type(cfg).__name__}")  # pragma: no cover

    def _ar1(self, std: float, rho: float, j: int) -> float:
        # Stationary AR(1): n_j = ρ n_{j-1} + √(1-ρ²) σ ε_j, started from its stationary law.
        eps = self.rng.standard_normal()
        self._noise = std * eps if j == 0 else rho * self._noise + math.sqrt(1.0 - rho * rho) * std * eps
        return self._noise


def daily_value(cfg: DailyMask, t: float, noise: float) -> float:
    """low + (high − low)·((1 + cos 2π(t/cycle − peak_at)) / 2)^sharpness + noise, clipped to [0, 1]."""
    phase = t / cfg.cycle_s - cfg.peak_at
    base = (0.5 * (1.0 + math.cos(2.0 * math.pi * phase))) ** cfg.sharpness
    return float(min(1.0, max(0.0, cfg.low + (cfg.high - cfg.low) * base + noise)))


def reflect(x: float, lo: float, hi: float) -> float:
    """Fold x back into [lo, hi] (mirror at the bounds, repeatedly for large steps)."""
    if hi <= lo:
        return float(lo)
    span = hi - lo
    y = (x - lo) % (2.0 * span)
    return float(lo + (y if y <= span else 2.0 * span - y))


def active_count(mask: float, group_size: int) -> int:
    """Active UEs of a group of `group_size` at mask value `mask` (round half up)."""
    return int(math.floor(mask * group_size + 0.5))
