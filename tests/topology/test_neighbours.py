"""Neighbour relations: k nearest, radius, coupling proxy, symmetry, wrap-around."""
import math

import numpy as np
import pytest

from topology.build import build_topology
from topology.config import Neighbours, TopologyConfig
from topology.neighbours import antenna_pattern_db, coupling_matrix, neighbour_lists
from topology.query import cell_arrays, neighbour_matrix


def graph(layout=None, **nb):
    return build_topology(TopologyConfig.model_validate({"layout": layout or {"kind": "hex", "num_sites": 7}, "neighbours": nb}))


def centre_dist(G):
    ca = cell_arrays(G)
    c = ca.cell_centre_xy
    if ca.wrap_offsets is None:
        return np.hypot(*(c[:, None] - c[None]).transpose(2, 0, 1))
    return np.min([np.hypot(*(c[:, None] - c[None] - o).transpose(2, 0, 1)) for o in ca.wrap_offsets], axis=0)


def test_antenna_pattern_reference_points():
    a = antenna_pattern_db(np.array([0.0, 32.5, -32.5, 180.0, 350.0, -10.0, 100.0]))
    assert np.allclose(a, [0.0, -3.0, -3.0, -20.0, -12 * (10 / 65) ** 2, -12 * (10 / 65) ** 2, -20.0])


def test_k_nearest_asymmetric_picks_exactly_the_k_nearest_centres():
    G = graph({"kind": "hex", "num_sites": 7}, mode="k_nearest", k=4, symmetric=False)
    d = centre_dist(G)
    np.fill_diagonal(d, np.inf)
    for c in range(21):
        nb = G.nodes[f"cell{c}"]["neighbours"]
        assert len(nb) == 4 and c not in nb
        others = np.setdiff1d(np.arange(21), nb + [c])
        assert d[c, nb].max() <= d[c, others].min() + 1e-6
        assert np.all(np.diff(d[c, nb]) >= -1e-9)  # nearest first


def test_symmetric_flag_controls_symmetry():
    m_asym = neighbour_matrix(graph({"kind": "hex", "num_sites": 4}, mode="k_nearest", k=2, symmetric=False))
    assert m_asym.sum(axis=1).tolist() == [2] * 12
    assert not np.array_equal(m_asym, m_asym.T)  # on the cluster edge the relation is one-sided
    m_sym = neighbour_matrix(graph({"kind": "hex", "num_sites": 4}, mode="k_nearest", k=2, symmetric=True))
    assert np.array_equal(m_sym, m_sym.T) and np.array_equal(m_sym, m_asym | m_asym.T)


def test_neighbour_edges_record_who_listed_whom():
    G = graph({"kind": "hex", "num_sites": 4}, mode="k_nearest", k=2, symmetric=False)
    m = neighbour_matrix(G)
    edges = {(u, v): d for u, v, d in G.edges(data=True) if d["kind"] == "neighbour_of"}
    assert len(edges) == int((m | m.T).sum() // 2)
    for (u, v), d in edges.items():
        i, j = int(u[4:]), int(v[4:])
        assert set(d["listed_by"]) == {x for x, y in ((i, j), (j, i)) if m[x, y]}


def test_radius_mode_lists_all_cells_within_radius():
    r = 500.0
    G = graph({"kind": "hex", "num_sites": 7}, mode="radius", radius_m=r)
    d = centre_dist(G)
    # 500 m is itself a centre-to-centre distance of the lattice: the boundary counts as inside,
    # despite floating-point noise either side of it.
    assert np.isclose(d, r).any()
    for c in range(21):
        want = sorted(int(j) for j in np.flatnonzero(d[c] <= r + 1e-6) if j != c)
        assert sorted(G.nodes[f"cell{c}"]["neighbours"]) == want


def test_wrap_around_gives_every_cell_its_six_adjacent_cells():
    # Cell centres form a hexagonal lattice of spacing ISD/√3; under wrap-around no cell is on an edge.
    r = 500 / math.sqrt(3) * 1.01
    G = graph({"kind": "hex", "num_sites": 19, "wrap_around": True}, mode="radius", radius_m=r)
    assert all(len(G.nodes[f"cell{c}"]["neighbours"]) == 6 for c in range(57))
    G = graph({"kind": "hex", "num_sites": 19}, mode="radius", radius_m=r)
    counts = [len(G.nodes[f"cell{c}"]["neighbours"]) for c in range(57)]
    assert max(counts) == 6 and min(counts) < 6


def test_coupling_values_match_formula_for_two_facing_sites():
    site_xy = np.array([[0.0, 0.0], [1000.0, 0.0]])
    az = np.array([0.0, 90.0])
    centres = site_xy + (1000 / 3) * np.array([[1.0, 0.0], [0.0, 1.0]])
    c = coupling_matrix(site_xy, az, np.zeros(2, bool), centres, None)
    # Cell 0 toward centre 1 at (1000, 333.3): d = √(1000²+333.3²), θ = atan(1/3).
    d01 = math.hypot(1000, 1000 / 3)
    g01 = 10 ** (-min(12 * (math.degrees(math.atan2(1000 / 3, 1000)) / 65) ** 2, 20) / 10) * d01**-3.5
    # Cell 1 (boresight 90°) toward centre 0 at (333.3, 0): direction 180°, 90° off boresight → −20 dB cap? 12·(90/65)² = 23 → −20.
    d10 = 1000 - 1000 / 3
    g10 = 10 ** (-20 / 10) * d10**-3.5
    assert c[0, 1] == pytest.approx(g01 + g10, rel=1e-12) and c[1, 0] == c[0, 1] and c[0, 0] == 0


def test_coupling_mode_ranks_by_coupling_strongest_first():
    G = graph({"kind": "hex", "num_sites": 7}, mode="coupling", k=3, symmetric=False)
    ca = cell_arrays(G)
    c = coupling_matrix(ca.cell_xy, ca.cell_azimuth_deg, ca.cell_omni, ca.cell_centre_xy, None)
    for i in range(21):
        nb = G.nodes[f"cell{i}"]["neighbours"]
        assert len(nb) == 3
        others = np.setdiff1d(np.arange(21), nb + [i])
        assert c[i, nb].min() >= c[i, others].max() * (1 - 1e-9)
        assert np.all(np.diff(c[i, nb]) <= 1e-9 * c[i, nb][:-1])  # strongest first (ties within float noise)
    # The sector of site 1 that points back at site 0 (cell 4, boresight 150°) couples hardest with cell 0.
    assert G.nodes["cell0"]["neighbours"][0] == 4


def test_k_larger_than_cell_count_lists_all_other_cells():
    G = graph({"kind": "explicit", "sites": [{"x_m": 0, "y_m": 0}]}, mode="k_nearest", k=50, symmetric=False)
    assert [sorted(G.nodes[f"cell{c}"]["neighbours"]) for c in range(3)] == [[1, 2], [0, 2], [0, 1]]


def test_neighbour_lists_function_direct():
    cfg = Neighbours(mode="k_nearest", k=1, symmetric=False)
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [25.0, 0.0]])
    lists = neighbour_lists(cfg, xy, np.zeros(3), np.ones(3, bool), xy)
    assert lists == [[1], [0], [1]]
    cfg = Neighbours(mode="k_nearest", k=1, symmetric=True)
    assert neighbour_lists(cfg, xy, np.zeros(3), np.ones(3, bool), xy) == [[1], [0, 2], [1]]
