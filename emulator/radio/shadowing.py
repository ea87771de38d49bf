"""Spatially correlated log-normal shadowing (and LOS-state) maps per site, sampled continuously at UE positions.

Method (why a grid): each site owns a zero-mean, unit-variance Gaussian random field over the
area with the Gudmundson exponential autocorrelation exp(−Δd / d_corr). A UE's shadowing towards
that site is σ · z_site(x, y) in dB, so a UE that moves sees a value that changes continuously
with its position, two UEs close together see correlated values, and a UE that returns to a spot
sees the same value again — none of which a per-UE AR(1) update gives.

Fields are drawn once on a regular grid (spacing d_corr / 16 by default) by circulant embedding
(Dietrich & Newsam 1997): the exponential covariance on a periodic grid padded by 8·d_corr is
diagonalised by the 2-D FFT, and each complex FFT yields two independent fields. Between grid
points the field is interpolated bilinearly and divided by the interpolation's own standard
deviation (a closed form in the two fractional coordinates), so every position has exactly unit
variance while staying continuous. The price of that normalisation is a slightly higher
correlation at a distance than exp(−Δd/d_corr) (+0.01 at d_corr with 16 grid points per d_corr:
bilinear interpolation cannot carry the exponential model's roughness below one grid spacing).
Queries outside the grid use the nearest edge value.

Maps are indexed by the UE's own position. Under wrap-around the maps are therefore not periodic:
a UE that leaves the cluster and re-enters on the opposite side (mobility moves it to its central
image) sees one jump in shadowing there, at the cluster border only.

Inter-site correlation ρ (0.5 in 3GPP): z_site = √ρ · common + √(1 − ρ) · own_site, with one common
field and one own field per site; sectors of a site share the site's map.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numba import njit

log = logging.getLogger("ranemu.radio")  # under "ranemu": the run log records it (emulator.emulation)

# Padding of the periodic embedding in decorrelation distances: the wrapped covariance error is ≤ e^−8.
EMBED_PAD_DECORRELATIONS = 8.0


@dataclass(frozen=True)
class Grid:
    """Regular grid: nx × ny points, point (i, j) at (x0 + i·res, y0 + j·res)."""

    x0: float
    y0: float
    res: float
    nx: int
    ny: int


def make_grid(
    bounds: tuple[float, float, float, float],
    decorrelation_m: float,
    points_per_decorrelation: float = 16.0,
    max_points: int = 1 << 20,
) -> Grid:
    """Grid covering `bounds` (xmin, xmax, ymin, ymax) plus one spacing, coarsened if it would exceed max_points."""
    xmin, xmax, ymin, ymax = bounds
    res = decorrelation_m / points_per_decorrelation
    while True:
        nx = int(math.ceil((xmax - xmin) / res)) + 3
        ny = int(math.ceil((ymax - ymin) / res)) + 3
        if nx * ny <= max_points:
            break
        res *= math.sqrt(nx * ny / max_points) * 1.01
    if res > decorrelation_m / 4.0:
        log.warning(
            "shadowing grid spacing %.1f m is coarser than d_corr/4 (%.1f m) for this area; "
            "the correlation at short distances is smoothed (raise radio.shadowing.max_grid_points)",
            res, decorrelation_m / 4.0,
        )
    return Grid(xmin - res, ymin - res, res, nx, ny)


def _fast_len(n: int) -> int:
    """Smallest 2^a·3^b·5^c ≥ n (sizes the FFT handles fastest)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def _embedding_sqrt_eigenvalues(grid: Grid, decorrelation_m: float) -> tuple[np.ndarray, float]:
    pad = int(math.ceil(EMBED_PAD_DECORRELATIONS * decorrelation_m / grid.res))
    mx, my = _fast_len(grid.nx + pad), _fast_len(grid.ny + pad)
    ix = np.arange(mx)
    iy = np.arange(my)
    dx = np.minimum(ix, mx - ix) * grid.res
    dy = np.minimum(iy, my - iy) * grid.res
    cov = np.exp(-np.hypot(dy[:, None], dx[None, :]) / decorrelation_m)
    lam = np.fft.fft2(cov).real
    # Negative eigenvalues come from truncating the non-periodic covariance; they are tiny and
    # clipped, and the variance that clipping adds back is divided out below.
    lam = np.clip(lam, 0.0, None)
    variance = float(lam.sum() / lam.size)
    return np.sqrt(lam / lam.size), variance


def correlated_fields(grid: Grid, decorrelation_m: float, n_fields: int, rng: np.random.Generator) -> np.ndarray:
    """(n_fields, ny, nx) float32 unit-variance Gaussian fields with autocorrelation exp(−d/decorrelation_m)."""
    sqrt_lam, variance = _embedding_sqrt_eigenvalues(grid, decorrelation_m)
    my, mx = sqrt_lam.shape
    out = np.empty((n_fields, grid.ny, grid.nx), dtype=np.float32)
    scale = 1.0 / math.sqrt(variance)
    for k in range(0, n_fields, 2):
        xi = rng.standard_normal((my, mx)) + 1j * rng.standard_normal((my, mx))
        z = np.fft.fft2(sqrt_lam * xi)[: grid.ny, : grid.nx] * scale
        out[k] = z.real
        if k + 1 < n_fields:
            out[k + 1] = z.imag
    return out


