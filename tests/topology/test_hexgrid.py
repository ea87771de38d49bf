"""Hexagonal lattice geometry: spiral order, distances, boresight tiling and wrap-around offsets."""
import itertools
import math

import numpy as np
import pytest

from topology.hexgrid import (
    full_rings,
    hex_site_xy,
    lattice_basis,
    nearest_image_displacement,
    sites_in_rings,
    spiral_axial,
    wrap_offsets,
)
from topology.neighbours import cell_centres


def hex_distance(qr):
    q, r = qr[..., 0], qr[..., 1]
    return np.maximum.reduce([np.abs(q), np.abs(r), np.abs(q + r)])


@pytest.mark.parametrize("n", [1, 2, 4, 7, 12, 19, 37, 61])
def test_site_count_and_distinct_positions(n):
    xy = hex_site_xy(n, 500.0)
    assert xy.shape == (n, 2)
    assert np.allclose(xy[0], 0.0)
    d = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() > 499.0


def test_spiral_fills_rings_in_order():
    qr = spiral_axial(sites_in_rings(3))
    ring = hex_distance(qr)
    expected = np.concatenate([[0], np.repeat([1, 2, 3], [6, 12, 18])])
    assert np.array_equal(ring, expected)
    # Consecutive sites within a ring are adjacent (the ring is walked, not jumped).
    for a, b in zip(qr[1:], qr[2:]):
        if hex_distance(a) == hex_distance(b):
            assert hex_distance(b - a) == 1


@pytest.mark.parametrize("n,isd", [(7, 500.0), (19, 500.0), (37, 1732.0), (19, 200.0)])
def test_nearest_neighbour_distance_is_isd(n, isd):
    xy = hex_site_xy(n, isd)
    d = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert np.allclose(d.min(axis=1), isd)
    # Site 0 has exactly six neighbours at ISD, at 30° + k·60°.
    nb = np.flatnonzero(np.isclose(d[0], isd))
    ang = np.sort(np.degrees(np.arctan2(xy[nb, 1], xy[nb, 0])) % 360)
    assert np.allclose(ang, [30, 90, 150, 210, 270, 330])


def test_four_sites_form_compact_cluster():
    isd = 500.0
    xy = hex_site_xy(4, isd)
    pair = sorted(math.dist(xy[i], xy[j]) for i, j in itertools.combinations(range(4), 2))
    assert np.allclose(pair, [isd] * 5 + [isd * math.sqrt(3)])


def test_three_sector_cell_centres_tile_as_hexagons():
    # Cell hexagons of side ISD/3 centred ISD/3 along 30/150/270: their centres form a hexagonal
    # lattice of spacing √3·ISD/3, every interior centre with six equidistant neighbours.
    isd = 500.0
    xy = hex_site_xy(19, isd)
    site_of = np.repeat(np.arange(19), 3)
    az = np.tile([30.0, 150.0, 270.0], 19)
    c = cell_centres(xy[site_of], az, np.zeros(57, bool), isd)
    d = np.hypot(*(c[:, None] - c[None]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    side = isd / math.sqrt(3)
    assert np.isclose(d.min(), side)
    # The three cells of site 0 and the rings around them are interior: six neighbours each.
    assert all(np.sum(np.isclose(d[i], side)) == 6 for i in range(3))


@pytest.mark.parametrize("rings", [1, 2, 3])
def test_wrap_offsets_length_and_tiling(rings):
    isd = 500.0
    n = sites_in_rings(rings)
    assert full_rings(n) == rings
    off = wrap_offsets(n, isd)
    assert off.shape == (7, 2) and np.allclose(off[0], 0)
    assert np.allclose(np.hypot(off[1:, 0], off[1:, 1]), math.sqrt(3 * rings**2 + 3 * rings + 1) * isd)
    # The cluster and its 6 images are disjoint and cover every lattice point of the next ring.
    sites = hex_site_xy(n, isd)
    images = (sites[None, :, :] + off[:, None, :]).reshape(-1, 2)
    d = np.hypot(*(images[:, None] - images[None]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() > isd * 0.99
    ring_next = spiral_axial(sites_in_rings(rings + 1))[n:].astype(float) @ lattice_basis(isd)
    hits = np.isclose(np.hypot(*(ring_next[:, None] - images[None]).transpose(2, 0, 1)), 0, atol=1e-6).sum(axis=1)
    assert np.array_equal(hits, np.ones(len(ring_next), dtype=int))


def test_wrap_offsets_reject_partial_layouts():
    with pytest.raises(ValueError, match="full-ring"):
        wrap_offsets(4, 500.0)
    assert full_rings(4) is None and full_rings(19) == 2


def test_nearest_image_displacement_matches_brute_force():
    rng = np.random.default_rng(3)
    isd = 500.0
    sites = hex_site_xy(19, isd)
    off = wrap_offsets(19, isd)
    pts = rng.uniform(-1500, 1500, size=(300, 2))
    dx, dy = nearest_image_displacement(pts, sites, off)
    brute = np.stack([pts[:, None] - (sites[None] + o) for o in off])  # (7, P, S, 2)
    dist = np.hypot(brute[..., 0], brute[..., 1])
    k = dist.argmin(axis=0)
    assert np.allclose(np.hypot(dx, dy), dist.min(axis=0))
    sel = np.take_along_axis(brute, k[None, :, :, None], axis=0)[0]
    assert np.allclose(dx, sel[..., 0]) and np.allclose(dy, sel[..., 1])
