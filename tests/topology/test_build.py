"""build_topology: node/edge contract, hex and explicit layouts, MEC placement, backhaul, area."""
import math

import numpy as np
import pytest

from topology.build import build_topology
from topology.config import TopologyConfig


def cfg(**kw):
    return TopologyConfig.model_validate(kw)


def test_standard_19_site_layout_has_57_cells_with_3gpp_boresights():
    G = build_topology(cfg(layout={"kind": "hex", "num_sites": 19, "isd_m": 500}))
    sites = [n for n, d in G.nodes(data=True) if d["kind"] == "site"]
    cells = [n for n, d in G.nodes(data=True) if d["kind"] == "cell"]
    assert len(sites) == 19 and len(cells) == 57
    for c in range(57):
        d = G.nodes[f"cell{c}"]
        assert d["site"] == c // 3 and d["sector"] == c % 3 and d["index"] == c
        assert d["azimuth_deg"] == [30.0, 150.0, 270.0][c % 3]
        assert d["pos"] == G.nodes[f"site{c // 3}"]["pos"]
        assert G.edges[f"cell{c}", f"site{c // 3}"]["kind"] == "sector_of"
        # The cell centre is ISD/3 along the boresight.
        dx = np.subtract(d["centre"], d["pos"])
        assert np.isclose(np.hypot(*dx), 500 / 3)
        assert np.isclose(math.degrees(math.atan2(dx[1], dx[0])) % 360, d["azimuth_deg"])
    assert G.graph["layout"] == "hex" and G.graph["isd_m"] == 500.0 and G.graph["wrap_around"] is False
    assert "wrap_offsets" not in G.graph


def test_backhaul_edges_in_si_units():
    G = build_topology(cfg(layout={"kind": "hex", "num_sites": 7}, site_backhaul={"latency_ms": 2.5, "capacity_mbps": 400}))
    assert G.nodes["core"]["kind"] == "router" and G.nodes["core"]["pos"] == G.nodes["site0"]["pos"]
    for i in range(7):
        e = G.edges[f"site{i}", "core"]
        assert e["kind"] == "backhaul"
        assert e["latency_s"] == pytest.approx(2.5e-3) and e["capacity_bps"] == pytest.approx(400e6)
    assert sum(1 for *_, d in G.edges(data=True) if d["kind"] == "backhaul") == 7


def test_derived_area_is_bounding_box_plus_half_isd():
    G = build_topology(cfg(layout={"kind": "hex", "num_sites": 19, "isd_m": 400}))
    xy = np.array([G.nodes[f"site{i}"]["pos"] for i in range(19)])
    exp = (xy[:, 0].min() - 200, xy[:, 0].max() + 200, xy[:, 1].min() - 200, xy[:, 1].max() + 200)
    assert np.allclose(G.graph["area"], exp)
    assert np.isclose(G.graph["area"][3], 2 * 400 + 200)  # site 9 at (0, 2·ISD)


def test_given_area_is_kept():
    G = build_topology(cfg(area={"x_m": [-10, 20], "y_m": [0, 5]}))
    assert G.graph["area"] == (-10.0, 20.0, 0.0, 5.0)


def test_wrap_around_graph_carries_offsets():
    G = build_topology(cfg(layout={"kind": "hex", "num_sites": 19, "wrap_around": True}))
    assert G.graph["wrap_around"] is True
    off = G.graph["wrap_offsets"]
    assert off.shape == (7, 2) and np.allclose(np.hypot(*off[1:].T), math.sqrt(19) * 500)


