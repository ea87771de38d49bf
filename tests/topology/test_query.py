"""Array views, wrap-around distances, backhaul paths and summaries of a topology graph."""
import math

import numpy as np
import pytest

from topology.build import build_topology
from topology.config import TopologyConfig
from topology.query import (
    area,
    backhaul_path,
    cell_arrays,
    mec_servers,
    neighbour_matrix,
    neighbours,
    site_displacements,
    site_distances,
    site_server_paths,
    summary,
    to_central_image,
)

ISD = 500.0


@pytest.fixture(scope="module")
def wrapped():
    return build_topology(TopologyConfig.model_validate({"layout": {"kind": "hex", "num_sites": 19, "isd_m": ISD, "wrap_around": True}}))


@pytest.fixture(scope="module")
def mec_graph():
    return build_topology(TopologyConfig.model_validate({
        "layout": {"kind": "hex", "num_sites": 7},
        "site_backhaul": {"latency_ms": 2.0, "capacity_mbps": 1000},
        "mec": {
            "servers": [{"site": 5, "backhaul": {"latency_ms": 0.5, "capacity_mbps": 300}}, {"site": 0}],
            "core": {"backhaul": {"latency_ms": 3.0, "capacity_mbps": 5000}},
        },
    }))


def test_cell_arrays_shapes_and_values(wrapped):
    ca = cell_arrays(wrapped)
    assert (ca.num_sites, ca.num_cells) == (19, 57)
    assert ca.site_xy.shape == (19, 2) and ca.cell_xy.shape == (57, 2) and ca.site_height_m.shape == (19,)
    assert np.array_equal(ca.cell_site, np.repeat(np.arange(19), 3))
    assert np.array_equal(ca.cell_azimuth_deg, np.tile([30.0, 150.0, 270.0], 19))
    assert np.array_equal(ca.cell_xy, ca.site_xy[ca.cell_site])
    assert ca.wrap_offsets.shape == (7, 2) and not ca.cell_omni.any()
    with pytest.raises(ValueError):
        ca.site_xy[0, 0] = 1.0  # read-only views: hot paths may share them safely


def test_wrap_distances_equal_brute_force_minimum_and_never_exceed_plain(wrapped):
    ca = cell_arrays(wrapped)
    rng = np.random.default_rng(7)
    xmin, xmax, ymin, ymax = area(wrapped)
    pts = np.column_stack([rng.uniform(xmin, xmax, 2000), rng.uniform(ymin, ymax, 2000)])
    d = site_distances(ca, pts)
    brute = np.min([np.hypot(pts[:, None, 0] - ca.site_xy[None, :, 0] - o[0], pts[:, None, 1] - ca.site_xy[None, :, 1] - o[1]) for o in ca.wrap_offsets], axis=0)
    plain = np.hypot(pts[:, None, 0] - ca.site_xy[None, :, 0], pts[:, None, 1] - ca.site_xy[None, :, 1])
    assert np.allclose(d, brute)
    assert np.all(d <= plain + 1e-9)
    assert (d < plain - 1.0).any()  # wrap-around does change some distances
    # Every point of the area lies within a site's hexagon (circumradius ISD/√3) under wrap-around.
    assert d.min(axis=1).max() <= ISD / math.sqrt(3) * (1 + 1e-9)
    # Without wrap-around, the area corners are farther from every site than that.
    plain_g = build_topology(TopologyConfig.model_validate({"layout": {"kind": "hex", "num_sites": 19}}))
    corner = np.array([[xmax, ymax]])
    assert site_distances(plain_g, corner).min() > ISD / math.sqrt(3)


def test_displacements_point_from_nearest_image_to_point(wrapped):
    ca = cell_arrays(wrapped)
    pts = np.array([[1100.0, 1200.0], [0.0, 0.0], [-900.0, 50.0]])
    dx, dy = site_displacements(wrapped, pts)
    assert np.allclose(np.hypot(dx, dy), site_distances(wrapped, pts))
    # site + offset_k + (dx, dy) == point for some image k.
    for p in range(3):
        for s in range(19):
            recon = ca.site_xy[s] + ca.wrap_offsets + np.array([dx[p, s], dy[p, s]])
            assert np.isclose(recon, pts[p]).all(axis=1).any()
    # A point straight east of site 0 within its own cell is seen at 0° from site 0.
    dx, dy = site_displacements(wrapped, np.array([[100.0, 0.0]]))
    assert math.degrees(math.atan2(dy[0, 0], dx[0, 0])) == pytest.approx(0.0)


