"""Task execution as SimPy events: device uplink and CPU, backhaul transfer, and MEC CPUs shared at allocated rates."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import simpy

# Relative slack for float rounding when allocated rates add up to exactly the capacity.
CAPACITY_RTOL = 1e-9


class CpuPool:
    """An MEC server CPU of capacity F_max: each running task holds its allocated rate f_ij.

    A task starts only while Σ f_ij ≤ F_max stays true; otherwise it queues (first come, first
    served: a large request at the head is not overtaken). Tracks the peak allocation and the
    allocation integral (for utilisation).
    """

    def __init__(self, env: simpy.Environment, capacity_hz: float, name: str = "cpu"):
        self.env, self.capacity, self.name = env, float(capacity_hz), name
        self.allocated = 0.0
        self.peak = 0.0
        self.running = 0
        self.queued_total = 0
        self._queue: deque[tuple[float, simpy.Event]] = deque()
        self._area = 0.0
        self._t_last = env.now

    def _account(self) -> None:
        self._area += self.allocated * (self.env.now - self._t_last)
        self._t_last = self.env.now

    def request(self, rate_hz: float) -> simpy.Event:
        """Event that fires when `rate_hz` is granted."""
        if not rate_hz > 0:
            raise ValueError(f"{self.name}: requested rate must be positive, got {rate_hz!r}")
        if rate_hz > self.capacity * (1 + CAPACITY_RTOL):
            raise ValueError(f"{self.name}: requested {rate_hz:.4g} cycles/s exceeds the capacity {self.capacity:.4g}")
        ev = self.env.event()
        if self._queue or not self._fits(rate_hz):
            self.queued_total += 1
        self._queue.append((float(rate_hz), ev))
        self._admit()
        return ev

    def release(self, rate_hz: float) -> None:
        self._account()
        self.running -= 1
        # An idle CPU is exactly free: no float residue accumulates across batches.
        self.allocated = self.allocated - float(rate_hz) if self.running else 0.0
        self._admit()

    @property
    def queue_length(self) -> int:
        return len(self._queue)

    def utilisation(self) -> float:
        """Time-average allocated share of the capacity so far."""
        self._account()
        return self._area / (self.capacity * self.env.now) if self.env.now > 0 else 0.0

    def _fits(self, rate: float) -> bool:
        return self.allocated + rate <= self.capacity * (1 + CAPACITY_RTOL)

    def _admit(self) -> None:
        while self._queue and self._fits(self._queue[0][0]):
            rate, ev = self._queue.popleft()
            self._account()
            self.allocated += rate
            self.running += 1
            self.peak = max(self.peak, self.allocated)
            ev.succeed()


@dataclass
class BatchRecord:
    """One epoch's tasks (index k) with their plan and, as they finish, their measured times."""

    step: int
    episode: int
    t_decision: float
    device: np.ndarray
    target: np.ndarray  # 0 local, j + 1 server j
    cycles: np.ndarray
    bits: np.ndarray
    arrival: np.ndarray
    rate_bps: np.ndarray  # uplink rate (NaN for local)
    tx_power_w: np.ndarray
    cpu_hz: np.ndarray  # allocated server rate, or the device CPU for local tasks
    backhaul_s: np.ndarray  # backhaul transfer time (latency once per hop + D/bottleneck)
    hops: np.ndarray  # backhaul hops crossed
    energy_j: np.ndarray  # device energy (transmit or local computation)
    predicted_s: np.ndarray  # T without any queueing
    wait_s: np.ndarray = field(init=False)  # waiting for the device's uplink or CPU
    upload_s: np.ndarray = field(init=False)
    queue_s: np.ndarray = field(init=False)  # waiting for the server CPU
    exec_s: np.ndarray = field(init=False)
    done_at: np.ndarray = field(init=False)
    remaining: int = field(init=False)

    def __post_init__(self):
        k = self.device.size
        self.wait_s = np.zeros(k)
        self.upload_s = np.zeros(k)
        self.queue_s = np.zeros(k)
        self.exec_s = np.zeros(k)
        self.done_at = np.full(k, np.nan)
        self.remaining = k

    @property
    def size(self) -> int:
        return int(self.device.size)

    @property
    def time_s(self) -> np.ndarray:
        """Measured T per task: completion − arrival."""
        return self.done_at - self.arrival


class Executor:
    """Runs tasks on the devices' uplinks and CPUs, the backhaul and the MEC server CPUs."""

    def __init__(self, env: simpy.Environment, num_devices: int, server_cpu_hz: np.ndarray):
        self.env = env
        self.uplink = [simpy.Resource(env, capacity=1) for _ in range(num_devices)]
        self.device_cpu = [simpy.Resource(env, capacity=1) for _ in range(num_devices)]
        self.servers = [CpuPool(env, c, f"mec{j}") for j, c in enumerate(server_cpu_hz)]

    def launch(self, rec: BatchRecord, on_done: Callable[[BatchRecord], None]) -> None:
        """Start every task of the batch; `on_done(rec)` runs when the last one finishes."""
        if rec.size == 0:
            on_done(rec)
            return
        for k in range(rec.size):
            proc = self._offloaded(rec, k, on_done) if rec.target[k] > 0 else self._local(rec, k, on_done)
            self.env.process(proc)

    def _finish(self, rec: BatchRecord, k: int, on_done) -> None:
        rec.done_at[k] = self.env.now
        rec.remaining -= 1
        if rec.remaining == 0:
            on_done(rec)

    def _local(self, rec: BatchRecord, k: int, on_done):
        t0 = self.env.now
        with self.device_cpu[rec.device[k]].request() as req:
            yield req
            rec.wait_s[k] = self.env.now - t0
            rec.exec_s[k] = rec.cycles[k] / rec.cpu_hz[k]
            yield self.env.timeout(rec.exec_s[k])
        self._finish(rec, k, on_done)

    def _offloaded(self, rec: BatchRecord, k: int, on_done):
        t0 = self.env.now
        with self.uplink[rec.device[k]].request() as req:
            yield req
            rec.wait_s[k] = self.env.now - t0
            rec.upload_s[k] = rec.bits[k] / rec.rate_bps[k]
            yield self.env.timeout(rec.upload_s[k])
        if rec.backhaul_s[k] > 0:
            yield self.env.timeout(rec.backhaul_s[k])
        pool = self.servers[rec.target[k] - 1]
        t1 = self.env.now
        yield pool.request(rec.cpu_hz[k])
        rec.queue_s[k] = self.env.now - t1
        rec.exec_s[k] = rec.cycles[k] / rec.cpu_hz[k]
        yield self.env.timeout(rec.exec_s[k])
        pool.release(rec.cpu_hz[k])
        self._finish(rec, k, on_done)
