"""A small but real world for bridge tests: K queues whose service rate an agent sets each period."""
from __future__ import annotations

import numpy as np

from emulator.control import BoxSpec, ControlPoint
from emulator.emulation import Emulation, Subsystem
from tests.bridge.queue_policies import POLICIES


class RatePoint(ControlPoint):
    """Observation: [backlog, arrivals last period] (float32); action: service share in [0, 1]."""

    kind = "rate"

    def __init__(self, world: "QueueWorld", k: int):
        self.world, self.k = world, k
        super().__init__(f"queue/q{k}", BoxSpec((2,), 0.0, 1e9), BoxSpec((1,), 0.0, 1.0), world.period)
        for name, fn in POLICIES.items():
            self.policies[name] = fn

    def observe(self):
        w = self.world
        return np.array([w.backlog[self.k], w.arrived[self.k]], dtype=np.float32)

    def reward(self):
        w = self.world
        return float(-w.backlog[self.k] - 2.0 * w.share[self.k])

    def default_action(self):
        return np.array([0.5])

    def check(self, action):
        if action[0] == 0.25:
            raise ValueError("0.25 is a forbidden share (test rule)")

    def info(self):
        w = self.world
        return {"arrival_rate": float(w.rates[self.k]), "weights": w.rates[: self.k + 1].astype(np.float32)}

    def _apply(self, action):
        self.world.share[self.k] = float(action[0])


class QueueWorld(Subsystem):
    """K queues with Poisson arrivals (rate λ_k per s) served at share_k × capacity per s."""

    name = "queues"

    def __init__(self, emu: Emulation, k: int = 3, period: float = 0.1, tick: float = 0.01, capacity: float = 100.0):
        self.emu, self.period, self.tick, self.capacity = emu, period, tick, capacity
        self.rates = 20.0 + 15.0 * np.arange(k)
        self.backlog = np.zeros(k)
        self.arrived = np.zeros(k)
        self.share = np.full(k, 0.5)
        self.rng = emu.streams.get("arrivals")
        self.points = [RatePoint(self, i) for i in range(k)]

    def start(self):
        for p in self.points:
            self.emu.add_control_point(p)
        self.emu.env.process(self._serve())
        self.emu.env.process(self._decide())

    def _serve(self):
        acc = np.zeros_like(self.backlog)
        while True:
            yield self.emu.env.timeout(self.tick)
            a = self.rng.poisson(self.rates * self.tick)
            acc += a
            self.backlog = np.maximum(0.0, self.backlog + a - self.share * self.capacity * self.tick)
            if round(self.emu.env.now / self.period, 6).is_integer():
                self.arrived, acc = acc, np.zeros_like(acc)

    def _decide(self):
        step = 0
        while True:
            yield self.emu.env.timeout(self.period)
            inds = [p.indication(step, self.emu.env.now) for p in self.points]
            self.emu.traces.table("queues").append(step=step, time=self.emu.env.now, queue=np.arange(len(self.points)),
                                                   backlog=self.backlog, share=self.share,
                                                   reward=np.array([i.reward for i in inds]))
            self.emu.publish("queues.kpi", {"step": step, "backlog": self.backlog})
            yield self.emu.decision(inds)
            self.emu.end_of_step(step)
            step += 1


def builder(k: int = 3, **kw):
    return lambda emu: QueueWorld(emu, k=k, **kw)
