"""MEC server CPU as a shared resource: allocated rates never exceed capacity; excess tasks queue in order."""
from __future__ import annotations

import pytest
import simpy

from emulator.mec.execution import CpuPool


def test_tasks_beyond_capacity_queue_first_come_first_served():
    env = simpy.Environment()
    pool = CpuPool(env, 10e9)
    log = []
    samples = []

    def task(name, rate, cycles, at):
        yield env.timeout(at)
        yield pool.request(rate)
        start = env.now
        yield env.timeout(cycles / rate)
        pool.release(rate)
        log.append((name, start, env.now))

    def monitor():
        while True:
            samples.append(pool.allocated)
            yield env.timeout(0.01)

    env.process(monitor())
    env.process(task("a", 6e9, 6e9, 0.0))   # runs 0 → 1 s
    env.process(task("b", 6e9, 3e9, 0.1))   # must wait for a: 1 → 1.5 s
    env.process(task("c", 3e9, 3e9, 0.2))   # would fit beside a, but b is ahead of it: 1 → 2 s
    env.run(until=5)
    done = {name: (start, end) for name, start, end in log}
    assert done["a"] == pytest.approx((0.0, 1.0))
    assert done["b"] == pytest.approx((1.0, 1.5))
    assert done["c"] == pytest.approx((1.0, 2.0))
    assert max(samples) <= 10e9 and pool.peak == pytest.approx(9e9)
    assert pool.queued_total == 2 and pool.allocated == 0.0 and pool.queue_length == 0
    # Busy integral: 6e9·1 s + (6e9·0.5 + 3e9·1) s over 10e9·5 s.
    assert pool.utilisation() == pytest.approx((6e9 + 3e9 + 3e9) / 50e9)


def test_a_request_larger_than_the_capacity_is_an_error():
    pool = CpuPool(simpy.Environment(), 10e9, "mec0")
    with pytest.raises(ValueError, match="exceeds the capacity"):
        pool.request(11e9)
    with pytest.raises(ValueError, match="positive"):
        pool.request(0.0)
