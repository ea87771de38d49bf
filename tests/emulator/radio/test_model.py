"""RadioModel: link budget assembly, SINR geometry, activity-weighted interference, handover, determinism."""
import math

import numpy as np
import pytest

from emulator.radio.config import RadioConfig
from emulator.radio.model import RadioModel
from emulator.streams import RandomStreams
from topology.build import build_topology
from topology.config import TopologyConfig
from topology.query import cell_arrays, site_distances


def topo(num_sites=4, wrap=False, isd=500.0, sectors=3):
    boresights = [30.0, 150.0, 270.0] if sectors == 3 else [0.0]
    return build_topology(TopologyConfig.model_validate(
        {"layout": {"kind": "hex", "num_sites": num_sites, "isd_m": isd, "wrap_around": wrap,
                    "sectors": sectors, "boresights_deg": boresights}}))


def model(graph, seed=1, **radio):
    return RadioModel(RadioConfig(**radio), graph, RandomStreams(seed), 1e-3)


def at(site_xy, dist, angle_deg):
    a = math.radians(angle_deg)
    return np.array([[site_xy[0] + dist * math.cos(a), site_xy[1] + dist * math.sin(a)]])


def test_link_budget_matches_a_hand_computation():
    g = topo(1)
    rm = model(g, pathloss="tr36942_macro", carrier_ghz=2.0, shadowing={"enabled": False})
    rm.update(at((0.0, 0.0), 100.0, 30.0))  # on cell 0's boresight
    pl = 40 * (1 - 4e-3 * 15) * math.log10(0.1) - 18 * math.log10(15) + 21 * math.log10(2000) + 80
    rx_dbm = 46.0 - 10 * math.log10(100) + 15.0 - pl
    assert 10 * math.log10(rm.rx_w[0, 0] * 1e3) == pytest.approx(rx_dbm, abs=1e-9)
    # The two other sectors are 120° off boresight: 20 dB down (36.942 pattern floor).
    assert 10 * math.log10(rm.rx_w[0, 0] / rm.rx_w[0, 1]) == pytest.approx(20.0, abs=1e-9)
    assert rm.serving[0] == 0
    assert 10 * math.log10(rm.noise_w * 1e3) == pytest.approx(-112.45, abs=0.005)


def test_penetration_loss_and_power_split_over_prbs():
    g = topo(1)
    base = model(g, shadowing={"enabled": False}, los="expected")
    pen = model(g, shadowing={"enabled": False}, los="expected", penetration_loss_db=20.0, num_prbs=50)
    xy = at((0, 0), 200.0, 150.0)
    base.update(xy)
    pen.update(xy)
    # 20 dB penetration, but twice the power per PRB with 50 PRBs: −20 + 3.01 dB.
    assert 10 * math.log10(pen.rx_w[0, 1] / base.rx_w[0, 1]) == pytest.approx(-20.0 + 10 * math.log10(2), abs=1e-9)


def test_sinr_near_site_on_boresight_beats_cell_edge():
    g = topo(4)
    ca = cell_arrays(g)
    for kw in ({"shadowing": {"enabled": False}, "los": "expected"}, {}):
        rm = model(g, **kw)
        near = at(ca.site_xy[0], 50.0, 30.0)
        # 90° is the border of cells 0 (30°) and 1 (150°): both 60° off boresight, equally strong.
        edge = at(ca.site_xy[0], 150.0, 90.0)
        rm.update(np.vstack([near, edge]))
        s = 10 * np.log10(rm.sinr())
        assert rm.serving[0] == 0
        assert s[0] > 10.0 and s[1] < 0.0


def test_interference_drops_with_neighbour_activity():
    g = topo(4)
    rm = model(g)
    xy = np.random.default_rng(0).uniform(-300, 300, (200, 2))
    rm.update(xy)
    full = rm.sinr(np.ones(rm.num_cells))
    half = rm.sinr(np.full(rm.num_cells, 0.5))
    none = rm.sinr(np.zeros(rm.num_cells))
    assert np.all(half > full) and np.all(none > half)
    s = rm.rx_w[np.arange(200), rm.serving]
    assert none == pytest.approx(s / rm.noise_w)
    # Only the serving cell's own activity never matters.
    act = np.ones(rm.num_cells)
    act[rm.serving[0]] = 0.0
    assert rm.sinr(act)[0] == pytest.approx(full[0])
    assert rm.geometry() == pytest.approx(s / (rm.rx_w.sum(axis=1) - s))


def test_activity_is_validated():
    rm = model(topo(1))
    rm.update(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="shape"):
        rm.sinr(np.ones(2))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rm.sinr(np.array([1.0, 2.0, 0.0]))


def test_ue_on_a_site_is_clamped_counted_and_finite():
    rm = model(topo(4))
    rm.update(np.array([[0.0, 0.0], [1e7, 0.0]]))
    assert np.all(np.isfinite(rm.rx_w)) and np.all(rm.rx_w > 0)
    assert rm.validity.below_min == 1
    assert rm.validity.above_max == 4
    assert np.all(np.isfinite(rm.sinr()))


