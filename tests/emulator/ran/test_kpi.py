"""Slice KPIs, satisfaction, the paper's reward (eq. 2), neighbour load (eq. 5) and observations."""
from __future__ import annotations

import numpy as np
import pytest

from emulator.ran.kpi import OBS_HIGH, cell_reward, neighbour_load, observations, period_kpis, satisfaction


def test_reward_formula_on_hand_built_numbers():
    req_thr = np.array([4e6, 3e6, 2e6, 1e6])
    req_d = np.array([3e-3, 2e-3, 1e-3, 1e-3])
    thr = np.array([5e6, 1.5e6, 2e6, 0.9e6])
    delay = np.array([1e-3, 1e-3, 4e-3, 0.5e-3])
    sat = satisfaction(thr, delay, req_thr, req_d)
    # slice 0: min(1.25, 3, 1) = 1; slice 1: min(0.5, 2, 1) = 0.5; slice 2: min(1, 0.25) = 0.25; slice 3: 0.9
    assert sat.tolist() == pytest.approx([1.0, 0.5, 0.25, 0.9])
    assert cell_reward(sat) == pytest.approx(0.25)
    # reward is capped at 1 when every slice beats its requirements
    assert cell_reward(satisfaction(req_thr * 2, req_d / 2, req_thr, req_d)) == 1.0


def test_idle_slice_counts_as_satisfied_and_missing_delay_uses_throughput_only():
    sat = satisfaction(np.array([np.nan, 1e6, 2e6]), np.array([np.nan, np.nan, 4e-3]),
                       np.array([1e6, 2e6, 1e6]), np.array([1e-3, 1e-3, 2e-3]))
    assert sat.tolist() == pytest.approx([1.0, 0.5, 0.5])


def test_reward_per_cell_is_min_over_last_axis():
    sat = np.array([[1.0, 0.7, 0.9], [0.2, 1.0, 1.0]])
    assert cell_reward(sat).tolist() == [0.7, 0.2]


def test_neighbour_load_is_the_mean_over_neighbours():
    load = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    nb = np.array([[0, 1, 1], [1, 0, 0], [0, 0, 0]], dtype=bool)
    out = neighbour_load(load, nb)
    assert out[0].tolist() == pytest.approx([0.4, 0.5])
    assert out[1].tolist() == pytest.approx([0.1, 0.2])
    assert out[2].tolist() == [0.0, 0.0]


def test_period_kpis_definitions():
    z = np.zeros((1, 2))
    acc = {"bits": np.array([[2e6, 0.0]]), "busy": np.array([[0.5, 0.0]]), "delay": np.array([[6e-3, 0.0]]),
           "pkts": np.array([[3.0, 0.0]]), "used": np.array([[25_000.0, 0.0]]), "alloc": z + 50_000,
           "drops": z, "offered": np.array([[3e6, 0.0]])}
    k = period_kpis(acc, np.array([[2000.0, 0.0]]), 1000, 1e-3, 100, np.array([[np.nan, 0.02]]))
    assert k["throughput_bps"][0, 0] == pytest.approx(4e6)  # 2 Mbit over 0.5 s busy
    assert np.isnan(k["throughput_bps"][0, 1])
    assert k["delay_s"][0, 0] == pytest.approx(2e-3)
    assert k["delay_s"][0, 1] == pytest.approx(0.02)  # no completion: head-of-line age
    assert k["load"][0, 0] == pytest.approx(0.25)
    assert k["active_users"][0, 0] == pytest.approx(2.0)
    assert k["offered_bps"][0, 0] == pytest.approx(3e6)


def test_observation_layout_and_clipping():
    thr = np.array([[8e6, np.nan]])
    obs = observations(thr, np.array([[0.5, 0.1]]), np.array([[16.0, 400.0]]), np.array([[0.2, 0.3]]),
                       np.array([[4e6, 1e6]]), np.array([32, 32]))
    assert obs.dtype == np.float32
    assert obs[0].tolist() == pytest.approx([2.0, 0.0, 0.5, 0.1, 0.5, OBS_HIGH, 0.2, 0.3])
