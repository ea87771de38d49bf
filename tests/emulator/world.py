"""A small but real world for testing the emulation core: a tank with random inflow and a valve."""
from __future__ import annotations

import numpy as np

from emulator.control import BoxSpec, ControlPoint
from emulator.emulation import Emulation, Subsystem


class ValvePoint(ControlPoint):
    """Observation: tank level; action: valve opening in [0, 1]; reward: −|level − target|."""

    kind = "valve"

    def __init__(self, world: "TankWorld", name: str):
        self.world = world
        super().__init__(name, BoxSpec((1,), 0.0, 1e9), BoxSpec((1,), 0.0, 1.0), world.period)
        self.policies["half"] = lambda ind: np.array([0.5])
        # Proportional controller: open the valve more as the level rises above target.
        self.policies["proportional"] = lambda ind: np.clip(np.array([ind.observation[0] / (2 * world.target)]), 0, 1)

    def observe(self):
        return np.array([self.world.level], dtype=np.float32)

    def reward(self):
        return -abs(self.world.level - self.world.target)

    def default_action(self):
        return np.array([0.0])

    def check(self, action):
        if action[0] == 0.25:
            raise ValueError("0.25 is a forbidden opening (test rule)")

    def _apply(self, action):
        self.world.valve = float(action[0])


class TankWorld(Subsystem):
    name = "tank"

    def __init__(self, emu: Emulation, period: float = 0.1, tick: float = 0.01, target: float = 5.0):
        self.emu, self.period, self.tick, self.target = emu, period, tick, target
        self.level, self.valve = 0.0, 0.0
        self.rng = emu.streams.get("inflow")
        self.point = ValvePoint(self, "tank/valve")
        self.resets = 0

    def start(self):
        self.emu.add_control_point(self.point)
        self.emu.env.process(self._flow())
        self.emu.env.process(self._decide())

    def _flow(self):
        while True:
            yield self.emu.env.timeout(self.tick)
            self.level = max(0.0, self.level + self.rng.exponential(0.2) - 0.4 * self.valve)

    def _decide(self):
        step = 0
        episode_steps = self.emu.scenario.episode_steps
        while True:
            yield self.emu.env.timeout(self.period)
            last = episode_steps is not None and (step + 1) % episode_steps == 0
            ind = self.point.indication(step, self.emu.env.now, truncated=last)
            self.emu.traces.table("tank").append(step=step, time=self.emu.env.now, level=self.level,
                                                 valve=self.valve, reward=ind.reward)
            self.emu.publish("tank.kpi", {"step": step, "level": self.level})
            yield self.emu.decision([ind])
            self.emu.end_of_step(step)
            step += 1
            if last:
                self.emu.new_episode()

    def reset_episode(self):
        self.level = 0.0
        self.resets += 1

    def summary(self):
        return {"level": self.level}


def build(emu: Emulation) -> TankWorld:
    return TankWorld(emu)
