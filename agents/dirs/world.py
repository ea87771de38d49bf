"""The MEC world DIRS trains and is evaluated on: the per-server offloading env, one decision epoch at a time.

One `MecWorld` is one placement of IoTDs and servers (one scenario seed) whose channels change every
epoch (block fading), as in the paper (§III: h is time-varying, the rest fixed). It runs through the
bridge's in-process PettingZoo env (`offloading_parallel_env`, agents `mec/server{j}`), so what DIRS
sees is what a remote agent sees: per server j the observation column `gain_db` (10·log10 h_ij, the
paper's state h_j) and, in the indication's info, the epoch's cost terms (the emulator's own model).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bridge.bundled import bundled_scenario
from bridge.envs import offloading_parallel_env
from bridge.mec_model import CostModel, cost_model

PAPER_SCENARIO = str(bundled_scenario("mec-paper.yaml"))  # the source tree's or the installed copy
# Observation column of the gain to the point's own server (emulator.mec.points.SERVER_FIELDS[0]).
GAIN_DB_COLUMN = 0


def server_index(point: str) -> int:
    """`mec/server3` → 3."""
    prefix = "mec/server"
    if not point.startswith(prefix) or not point[len(prefix):].isdigit():
        raise ValueError(f"not an MEC server offloading point: {point!r}")
    return int(point[len(prefix):])


@dataclass
class Epoch:
    """One decision epoch's state and cost model."""

    step: int
    gain_db: np.ndarray  # (M, N) agent j's state h_j in dB
    model: CostModel
    info: dict[str, Any]

    @property
    def gain(self) -> np.ndarray:
        """(N, M) linear channel gains h_ij."""
        return 10.0 ** (self.gain_db.T / 10.0)


class MecWorld:
    """A fresh world of `scenario` (+ dotted `overrides`) at `seed`, good for `epochs` decisions."""

    def __init__(self, seed: int, epochs: int, scenario: str | Path = PAPER_SCENARIO,
                 overrides: dict[str, Any] | None = None):
        ov = dict(overrides or {})
        from bridge.envs import _scenario  # the env's own loader: bundled paths, located errors

        period = _scenario(scenario, ov).mec.decision_period_s
        ov.update({"duration": period * (epochs + 2), "episode_steps": None, "output.report": False,
                   "output.traces": False, "mec.control": "servers"})
        self.env = offloading_parallel_env(scenario, actions="raw", overrides=ov)
        self.points = sorted(self.env.possible_agents, key=server_index)
        obs, infos = self.env.reset(seed=int(seed))
        self._set(obs, infos)
        self.steps_left = epochs

    @property
    def num_servers(self) -> int:
        return len(self.points)

    def _set(self, obs, infos) -> None:
        p0 = self.points[0]
        info = infos[p0]
        gain_db = np.stack([np.asarray(obs[p])[:, GAIN_DB_COLUMN] for p in self.points]).astype(np.float64)
        self.epoch = Epoch(int(info["step"]), gain_db, cost_model(info), info)

    def step(self, scores: np.ndarray) -> dict[str, float]:
        """Apply per-server scores (M, N) (the emulator max-votes them); advance one epoch.

        Returns the realised outcome of that decision, measured by the emulator when its batch
        finished: objective Φ, reward 1/Φ, and per-task mean time and energy.
        """
        if self.steps_left <= 0:
            raise RuntimeError("this world has run all its epochs")
        decided = self.epoch.step
        actions = {p: np.asarray(scores[j], dtype=np.float64) for j, p in enumerate(self.points)}
        obs, rewards, term, trunc, infos = self.env.step(actions)
        self.steps_left -= 1
        info = infos[self.points[0]]
        if int(info["reward_step"]) != decided:
            raise RuntimeError(f"the batch of epoch {decided} had not finished by the next epoch "
                               f"(decision period too short for one-shot epochs)")
        out = {"objective": float(info["reward_objective"]), "reward": float(rewards[self.points[0]]),
               "mean_time_s": float(info["reward_mean_time_s"]),
               "mean_energy_j": float(info["reward_mean_energy_j"])}
        self._set(obs, infos)
        return out

    def close(self) -> None:
        self.env.close()


def scores_for(assignment: np.ndarray, num_servers: int) -> np.ndarray:
    """(M, N) scores whose max vote is `assignment` (1 on the chosen server, else 0)."""
    a = np.asarray(assignment, dtype=np.int64)
    return (a[None, :] == np.arange(1, num_servers + 1)[:, None]).astype(np.float64)
