"""Arrival generation: Poisson counts and order, CBR spacing, full buffer, eligible-TTI order."""
from __future__ import annotations

import numpy as np
import pytest

from emulator.ran.config import SliceConfig
from emulator.ran.traffic import TrafficSource, sorted_uniforms


def _source(traffic: dict, n_ue: int = 50, seed: int = 0):
    sl = SliceConfig(name="s", traffic=traffic)
    return TrafficSource([sl], np.zeros(n_ue, dtype=np.int64), np.random.default_rng(seed))


def test_sorted_uniforms_are_sorted_per_group_and_uniform():
    rng = np.random.default_rng(0)
    counts = np.array([3, 0, 5, 1, 20_000])
    u = sorted_uniforms(counts, rng)
    assert u.size == counts.sum()
    off = np.concatenate(([0], np.cumsum(counts)))
    for i in range(counts.size):
        seg = u[off[i]:off[i + 1]]
        assert (np.diff(seg) >= 0).all()
    assert ((u >= 0) & (u < 1)).all()
    big = u[off[4]:]
    # order statistics of uniforms: the i-th of n has mean i/(n+1)
    assert np.quantile(big, [0.1, 0.5, 0.9]) == pytest.approx([0.1, 0.5, 0.9], abs=0.01)


def test_poisson_rate_and_eligible_tti_order():
    src = _source({"kind": "poisson", "packet_bytes": 100, "rate_pps": 500})
    active = np.ones(50, dtype=bool)
    t, ue, bits, k = src.arrivals(1000, 3000, 1e-3, active)
    # 50 UEs × 500 pkt/s × 2 s = 50,000 expected (σ ≈ 224)
    assert abs(t.size - 50_000) < 1200
    assert ((t >= 1.0) & (t < 3.0)).all()
    assert (bits == 800).all()
    assert (np.diff(k) >= 0).all()
    assert (k == np.ceil(t / 1e-3 - 1e-9)).all()
    for u in (0, 17):
        assert (np.diff(t[ue == u]) > 0).all()  # FIFO order within each UE


def test_inactive_ues_send_nothing():
    src = _source({"kind": "poisson", "packet_bytes": 100, "rate_pps": 500})
    active = np.zeros(50, dtype=bool)
    active[3] = True
    _, ue, _, _ = src.arrivals(0, 1000, 1e-3, active)
    assert set(ue.tolist()) == {3}


def test_cbr_spacing_and_phase_across_windows():
    src = _source({"kind": "cbr", "packet_bytes": 50, "interval_ms": 20}, n_ue=3)
    active = np.ones(3, dtype=bool)
    src.activate(np.arange(3), 0.0)
    parts = [src.arrivals(k0, k0 + 100, 1e-3, active) for k0 in range(0, 1000, 100)]
    t = np.concatenate([p[0] for p in parts])
    ue = np.concatenate([p[1] for p in parts])
    for u in range(3):
        tu = np.sort(t[ue == u])
        assert tu.size == 50
        assert np.diff(tu) == pytest.approx(np.full(49, 0.02))
        assert 0.0 <= tu[0] < 0.02


def test_exponential_sizes_have_the_configured_mean():
    src = _source({"kind": "poisson", "packet_bytes": 1000, "rate_pps": 1000, "size": "exponential"})
    _, _, bits, _ = src.arrivals(0, 1000, 1e-3, np.ones(50, dtype=bool))
    assert (bits % 8 == 0).all() and bits.min() >= 8
    assert bits.mean() == pytest.approx(8000 + 4, rel=0.03)  # ceil to whole bytes adds ½ byte on average


def test_full_buffer_generates_no_packets_and_marks_demand_unknown():
    src = _source({"kind": "full_buffer"}, n_ue=4)
    t, *_ = src.arrivals(0, 1000, 1e-3, np.ones(4, dtype=bool))
    assert t.size == 0
    assert src.full_buffer_slice.tolist() == [True]
    assert np.isnan(src.mean_rate_bps()).all()
