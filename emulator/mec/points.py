"""MEC control points: per-server offloading scores (combined by max vote) and the core assignment vector."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from emulator.control import BoxSpec, ControlPoint
from emulator.mec import baselines

if TYPE_CHECKING:
    from emulator.mec.subsystem import MecSubsystem

# Observation columns per device (units in the names; dB only here, at the agent edge).
SERVER_FIELDS = ("gain_db", "link_gain_db", "backhaul_ms", "data_mbit", "cycles_g")
# Observation values are clipped to this box (gains far below −300 dB are numerically zero).
OBS_LOW, OBS_HIGH = -300.0, 1e6


class ServerOffloadingPoint(ControlPoint):
    """MEC server j's agent (paper V-C): observes the IoTDs' channel gains to j and their tasks,
    answers a score in [0, 1] per IoTD; the emulator combines all servers' scores by max vote."""

    kind = "offloading"

    def __init__(self, mec: "MecSubsystem", server: int):
        self.mec, self.server = mec, server
        n = mec.num_devices
        super().__init__(
            f"mec/server{server}",
            BoxSpec((n, len(SERVER_FIELDS)), OBS_LOW, OBS_HIGH),
            BoxSpec((n,), 0.0, 1.0),
            mec.cfg.decision_period_s,
        )
        for name in baselines.ASSIGNMENT_POLICIES:
            self.policies[name] = baselines.server_policy(name)

    def observe(self) -> np.ndarray:
        return self.mec.server_observation(self.server)

    def reward(self) -> float:
        return self.mec.reward

    def default_action(self) -> np.ndarray:
        return np.zeros(self.mec.num_devices)  # all scores below 0.5: everything runs locally

    def info(self) -> dict[str, Any]:
        return self.mec.info(server=self.server)


class CoreAssignmentPoint(ControlPoint):
    """The core MEC's scheduler: observes every device–server pair, sets the full assignment
    (0 = local, j + 1 = server j) per IoTD."""

    kind = "assignment"

    def __init__(self, mec: "MecSubsystem"):
        self.mec = mec
        n, m = mec.num_devices, mec.num_servers
        super().__init__(
            "mec/core",
            BoxSpec((n, 3 * m + 2), OBS_LOW, OBS_HIGH),
            BoxSpec((n,), 0.0, float(m)),
            mec.cfg.decision_period_s,
        )
        for name in baselines.ASSIGNMENT_POLICIES:
            self.policies[name] = baselines.core_policy(name)

    def observe(self) -> np.ndarray:
        return self.mec.core_observation()

    def reward(self) -> float:
        return self.mec.reward

    def default_action(self) -> np.ndarray:
        return np.zeros(self.mec.num_devices)

    def check(self, action: np.ndarray) -> None:
        frac = np.abs(action - np.round(action))
        if np.any(frac > 1e-9):
            i = int(np.argmax(frac))
            raise ValueError(
                f"assignment entries must be integers (0 = local, j+1 = server j); device {i} has {action[i]:g}"
            )

    def info(self) -> dict[str, Any]:
        return self.mec.info(server=None)
