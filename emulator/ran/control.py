"""SlicePartitionPoint: the O&M control of one cell's inter-slice PRB shares (observation, action, reward)."""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from emulator.control import BoxSpec, ControlPoint
from emulator.ran import baselines
from emulator.ran.kpi import OBS_HIGH


class SliceCells(Protocol):
    """What a slice-partition point needs from the RAN (implemented by RanSubsystem)."""

    def observation(self, cell: int) -> np.ndarray: ...

    def reward(self, cell: int) -> float: ...

    def cell_info(self, cell: int) -> dict[str, Any]: ...

    def set_shares(self, cell: int, shares: np.ndarray) -> None: ...


class SlicePartitionPoint(ControlPoint):
    """`slice/cell{k}`: per-slice PRB shares of cell k.

    Observation (4N, float32, each clipped to [0, 10]): per slice the throughput relative to the
    cell's requirement, the load (share of the cell's PRB-time used), the active users relative to
    the group size, then the mean load of the neighbour cells (paper eq. 5). Raw values are in
    `info()`. Action: N shares ≥ 0 summing to 1 (within `tolerance`); default: equal split.
    Reward: the paper's r_k, the minimum slice satisfaction in the cell over the last period.
    """

    kind = "slice_partition"

    def __init__(self, ran: SliceCells, cell: int, num_slices: int, decision_period: float, tolerance: float = 1e-6):
        self.ran, self.cell, self.num_slices, self.tolerance = ran, int(cell), int(num_slices), float(tolerance)
        n = self.num_slices
        super().__init__(f"slice/cell{cell}", BoxSpec((4 * n,), 0.0, OBS_HIGH), BoxSpec((n,), 0.0, 1.0),
                         decision_period)
        self.policies.update(baselines.POLICIES)

    def observe(self) -> np.ndarray:
        return self.ran.observation(self.cell)

    def reward(self) -> float:
        return self.ran.reward(self.cell)

    def default_action(self) -> np.ndarray:
        return np.full(self.num_slices, 1.0 / self.num_slices)

    def check(self, action: np.ndarray) -> None:
        total = float(action.sum())
        if abs(total - 1.0) > self.tolerance:
            raise ValueError(f"shares sum to {total:.9g}, expected 1 within {self.tolerance:g}")

    def _apply(self, action: np.ndarray) -> None:
        self.ran.set_shares(self.cell, action)

    def info(self) -> dict[str, Any]:
        return self.ran.cell_info(self.cell)
