"""Hexagonal site lattice: spiral site order, cell boresights, 3GPP wrap-around image offsets.

Geometry (why this orientation): with the 3GPP boresights 30°, 150°, 270° and cell hexagons of
side R = ISD/3 centred R along each boresight, the cell hexagons tile the plane only when the
site lattice has its neighbour directions at 30° + k·60°. The lattice basis is therefore
a1 = ISD·(cos 30°, sin 30°) and a2 = ISD·(cos 90°, sin 90°); a site with axial coordinates
(q, r) sits at q·a1 + r·a2, and its hexagonal (Voronoi) cell has circumradius ISD/√3.

Spiral order: site 0 at the origin; ring r (6r sites) starts at r·a1 (30°) and runs
counter-clockwise, so the first three ring-1 sites (30°, 90°, 150°) are mutually adjacent in the
ring and `num_sites=4` is a compact cluster (pairwise distances ISD, except ISD·√3 between the
30° and 150° sites).

Wrap-around (3GPP TR 36.814 A.2.1.1 / R1-070674 style): a full layout of R rings holds
N = 3R² + 3R + 1 sites, and copies of it shifted by S = (R+1)·a1 + R·a2 and its five 60°
rotations tile the plane without gaps or overlaps. In the lattice metric
|q·a1 + r·a2|² = ISD²·(q² + r² + q·r), so |S| = √((R+1)² + R² + R(R+1))·ISD = √(3R²+3R+1)·ISD
(√19·ISD for the 19-site layout). Distances under wrap-around are the minimum over the cluster
and its six images.
"""
from __future__ import annotations

import math

import numba
import numpy as np

# Axial unit steps, counter-clockwise from 30°: d_k points at 30° + 60°·k.
AXIAL_DIRECTIONS = np.array([(1, 0), (0, 1), (-1, 1), (-1, 0), (0, -1), (1, -1)], dtype=np.int64)

# 3GPP TR 36.942 / 36.814 three-sector boresights (0° = east, counter-clockwise).
DEFAULT_BORESIGHTS_3_DEG = (30.0, 150.0, 270.0)
DEFAULT_BORESIGHTS_1_DEG = (0.0,)


def default_boresights_deg(sectors: int) -> tuple[float, ...]:
    """Boresights for a site with `sectors` sectors when the scenario gives none."""
    if sectors == 3:
        return DEFAULT_BORESIGHTS_3_DEG
    if sectors == 1:
        return DEFAULT_BORESIGHTS_1_DEG
    raise ValueError(f"sectors must be 1 or 3, got {sectors}")


def lattice_basis(isd_m: float) -> np.ndarray:
    """(2, 2) array whose rows are the lattice vectors a1 (30°) and a2 (90°) in metres."""
    c30 = math.cos(math.radians(30.0))
    return np.array([[isd_m * c30, isd_m * 0.5], [0.0, isd_m]])


def sites_in_rings(rings: int) -> int:
    """Number of sites in a full layout of `rings` rings around the centre (3R² + 3R + 1)."""
    return 3 * rings * rings + 3 * rings + 1


def full_rings(num_sites: int) -> int | None:
    """R when `num_sites` is exactly a full R-ring layout (1, 7, 19, 37, ...), else None."""
    rings = 0
    while sites_in_rings(rings) < num_sites:
        rings += 1
    return rings if sites_in_rings(rings) == num_sites else None


def spiral_axial(num_sites: int) -> np.ndarray:
    """(num_sites, 2) int axial coordinates of the first `num_sites` sites in spiral order."""
    if num_sites < 1:
        raise ValueError(f"num_sites must be >= 1, got {num_sites}")
    out = np.zeros((num_sites, 2), dtype=np.int64)
    i = 1
    ring = 1
    while i < num_sites:
        cell = ring * AXIAL_DIRECTIONS[0]
        # From r·d0 the ring is walked along d2, d3, d4, d5, d0, d1, r steps each.
        for side in range(6):
            step = AXIAL_DIRECTIONS[(side + 2) % 6]
            for _ in range(ring):
                if i >= num_sites:
                    return out
                out[i] = cell
                i += 1
                cell = cell + step
        ring += 1
    return out


def hex_site_xy(num_sites: int, isd_m: float) -> np.ndarray:
    """(num_sites, 2) site positions in metres, spiral order, site 0 at the origin."""
    return spiral_axial(num_sites).astype(float) @ lattice_basis(isd_m)


def rotate_axial_60(qr: np.ndarray) -> np.ndarray:
    """Rotate axial coordinates by +60° about the origin: (q, r) -> (-r, q + r)."""
    qr = np.asarray(qr)
    return np.stack([-qr[..., 1], qr[..., 0] + qr[..., 1]], axis=-1)


def wrap_shift_axial(rings: int) -> np.ndarray:
    """(6, 2) axial shift vectors of the six wrap-around images of a full `rings`-ring cluster."""
    shift = np.array([rings + 1, rings], dtype=np.int64)
    out = np.empty((6, 2), dtype=np.int64)
    for k in range(6):
        out[k] = shift
        shift = rotate_axial_60(shift)
    return out


def wrap_offsets(num_sites: int, isd_m: float) -> np.ndarray:
    """(7, 2) wrap-around image offsets in metres, row 0 = (0, 0), for a full-ring layout."""
    rings = full_rings(num_sites)
    if rings is None or rings == 0:
        raise ValueError(f"wrap-around needs a full-ring layout (7, 19, 37, ... sites), got num_sites={num_sites}")
    axial = np.vstack([np.zeros((1, 2), dtype=np.int64), wrap_shift_axial(rings)])
    return axial.astype(float) @ lattice_basis(isd_m)


@numba.njit(cache=True, nogil=True)
def _nearest_image_kernel(p, a, off, dx, dy):  # pragma: no cover - compiled
    for i in range(p.shape[0]):
        for j in range(a.shape[0]):
            bx = p[i, 0] - a[j, 0]
            by = p[i, 1] - a[j, 1]
            best = bx * bx + by * by
            rx, ry = bx, by
            for k in range(1, off.shape[0]):
                cx = bx - off[k, 0]
                cy = by - off[k, 1]
                d2 = cx * cx + cy * cy
                if d2 < best:
                    best, rx, ry = d2, cx, cy
            dx[i, j] = rx
            dy[i, j] = ry


def nearest_image_displacement(
    points_xy: np.ndarray, anchors_xy: np.ndarray, offsets: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(dx, dy), each (n_points, n_anchors): vector from the nearest image of each anchor to each point.

    Images of an anchor are anchor + offsets[k] (offsets[0] must be (0, 0)); with `offsets=None`
    only the anchor itself counts. Ties between images go to the lowest image index.
    """
    p = np.ascontiguousarray(points_xy, dtype=np.float64).reshape(-1, 2)
    a = np.ascontiguousarray(anchors_xy, dtype=np.float64).reshape(-1, 2)
    if offsets is None:
        return p[:, 0:1] - a[None, :, 0], p[:, 1:2] - a[None, :, 1]
    dx = np.empty((len(p), len(a)))
    dy = np.empty((len(p), len(a)))
    _nearest_image_kernel(p, a, np.ascontiguousarray(offsets, dtype=np.float64), dx, dy)
    return dx, dy
