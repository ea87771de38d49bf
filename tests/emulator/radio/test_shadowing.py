"""Shadowing maps: unit variance, exponential correlation at d_corr, inter-site correlation, continuity."""
import math

import numpy as np
import pytest

from emulator.radio.shadowing import Grid, SiteFields, correlated_fields, make_grid

DC = 50.0
BOUNDS = (-1500.0, 1500.0, -1500.0, 1500.0)


@pytest.fixture(scope="module")
def fields():
    grid = make_grid(BOUNDS, DC)
    return SiteFields(grid, DC, 16, 0.5, np.random.default_rng(7))


def _pair_points(rng, n, sep):
    p = rng.uniform(-1400, 1400, (n, 2))
    ang = rng.uniform(0, 2 * np.pi, n)
    return p, p + sep * np.column_stack([np.cos(ang), np.sin(ang)])


def test_sigma_is_one_within_sampling_error(fields):
    z = fields.sample(np.random.default_rng(1).uniform(-1400, 1400, (3000, 2)))
    # 16 maps × ~1000 effectively independent points: the std error of the std is ~1 %.
    assert z.mean() == pytest.approx(0.0, abs=0.05)
    assert z.std() == pytest.approx(1.0, abs=0.04)


def test_correlation_at_the_decorrelation_distance_is_e_minus_1(fields):
    a, b = _pair_points(np.random.default_rng(2), 6000, DC)
    za, zb = fields.sample(a), fields.sample(b)
    r = np.mean([np.corrcoef(za[:, k], zb[:, k])[0, 1] for k in range(fields.num_sites)])
    assert r == pytest.approx(math.exp(-1.0), abs=0.04)
    a, b = _pair_points(np.random.default_rng(3), 6000, 2 * DC)
    za, zb = fields.sample(a), fields.sample(b)
    r2 = np.mean([np.corrcoef(za[:, k], zb[:, k])[0, 1] for k in range(fields.num_sites)])
    assert r2 == pytest.approx(math.exp(-2.0), abs=0.04)


def test_inter_site_correlation(fields):
    z = fields.sample(np.random.default_rng(4).uniform(-1400, 1400, (3000, 2)))
    c = np.corrcoef(z.T)
    off = c[~np.eye(fields.num_sites, dtype=bool)]
    assert off.mean() == pytest.approx(0.5, abs=0.05)


def test_values_evolve_continuously_and_repeat_at_the_same_place(fields):
    rng = np.random.default_rng(5)
    p = rng.uniform(-1400, 1400, (2000, 2))
    z0 = fields.sample(p)
    z1 = fields.sample(p + np.array([1.0, 0.0]))
    # exp(−1/50) = 0.98: a 1 m step is nearly the same value, never a fresh draw (which would give 0).
    assert np.corrcoef(z0.ravel(), z1.ravel())[0, 1] > 0.97
    assert np.array_equal(fields.sample(p), z0)


def test_interpolation_keeps_unit_variance_between_coarse_grid_points():
    # On a coarse grid (d_corr / 2) plain bilinear values at cell centres would have variance 0.70;
    # the normalisation must restore 1.
    grid = Grid(-2000.0, -2000.0, DC / 2, 161, 161)
    f = SiteFields(grid, DC, 16, 0.0, np.random.default_rng(8))
    i, j = np.meshgrid(np.arange(0, 160, 3), np.arange(0, 160, 3))
    centres = np.column_stack([grid.x0 + (i.ravel() + 0.5) * grid.res, grid.y0 + (j.ravel() + 0.5) * grid.res])
    assert f.sample(centres).std() == pytest.approx(1.0, abs=0.04)


def test_raw_grid_fields_have_the_exponential_covariance():
    grid = Grid(0.0, 0.0, 10.0, 300, 300)
    z = correlated_fields(grid, DC, 8, np.random.default_rng(9)).astype(float)
    assert z.std() == pytest.approx(1.0, abs=0.03)
    lag = 5  # 50 m along x
    r = np.mean([np.corrcoef(z[k, :, :-lag].ravel(), z[k, :, lag:].ravel())[0, 1] for k in range(8)])
    assert r == pytest.approx(math.exp(-1.0), abs=0.03)


def test_same_generator_state_gives_the_same_maps():
    grid = make_grid((0.0, 500.0, 0.0, 500.0), DC)
    a = SiteFields(grid, DC, 3, 0.5, np.random.default_rng(11)).fields
    b = SiteFields(grid, DC, 3, 0.5, np.random.default_rng(11)).fields
    c = SiteFields(grid, DC, 3, 0.5, np.random.default_rng(12)).fields
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_grid_coarsens_to_respect_the_point_budget(caplog):
    g = make_grid((0.0, 10_000.0, 0.0, 10_000.0), DC, 8.0, max_points=10_000)
    assert g.nx * g.ny <= 10_000
    assert g.x0 + g.res * (g.nx - 1) >= 10_000.0 and g.y0 + g.res * (g.ny - 1) >= 10_000.0
    assert "coarser" in caplog.text


def test_queries_outside_the_grid_use_the_edge(fields):
    g = fields.grid
    edge = fields.sample(np.array([[g.x0, 0.0]]))
    far = fields.sample(np.array([[g.x0 - 1e6, 0.0]]))
    assert np.all(np.isfinite(far)) and far == pytest.approx(edge, abs=1e-6)
