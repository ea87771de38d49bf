"""Built-in slice-partition policies, as pure functions of an Indication (usable by remote agents too)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from emulator.control import Indication


def equal(ind: Indication) -> np.ndarray:
    """Every slice gets 1/N of the PRBs."""
    n = len(ind.info["demand_bps"])
    return np.full(n, 1.0 / n)


def traffic_aware(ind: Indication) -> np.ndarray:
    """The paper's baseline: shares proportional to each slice's offered traffic demand in the cell
    for the coming period (perfect knowledge: `info["demand_bps"]`); equal split if there is none."""
    demand = np.asarray(ind.info["demand_bps"], dtype=float)
    total = demand.sum()
    if not np.isfinite(total) or total <= 0.0:
        return np.full(demand.size, 1.0 / demand.size)
    return demand / total


# The slice-partition points register these by name; remote agents look them up by the same names.
POLICIES: dict[str, Callable[[Indication], np.ndarray]] = {"equal": equal, "traffic_aware": traffic_aware}
