"""Cell neighbour relations: k nearest cell centres, cells within a radius, or k strongest couplings.

Definitions (documented here because the paper leaves them open):
- A cell's *centre* is the point ref/3 from its site along the boresight (ref = ISD for hex
  layouts; for explicit layouts the median nearest-site distance). For a hexagonal 3-sector
  layout this is exactly the centre of the cell's hexagon (side ISD/3). Omni cells (1-sector
  sites) have their centre at the site.
- `k_nearest`: the k other cells with the nearest centres; `radius`: all other cells whose centre
  lies within radius_m of this cell's centre.
- `coupling`: the k other cells with the strongest mutual coupling proxy
      c_ij = g_i(→centre_j) + g_j(→centre_i),
      g_i(→x) = 10^(A(θ)/10) · max(d, 1 m)^-3.5,
  with d the distance from cell i's site to x, θ the angle between cell i's boresight and that
  direction, and A(θ) = −min(12·(θ/65°)², 20) dB the TR 36.942 horizontal pattern (0 dB for
  omni cells). The exponent 3.5 is the slope of the 36.942 macro path loss (35.2–37.6 dB/dec),
  so c_ij ranks pairs the way their mean mutual interference would, without shadowing or fading.
With wrap-around every distance/direction is taken to the nearest wrap-around image.
Ties are broken by cell index (distances are rounded to 1 µm, couplings to 1e-9 dB first), so
the result is deterministic across platforms. `symmetric=True` takes the union of the relation
and its transpose; each list is ordered from nearest/strongest to farthest/weakest.
"""
from __future__ import annotations

import numpy as np

from topology.config import Neighbours
from topology.hexgrid import nearest_image_displacement

# TR 36.942 §4.2.1 horizontal pattern: 65° half-power beamwidth, 20 dB front-to-back ratio.
THETA_3DB_DEG = 65.0
FRONT_TO_BACK_DB = 20.0
# Slope of the TR 36.942 macro path-loss model (37.6 dB/decade at 15 m antenna height ≈ 3.5–3.8).
COUPLING_EXPONENT = 3.5
# Keeps the coupling of co-located omni cells finite.
MIN_COUPLING_DISTANCE_M = 1.0


def antenna_pattern_db(theta_deg: np.ndarray) -> np.ndarray:
    """TR 36.942 horizontal pattern −min(12·(θ/θ3dB)², Am) in dB, θ in degrees wrapped to [−180, 180]."""
    theta = (np.asarray(theta_deg, dtype=float) + 180.0) % 360.0 - 180.0
    return -np.minimum(12.0 * (theta / THETA_3DB_DEG) ** 2, FRONT_TO_BACK_DB)


def cell_centres(
    cell_site_xy: np.ndarray, azimuth_deg: np.ndarray, omni: np.ndarray, ref_distance_m: float
) -> np.ndarray:
    """(n_cell, 2) cell centres: ref/3 along the boresight from the site (the site itself for omni cells)."""
    az = np.radians(np.asarray(azimuth_deg, dtype=float))
    reach = np.where(np.asarray(omni, dtype=bool), 0.0, ref_distance_m / 3.0)
    return np.asarray(cell_site_xy, dtype=float) + reach[:, None] * np.stack([np.cos(az), np.sin(az)], axis=1)


def centre_distances(centres_xy: np.ndarray, offsets: np.ndarray | None) -> np.ndarray:
    """(n_cell, n_cell) distances between cell centres (nearest wrap-around image)."""
    dx, dy = nearest_image_displacement(centres_xy, centres_xy, offsets)
    return np.hypot(dx, dy)


def coupling_matrix(
    cell_site_xy: np.ndarray,
    azimuth_deg: np.ndarray,
    omni: np.ndarray,
    centres_xy: np.ndarray,
    offsets: np.ndarray | None,
) -> np.ndarray:
    """(n_cell, n_cell) symmetric coupling proxy c_ij (linear, 1/m^3.5); the diagonal is 0."""
    # Row i: vectors from cell i's site (nearest image) to every cell centre j.
    dx, dy = nearest_image_displacement(centres_xy, cell_site_xy, offsets)
    dx, dy = dx.T, dy.T
    dist = np.maximum(np.hypot(dx, dy), MIN_COUPLING_DISTANCE_M)
    theta = np.degrees(np.arctan2(dy, dx)) - np.asarray(azimuth_deg, dtype=float)[:, None]
    gain_db = np.where(np.asarray(omni, dtype=bool)[:, None], 0.0, antenna_pattern_db(theta))
    g = 10.0 ** (gain_db / 10.0) * dist ** (-COUPLING_EXPONENT)
    c = g + g.T
    np.fill_diagonal(c, 0.0)
    return c


def _rank_keys(cfg: Neighbours, centres_xy, cell_site_xy, azimuth_deg, omni, offsets) -> np.ndarray:
    """Per-pair sort key (smaller = closer neighbour), +inf on the diagonal."""
    if cfg.mode == "coupling":
        c = coupling_matrix(cell_site_xy, azimuth_deg, omni, centres_xy, offsets)
        with np.errstate(divide="ignore"):
            key = -np.round(10.0 * np.log10(c), 9)
    else:
        key = np.round(centre_distances(centres_xy, offsets), 6)
    np.fill_diagonal(key, np.inf)
    return key


def neighbour_lists(
    cfg: Neighbours,
    cell_site_xy: np.ndarray,
    azimuth_deg: np.ndarray,
    omni: np.ndarray,
    centres_xy: np.ndarray,
    offsets: np.ndarray | None = None,
) -> list[list[int]]:
    """Neighbour list of every cell, nearest/strongest first, per the `neighbours` config."""
    n = len(centres_xy)
    if n == 0:
        return []
    key = _rank_keys(cfg, centres_xy, cell_site_xy, azimuth_deg, omni, offsets)
    # Stable sort: equal keys keep index order, which breaks ties by cell index.
    order = np.argsort(key, axis=1, kind="stable")
    member = np.zeros((n, n), dtype=bool)
    if cfg.mode == "radius":
        member = key <= np.round(cfg.radius_m, 6)
    else:
        k = min(cfg.k, n - 1)
        rows = np.repeat(np.arange(n), k)
        member[rows, order[:, :k].ravel()] = True
    np.fill_diagonal(member, False)
    if cfg.symmetric:
        member |= member.T
    ranked_member = np.take_along_axis(member, order, axis=1)
    return [order[i][ranked_member[i]].tolist() for i in range(n)]