# error_model="numpy": res > 0 and the variance ≥ ¼ here, and without Python's zero-division checks
# the loops that inline this vectorize. Numba's cache does not see edits here from the kernels that
# inline it (emulator.radio.linkbudget): delete their cached .nbi/.nbc after changing it.
@njit(cache=True, inline="always", error_model="numpy")
def bilinear_cell(
    x: float, y: float, x0: float, y0: float, res: float, nx: int, ny: int, rho1: float, rho2: float,
) -> tuple[int, int, float, float, float, float, float]:
    """(i, j, w00, w10, w01, w11, inv): grid cell, bilinear weights and 1/std of the interpolated value at (x, y).

    rho1 / rho2 are the field's correlation at one grid spacing and at √2 spacings; the bilinear
    weights w give Var = Σ w_a w_b ρ_ab, whose square root divides the interpolated value.
    Positions off the grid take the nearest edge cell's value.
    """
    fx = (x - x0) / res
    fy = (y - y0) / res
    fx = min(max(fx, 0.0), nx - 1.000001)
    fy = min(max(fy, 0.0), ny - 1.000001)
    i = int(fx)
    j = int(fy)
    tx = fx - i
    ty = fy - j
    w00 = (1.0 - tx) * (1.0 - ty)
    w10 = tx * (1.0 - ty)
    w01 = (1.0 - tx) * ty
    w11 = tx * ty
    var = (w00 * w00 + w10 * w10 + w01 * w01 + w11 * w11
           + 2.0 * rho1 * (w00 * w10 + w01 * w11 + w00 * w01 + w10 * w11)
           + 2.0 * rho2 * (w00 * w11 + w10 * w01))
    return i, j, w00, w10, w01, w11, 1.0 / math.sqrt(var)


@njit(cache=True)
def bilinear_unit_kernel(
    fields: np.ndarray, x0: float, y0: float, res: float, nx: int, ny: int,
    xq: np.ndarray, yq: np.ndarray, rho1: float, rho2: float, out: np.ndarray,
) -> None:
    """out[p, f] = bilinear value of map f (fields[:, :, f]) at (xq[p], yq[p]), rescaled to unit variance (see bilinear_cell)."""
    n_f = fields.shape[2]
    for p in range(xq.shape[0]):
        i, j, w00, w10, w01, w11, inv = bilinear_cell(xq[p], yq[p], x0, y0, res, nx, ny, rho1, rho2)
        for f in range(n_f):
            out[p, f] = inv * (w00 * fields[j, i, f] + w10 * fields[j, i + 1, f]
                               + w01 * fields[j + 1, i, f] + w11 * fields[j + 1, i + 1, f])


@njit(cache=True)
def normal_cdf_kernel(z: np.ndarray, out: np.ndarray) -> None:
    """out = Φ(z), the standard normal CDF, elementwise over 2-D arrays."""
    for a in range(z.shape[0]):
        for b in range(z.shape[1]):
            out[a, b] = 0.5 * math.erfc(-z[a, b] / math.sqrt(2.0))


class SiteFields:
    """One unit-variance correlated map per site, √ρ·common + √(1 − ρ)·own, sampled at any positions."""

    def __init__(
        self, grid: Grid, decorrelation_m: float, n_sites: int, inter_site_correlation: float,
        rng: np.random.Generator,
    ):
        if not 0.0 <= inter_site_correlation <= 1.0:
            raise ValueError(f"inter-site correlation must be in [0, 1], got {inter_site_correlation}")
        self.grid = grid
        self.decorrelation_m = float(decorrelation_m)
        raw = correlated_fields(grid, decorrelation_m, n_sites + 1, rng)
        a = np.float32(math.sqrt(inter_site_correlation))
        b = np.float32(math.sqrt(1.0 - inter_site_correlation))
        # (ny, nx, n_sites), site-minor: the maps of every site at one grid point share cache lines, so a
        # UE's lookup towards all sites touches a few lines instead of four per site.
        self.fields = np.ascontiguousarray((a * raw[0][None, :, :] + b * raw[1:]).transpose(1, 2, 0))
        self.rho1 = math.exp(-grid.res / decorrelation_m)
        self.rho2 = math.exp(-math.sqrt(2.0) * grid.res / decorrelation_m)

    @property
    def num_sites(self) -> int:
        return self.fields.shape[2]

    def sample(self, xy: np.ndarray) -> np.ndarray:
        """(n_points, n_sites) standard-normal values of each site's map at the points."""
        p = np.ascontiguousarray(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
        out = np.empty((p.shape[0], self.num_sites), dtype=np.float64)
        g = self.grid
        bilinear_unit_kernel(self.fields, g.x0, g.y0, g.res, g.nx, g.ny,
                             np.ascontiguousarray(p[:, 0]), np.ascontiguousarray(p[:, 1]),
                             self.rho1, self.rho2, out)
        return out

    def sample_uniform(self, xy: np.ndarray) -> np.ndarray:
        """(n_points, n_sites) values in (0, 1): Φ of `sample`, uniform at every point, spatially correlated."""
        z = self.sample(xy)
        out = np.empty_like(z)
        normal_cdf_kernel(z, out)
        return out