def test_explicit_layout_honours_coordinates_names_heights_and_sectors():
    G = build_topology(cfg(layout={"kind": "explicit", "sites": [
        {"name": "macro", "x_m": 100, "y_m": -50, "height_m": 30},
        {"x_m": 900, "y_m": -50, "sectors": 1, "height_m": 10},
        {"x_m": 100, "y_m": 650, "boresights_deg": [0, 120, 240]},
    ]}))
    assert G.graph["layout"] == "explicit" and G.graph["isd_m"] is None
    assert G.nodes["site0"]["pos"] == (100.0, -50.0) and G.nodes["site0"]["name"] == "macro"
    assert G.nodes["site1"]["name"] == "site1" and G.nodes["site1"]["height_m"] == 10.0
    cells = [G.nodes[f"cell{c}"] for c in range(7)]
    assert [c["site"] for c in cells] == [0, 0, 0, 1, 2, 2, 2]
    assert [c["azimuth_deg"] for c in cells] == [30, 150, 270, 0, 0, 120, 240]
    assert [c["omni"] for c in cells] == [False] * 3 + [True] + [False] * 3
    assert cells[3]["centre"] == (900.0, -50.0)  # an omni cell's centre is its site
    # Reference distance = median nearest-site distance (700, 700, 800) → 700; area margin 350 m.
    assert G.graph["ref_distance_m"] == 700.0
    assert np.allclose(G.graph["area"], (100 - 350, 900 + 350, -50 - 350, 650 + 350))


def test_single_explicit_site_uses_500m_reference():
    G = build_topology(cfg(layout={"kind": "explicit", "sites": [{"x_m": 0, "y_m": 0}]}))
    assert G.graph["ref_distance_m"] == 500.0 and G.graph["area"] == (-250.0, 250.0, -250.0, 250.0)


def test_mec_per_site_gives_one_server_per_site_on_backhaul():
    G = build_topology(cfg(layout={"kind": "hex", "num_sites": 4}, mec={"servers": "per_site", "default_backhaul": {"latency_ms": 0.3, "capacity_mbps": 50}}))
    mecs = sorted((d["index"], n) for n, d in G.nodes(data=True) if d["kind"] == "mec")
    assert [n for _, n in mecs] == ["mec0", "mec1", "mec2", "mec3"]
    for j in range(4):
        d = G.nodes[f"mec{j}"]
        assert d["site"] == j and d["attached_site"] == j and d["pos"] == G.nodes[f"site{j}"]["pos"]
        e = G.edges[f"mec{j}", f"site{j}"]
        assert e["kind"] == "backhaul" and e["latency_s"] == pytest.approx(3e-4) and e["capacity_bps"] == pytest.approx(5e7)
        assert G.degree[f"mec{j}"] == 1
    assert "cmec" not in G


def test_mec_list_own_backhaul_and_free_placement_attaches_to_nearest_site():
    G = build_topology(cfg(layout={"kind": "hex", "num_sites": 7}, mec={"servers": [
        {"site": 3, "name": "edge-a", "backhaul": {"latency_ms": 4, "capacity_mbps": 100}},
        {"x_m": 420, "y_m": -260},  # nearest to site 6 at (433, -250)
    ]}))
    assert G.nodes["mec0"]["name"] == "edge-a" and G.edges["mec0", "site3"]["latency_s"] == pytest.approx(4e-3)
    d = G.nodes["mec1"]
    assert d["site"] is None and d["attached_site"] == 6 and d["pos"] == (420.0, -260.0)
    assert G.edges["mec1", "site6"]["latency_s"] == pytest.approx(1e-4)  # MecPlacement.default_backhaul


@pytest.mark.parametrize("core,pos", [({}, "site0"), ({"site": 2}, "site2"), ({"x_m": 5, "y_m": 7}, (5.0, 7.0))])
def test_core_mec_and_router_position(core, pos):
    G = build_topology(cfg(layout={"kind": "hex", "num_sites": 7}, mec={"core": core}))
    want = G.nodes[pos]["pos"] if isinstance(pos, str) else pos
    assert G.nodes["cmec"]["kind"] == "core_mec" and G.nodes["cmec"]["pos"] == want
    assert G.nodes["core"]["pos"] == want
    e = G.edges["cmec", "core"]
    assert e["kind"] == "backhaul" and e["latency_s"] == pytest.approx(5e-3) and e["capacity_bps"] == pytest.approx(1e10)


def test_build_is_deterministic():
    c = cfg(layout={"kind": "hex", "num_sites": 19, "wrap_around": True}, neighbours={"mode": "coupling", "k": 5})
    a, b = build_topology(c), build_topology(c)
    assert [a.nodes[f"cell{i}"]["neighbours"] for i in range(57)] == [b.nodes[f"cell{i}"]["neighbours"] for i in range(57)]
    assert sorted(a.edges) == sorted(b.edges)
