"""UE mobility: drops, random waypoint and random direction motion inside the area."""
from __future__ import annotations

import numpy as np
import pytest

from emulator.ran.config import MobilityConfig
from emulator.ran.mobility import Mobility, reflect_into

AREA = (-500.0, 500.0, -400.0, 400.0)


def _mob(model, n=400, **kw):
    cfg = MobilityConfig(model=model, **kw)
    home = np.zeros((n, 2))
    return Mobility(cfg, home, np.full(n, 1.0), np.full(n, 2.0), AREA, np.random.default_rng(0))


def test_drop_is_within_the_drop_radius():
    m = _mob("static", drop_radius_m=100.0)
    assert (np.hypot(m.xy[:, 0], m.xy[:, 1]) <= 100.0 + 1e-9).all()
    xy = m.xy.copy()
    m.advance(1.0)
    assert (m.xy == xy).all()


def test_random_waypoint_moves_at_its_speed_and_stays_near_home():
    m = _mob("random_waypoint", home_radius_m=200.0, pause_s=(0.0, 0.0))
    for _ in range(600):
        before = m.xy.copy()
        m.advance(0.1)
        step = np.hypot(*(m.xy - before).T)
        assert (step <= 2.0 * 0.1 + 1e-9).all()
    assert (np.hypot(m.xy[:, 0], m.xy[:, 1]) <= 200.0 + 1e-6).all()
    assert (m.speed >= 1.0).all() and (m.speed <= 2.0).all()


def test_random_waypoint_pauses_at_waypoints():
    m = _mob("random_waypoint", n=1, home_radius_m=5.0, pause_s=(3.0, 3.0), drop_radius_m=1.0)
    still = 0
    for _ in range(200):
        before = m.xy.copy()
        m.advance(0.1)
        still += int((m.xy == before).all())
    assert still >= 25  # at least one 3 s pause in 20 s of walking inside a 5 m disc


def test_random_direction_reflects_off_the_area():
    m = _mob("random_direction", speed_mps=(10.0, 10.0), direction_mean_s=1e9)
    m.speed[:] = 30.0
    for _ in range(1000):
        m.advance(0.5)
        assert (m.xy[:, 0] >= AREA[0]).all() and (m.xy[:, 0] <= AREA[1]).all()
        assert (m.xy[:, 1] >= AREA[2]).all() and (m.xy[:, 1] <= AREA[3]).all()


def test_reflect_into_flips_direction():
    x, flipped = reflect_into(np.array([5.0, 12.0, -3.0, 25.0]), 0.0, 10.0)
    assert x.tolist() == pytest.approx([5.0, 8.0, 3.0, 5.0])
    assert flipped.tolist() == [False, True, True, False]  # 25 crossed twice: heading restored