def test_same_seed_same_maps_other_seed_other_maps():
    g = topo(4)
    xy = np.random.default_rng(3).uniform(-400, 400, (50, 2))
    a, b, c = model(g, 5), model(g, 5), model(g, 6)
    for m in (a, b, c):
        m.update(xy)
    assert np.array_equal(a.rx_w, b.rx_w)
    assert not np.allclose(a.rx_w, c.rx_w)


def test_shadowing_is_shared_by_the_sectors_of_a_site_and_continuous():
    g = topo(4)
    rm = model(g, los="expected")
    xy = np.random.default_rng(4).uniform(-400, 400, (500, 2))
    snap = rm.evaluate(xy)
    flat = model(g, los="expected", shadowing={"enabled": False}).evaluate(xy)
    ratio_db = 10 * np.log10(snap.rx_w / flat.rx_w)
    cs = cell_arrays(g).cell_site
    for s in range(4):
        sectors = np.flatnonzero(cs == s)
        assert np.allclose(ratio_db[:, sectors], ratio_db[:, sectors[:1]])
    moved = rm.evaluate(xy + np.array([0.5, 0.5]))
    step_db = np.abs(10 * np.log10(moved.rx_w / snap.rx_w))
    assert np.median(step_db) < 0.5


def test_los_draw_follows_the_los_probability():
    g = topo(1)
    rm = model(g, pathloss="uma")
    rng = np.random.default_rng(5)
    ang = rng.uniform(0, 2 * np.pi, 4000)
    xy = 100.0 * np.column_stack([np.cos(ang), np.sin(ang)])
    los = rm.evaluate(xy).los[:, 0]
    p = rm.model.p_los(np.array([100.0]))[0]  # 0.37 for UMa at 100 m
    # Points on a 628 m circle with 50 m LOS correlation: ~30 independent patches, hence the tolerance.
    assert los.mean() == pytest.approx(p, abs=0.15)
    assert 0.0 < los.mean() < 1.0


def test_wrap_around_sees_the_nearest_image():
    g = topo(19, wrap=True)
    rm = model(g, shadowing={"enabled": False}, los="expected")
    ca = cell_arrays(g)
    edge_ue = ca.site_xy[10][None, :] + np.array([[40.0, 0.0]])  # next to an outer site
    snap = rm.evaluate(edge_ue)
    assert snap.distance_m == pytest.approx(site_distances(g, edge_ue))
    direct = np.hypot(*(ca.site_xy - edge_ue).T)
    assert snap.distance_m.max() < direct.max() - 500.0
    assert np.all(snap.distance_m <= 19 ** 0.5 * 500.0)


def test_handover_hysteresis_delays_the_switch_along_a_route():
    g = topo(4)
    ca = cell_arrays(g)
    # From site 0 along cell 0's boresight (30°) towards site 1, 20 m off the line to avoid exact ties.
    a, b = ca.site_xy[0], ca.site_xy[1]
    off = 20.0 * np.array([-0.5, math.sqrt(3) / 2])
    route = a[None, :] + off + np.linspace(0.1, 0.9, 81)[:, None] * (b - a)[None, :]

    def first_switch(**handover):
        rm = model(g, shadowing={"enabled": False}, los="expected", handover=handover)
        rm.update(route[:1])
        first = rm.serving[0]
        for k in range(1, len(route)):
            rm.update(route[k : k + 1], dt_s=0.1)
            if rm.serving[0] != first:
                return k
        return None

    k0 = first_switch(hysteresis_db=0.0, ttt_s=0.0)
    k3 = first_switch(hysteresis_db=3.0, ttt_s=0.0)
    k3t = first_switch(hysteresis_db=3.0, ttt_s=0.25)
    assert k0 is not None and 10 < k0 < 70
    assert k3 > k0
    assert k3t == k3 + 3  # TTT of 0.25 s at 0.1 s steps: three more updates


def test_new_ue_count_reattaches_to_the_strongest_cell():
    rm = model(topo(4), handover={"hysteresis_db": 10.0, "ttt_s": 5.0})
    xy = np.random.default_rng(6).uniform(-400, 400, (30, 2))
    rm.update(xy)
    assert np.array_equal(rm.serving, np.argmax(rm.rx_w, axis=1))
    rm.update(xy[:10], dt_s=0.1)
    assert rm.serving.shape == (10,) and np.array_equal(rm.serving, np.argmax(rm.rx_w, axis=1))
    far = xy[:10].copy()
    far[0] = [300.0, -300.0]
    rm.update(far, dt_s=0.1)
    rm.attach(np.array([0]))
    assert rm.serving[0] == np.argmax(rm.rx_w[0])


def test_bits_per_prb_uses_the_configured_mapping_and_tti():
    g = topo(1)
    rm = RadioModel(RadioConfig(link={"mapping": "cqi"}), g, RandomStreams(1), 0.5e-3)
    assert rm.bits_per_prb(np.array([1e6]))[0] == pytest.approx(5.5547 * 180e3 * 0.5e-3)


def test_omni_single_sector_sites():
    g = topo(4, sectors=1)
    rm = model(g, shadowing={"enabled": False}, los="expected")
    rm.update(np.array([[100.0, 0.0], [-100.0, 0.0]]))
    assert rm.rx_w[0, 0] == pytest.approx(rm.rx_w[1, 0])