def test_to_central_image_keeps_wrap_distances_and_lands_in_cluster(wrapped):
    rng = np.random.default_rng(11)
    pts = rng.uniform(-20_000, 20_000, size=(500, 2))
    q = to_central_image(wrapped, pts)
    ca = cell_arrays(wrapped)
    plain_q = np.hypot(q[:, None, 0] - ca.site_xy[None, :, 0], q[:, None, 1] - ca.site_xy[None, :, 1]).min(axis=1)
    assert plain_q.max() <= ISD / math.sqrt(3) * (1 + 1e-9)
    # q - p is a lattice vector of the wrap-around super-lattice: q is an image of p.
    basis = ca.wrap_offsets[1:3]
    coef = np.linalg.solve(basis.T, (q - pts).T).T
    assert np.allclose(coef, np.round(coef), atol=1e-6)
    inside = np.array([[10.0, 20.0], [400.0, -300.0]])
    assert np.allclose(to_central_image(wrapped, inside), inside)


def test_neighbours_and_matrix_agree(wrapped):
    m = neighbour_matrix(wrapped)
    assert m.shape == (57, 57) and not m.diagonal().any()
    for c in range(57):
        assert sorted(neighbours(wrapped, c)) == np.flatnonzero(m[c]).tolist()
        assert neighbours(wrapped, f"cell{c}") == neighbours(wrapped, c)
    with pytest.raises(ValueError, match="cell57"):
        neighbours(wrapped, 57)


def test_backhaul_path_latency_is_sum_of_hops(mec_graph):
    path, lat, cap = backhaul_path(mec_graph, "site3", "mec0")
    assert path == ["site3", "core", "site5", "mec0"]
    assert lat == pytest.approx(2e-3 + 2e-3 + 0.5e-3)
    assert cap == pytest.approx(300e6)
    path, lat, cap = backhaul_path(mec_graph, "cell10", "cmec")
    assert path == ["cell10", "site3", "core", "cmec"]
    assert lat == pytest.approx(2e-3 + 3e-3) and cap == pytest.approx(1e9)
    path, lat, _ = backhaul_path(mec_graph, "site0", "mec1")
    assert path == ["site0", "mec1"] and lat == pytest.approx(0.1e-3)
    with pytest.raises(ValueError, match="nope"):
        backhaul_path(mec_graph, "site0", "nope")


def test_site_server_paths_table(mec_graph):
    servers, lat, cap = site_server_paths(mec_graph)
    assert servers == ["mec0", "mec1", "cmec"] == mec_servers(mec_graph, include_core=True)
    assert mec_servers(mec_graph) == ["mec0", "mec1"]
    assert lat.shape == cap.shape == (7, 3)
    for i in range(7):
        for j, s in enumerate(servers):
            _, l, c = backhaul_path(mec_graph, f"site{i}", s)
            assert lat[i, j] == l and cap[i, j] == c
    assert lat[5, 0] == pytest.approx(0.5e-3) and lat[0, 2] == pytest.approx(5e-3)


def test_summary_counts(mec_graph):
    s = summary(mec_graph)
    assert (s["sites"], s["cells"], s["mec_servers"], s["core_mec"], s["routers"]) == (7, 21, 2, 1, 1)
    assert s["backhaul_links"] == 7 + 2 + 1
    assert s["neighbours_symmetric"] is True and s["min_neighbours_per_cell"] >= 6
    m = neighbour_matrix(mec_graph)
    assert s["mean_neighbours_per_cell"] == pytest.approx(m.sum() / 21)
    assert s["neighbour_edges"] == m.sum() // 2
    assert s["area"] == area(mec_graph) and s["isd_m"] == 500.0
