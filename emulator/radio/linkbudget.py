"""Compiled link budget: received power of every UE from every cell, per (UE, site) pair then per cell.

The numpy reference is `RadioModel.evaluate` (one readable array expression per term); this kernel
computes the same quantities without temporaries the size of the whole problem and without
recomputing per-site constants. Per UE: its bilinear cell on the LOS and shadowing grids. Per
(UE, site): nearest wrap-around image, distance, LOS probability and state, path loss, shadowing,
direction, and the received power at the boresight gain. Per (UE, cell): the antenna pattern.
Constants that depend only on the carrier and heights are folded once, at construction
(`emulator.radio.pathloss.site_coefficients`).

Why it is shaped the way it is: UEs go in blocks of UE_BLOCK, and within a block every stage is
a flat loop over the block's pairs (or UE–cell links) with per-pair constants laid out alongside
("tiles"), no branches and no library calls, so that LLVM vectorizes it; exp, log and atan2 come
from `emulator.radio.vecmath` for that reason. The one exception is the rare LOS decision that
needs erfc, done in a separate scalar pass (see los_bracket).

Results equal the reference to rounding (relative differences ~1e-14 in rx_w, tested at 1e-12):
sums are folded in a different order and the elementary functions differ by a few ulp; LOS
states, nearest images and clamps are decided by the same comparisons on the same values.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from emulator.radio.pathloss import (C_M_PER_S, D_MIN_M, P_LOS_NONE, P_LOS_RMA, P_LOS_WINNER, site_coefficients,
                                     uma_c_prime)
from emulator.radio.shadowing import SiteFields, bilinear_cell, normal_cdf_kernel
from emulator.radio.vecmath import vatan2_deg, vexp, vlog

if TYPE_CHECKING:
    from emulator.radio.model import RadioModel

# UEs per block: a block's scratch (≤ 64 UEs × 57 cells) stays in L1/L2.
UE_BLOCK = 64
# Per-site table rows (positions for the nearest-image search).
S_X, S_Y = range(2)
# Per-pair tile rows, pair i = b·n_site + s of a block: site s's constants repeated for every UE b.
# With a per-UE population (heights, indoor distance, O2I loss) the tile holds every UE's pairs and the
# kernel copies each block's part into scratch; without one it is the same UE_BLOCK tile for every block.
# T_HE_U / T_HE_ALT: TR 38.901 UMa note 1 per link, the uniform that keeps h_E = 1 m and the other h_E.
(T_H_BS, T_BREAKPOINT, T_DH2, T_A_NEAR, T_A_FAR, T_A_NLOS, T_B_NLOS, T_H_UE, T_D_IN, T_LOSS_DB, T_C_PRIME,
 T_HE_U, T_HE_ALT) = range(13)
N_TILE = 13
# Per-link tile rows, link j = b·n_cell + c of a block: cell c's constants repeated for every UE b.
# Pattern scale is 12/θ3dB² (0 = no horizontal pattern), max attenuation Am [dB] (0 likewise).
(L_AZIMUTH, L_PATTERN_SCALE, L_MAX_ATT) = range(3)
# Scalar parameters, one float64 vector.
(P_D_MIN, P_D_MAX, P_UNUSED, P_B_NEAR, P_B_FAR, P_D1, P_D2, P_SIGMA_LOS, P_SIGMA_LOS_FAR, P_SIGMA_NLOS,
 P_SIGMA_FIXED, P_C_NEAR, P_TX_W, P_GAIN_DBI, P_TILT, P_V_BEAMWIDTH, P_V_SLA, P_CAP,
 P_NLOS_NOMINAL_MIN, P_LOS_X0, P_LOS_Y0, P_LOS_RES, P_LOS_RHO1, P_LOS_RHO2,
 P_SH_X0, P_SH_Y0, P_SH_RES, P_SH_RHO1, P_SH_RHO2, P_ARRAY_ROWS, P_ARRAY_PSI_SCALE, P_ARRAY_SIN_TILT,
 P_FC_GHZ, P_FAR_SLOPE) = range(34)
N_PAR = 34
# Integer flags and grid sizes, one int64 vector.
(F_P_LOS_LAW, F_USE_D3, F_NLOS_FLOOR_LOS, F_LOS_DRAW, F_SHADOWING, F_SIGMA_FIXED, F_TILT,
 F_LOS_NX, F_LOS_NY, F_SH_NX, F_SH_NY, F_PER_UE, F_HEIGHT_LOS, F_LINEAR, F_ARRAY, F_ELEVATION) = range(16)
N_FLAG = 16
# Validity counters the kernel returns, in this order.
C_BELOW_MIN, C_ABOVE_MAX, C_NLOS_EXTENDED = range(3)

_SQRT2 = math.sqrt(2.0)
_C_M_PER_S = C_M_PER_S
# 10^(x/10) = exp(x·ln10/10).
_DB_TO_NEPER = math.log(10.0) / 10.0
_LN10 = math.log(10.0)

# Φ(z) tabulated at z = PHI_Z0 + k / PHI_STEPS_PER_UNIT: 1,025 values, 8 kB, stays in L1.
PHI_Z0 = -8.0
PHI_STEPS_PER_UNIT = 64.0
PHI_POINTS = 1025
# Far above the rounding of z and of Φ (1e-15): a decision from the table is never one the exact test would flip.
PHI_MARGIN = 1e-12


def phi_table() -> np.ndarray:
    """Φ at the PHI_* grid points, by the reference's own kernel (so the bracket holds Φ exactly as it evaluates)."""
    z = PHI_Z0 + np.arange(PHI_POINTS, dtype=np.float64)[None, :] / PHI_STEPS_PER_UNIT
    out = np.empty_like(z)
    normal_cdf_kernel(z, out)
    return out[0]


# A module constant, so numba compiles it in: LLVM vectorizes reads from a constant table, not from an
# argument array it cannot prove apart from the arrays the loop writes.
PHI_TABLE = phi_table()


@njit(cache=True, inline="always", error_model="numpy")
def los_bracket(z: float, p_los: float) -> tuple[bool, bool]:
    """(LOS, decided) for the reference's test Φ(z) < p_los, without erfc; when not decided, erfc must tell.

    Φ is increasing, so Φ(z_k) ≤ Φ(z) ≤ Φ(z_k+1) for the table points around z: when p_los lies
    outside that bracket (by PHI_MARGIN) the answer is known; inside it (~0.5 % of links) it is not.
    Φ > 0 everywhere, so a zero LOS probability is NLOS at once.
    """
    t = (z - PHI_Z0) * PHI_STEPS_PER_UNIT
    inside = (t >= 0.0) & (t < PHI_POINTS - 1.0)
    k = np.int64(min(max(t, 0.0), PHI_POINTS - 2.0))
    sure_los = inside & (p_los > PHI_TABLE[k + 1] + PHI_MARGIN)
    sure_nlos = (p_los <= 0.0) | (inside & (p_los < PHI_TABLE[k] - PHI_MARGIN))
    return sure_los, sure_los | sure_nlos


@njit(cache=True, inline="always", error_model="numpy")
def horizontal_loss_db(off_boresight_deg: float, pattern_scale: float) -> float:
    """12 (θ/θ3dB)² = θ² · pattern_scale with θ folded into [−180°, 180°) (antenna.horizontal_attenuation_db before its floor).

    The offset must lie in [−540°, 180°] (an azimuth in [−180°, 180°] minus a boresight in [0°, 360°)),
    where one ±360° fold, done with selects rather than branches, is the reference's floored modulo.
    """
    theta = off_boresight_deg
    theta = theta - 360.0 if theta >= 180.0 else theta
    theta = theta + 360.0 if theta < -180.0 else theta
    return (theta * theta) * pattern_scale


@njit(cache=True, error_model="numpy")
def _pair_geometry(x, y, nb, offsets, site, dxs, dys, best, dist) -> bool:
    """Vector from the nearest image of every site to the block's UEs (x[b], y[b]), and its length; False on a non-finite position.

    The same comparisons as topology.hexgrid's kernel (ties go to the lowest image index), with the
    loop over images outside the loop over sites, so that the latter vectorizes.
    """
    n_site = site.shape[1]
    for b in range(nb):
        px = x[b]
        py = y[b]
        if not (math.isfinite(px) and math.isfinite(py)):
            return False
        # The UE's row as views: indices from 0 need no negative-index wraparound, so the loops vectorize.
        ux = dxs[b * n_site:(b + 1) * n_site]
        uy = dys[b * n_site:(b + 1) * n_site]
        ub = best[b * n_site:(b + 1) * n_site]
        for s in range(n_site):
            bx = px - site[S_X, s]
            by = py - site[S_Y, s]
            ux[s] = bx
            uy[s] = by
            ub[s] = bx * bx + by * by
        for k in range(1, offsets.shape[0]):
            ox = offsets[k, 0]
            oy = offsets[k, 1]
            for s in range(n_site):
                cx = (px - site[S_X, s]) - ox
                cy = (py - site[S_Y, s]) - oy
                d2 = cx * cx + cy * cy
                closer = d2 < ub[s]
                ub[s] = min(d2, ub[s])
                ux[s] = cx if closer else ux[s]
                uy[s] = cy if closer else uy[s]
    for i in range(nb * n_site):
        dist[i] = math.sqrt(dxs[i] * dxs[i] + dys[i] * dys[i])
    return True


@njit(cache=True, error_model="numpy")
def _sample_maps(x, y, nb, fields, x0, y0, res, nx, ny, rho1, rho2, cell_i, cell_j, weight, out) -> None:
    """out[b·n_site + s] = unit-variance bilinear value of site s's map at the block's UE (x[b], y[b]) (as SiteFields.sample).

    Two passes, grid cells and weights first (a loop that vectorizes), then the reads: the reads of
    different UEs are then short and independent, so several cache misses are in flight at once.
    """
    n_site = fields.shape[2]
    for b in range(nb):
        i, j, w00, w10, w01, w11, inv = bilinear_cell(x[b], y[b], x0, y0, res, nx, ny, rho1, rho2)
        cell_i[b] = i
        cell_j[b] = j
        weight[0, b] = w00
        weight[1, b] = w10
        weight[2, b] = w01
        weight[3, b] = w11
        weight[4, b] = inv
    for b in range(nb):
        i = cell_i[b]
        j = cell_j[b]
        w00 = weight[0, b]
        w10 = weight[1, b]
        w01 = weight[2, b]
        w11 = weight[3, b]
        inv = weight[4, b]
        for s in range(n_site):
            out[b * n_site + s] = inv * (w00 * fields[j, i, s] + w10 * fields[j, i + 1, s]
                                         + w01 * fields[j + 1, i, s] + w11 * fields[j + 1, i + 1, s])


@njit(cache=True, error_model="numpy")
def _los_states(m, dist, z_los, tile, par, flag, log_x, p_los, los, decided) -> None:
    """Per pair: log of the path-loss distance, LOS probability, and the LOS state where the Φ table decides it.

    The LOS probability is taken at the outdoor distance d − d_in (d_in = 0 for outdoor UEs, TR 38.901 7.4.2).
    """
    d_min = par[P_D_MIN]
    d_max = par[P_D_MAX]
    d1 = par[P_D1]
    d2 = par[P_D2]
    p_law = flag[F_P_LOS_LAW]
    use_d3 = flag[F_USE_D3] != 0
    los_draw = flag[F_LOS_DRAW] != 0
    rma = p_law == P_LOS_RMA
    for i in range(m):
        dc = min(max(dist[i], d_min), d_max)
        x = math.sqrt(dc * dc + tile[T_DH2, i]) if use_d3 else dc
        log_x[i] = vlog(x)
        # The LOS-probability laws clamp to their own range as well (pathloss.p_los_*).
        dp = min(max(dc - tile[T_D_IN, i], D_MIN_M), d_max)
        # One exp per pair: exp(−d/d2) (WINNER+, 38.901) or exp(−(d − 10)/1000) (RMa, which is P_LOS itself).
        e = vexp(-(dp - d1) / d2 if rma else -dp / d2)
        ratio = min(d1 / dp, 1.0)
        p = ratio * (1.0 - e) + e if p_law == P_LOS_WINNER else ratio + e * (1.0 - ratio)
        p = e if rma else p
        p = p if p_law != P_LOS_NONE else 0.0
        p_los[i] = p
    if flag[F_HEIGHT_LOS] != 0:
        # TR 38.901 UMa above 13 m: P_LOS · (1 + C'(hUT)·(5/4)(d/100)³ exp(−d/150)) beyond 18 m, on the outdoor
        # distance; and note 1's h_E: 1 m with probability 1/(1 + C(d2D, hUT)), else the link's other h_E, which
        # moves the breakpoint (the block's tile is a scratch copy in this mode, so it is rewritten in place).
        fc_ghz = par[P_FC_GHZ]
        far_slope = par[P_FAR_SLOPE]
        for i in range(m):
            cp = tile[T_C_PRIME, i]
            if cp > 0.0:
                dc = min(max(dist[i], d_min), d_max)
                dp = min(max(dc - tile[T_D_IN, i], D_MIN_M), d_max)
                r = dp / 100.0
                g = 1.25 * (r * r * r) * vexp(-dp / 150.0) if dp > 18.0 else 0.0
                p_los[i] = p_los[i] * (1.0 + cp * g)
                r = dc / 100.0
                g = 1.25 * (r * r * r) * vexp(-dc / 150.0) if dc > 18.0 else 0.0
                if not tile[T_HE_U, i] < 1.0 / (1.0 + cp * g):
                    he = tile[T_HE_ALT, i]
                    bp = 4.0 * (tile[T_H_BS, i] - he) * (tile[T_H_UE, i] - he) * fc_ghz * 1e9 / _C_M_PER_S
                    tile[T_BREAKPOINT, i] = bp
                    tile[T_A_FAR, i] = tile[T_A_NEAR, i] - far_slope * math.log10(bp * bp + tile[T_DH2, i])
    for i in range(m):
        p = p_los[i]
        if los_draw:
            state, known = los_bracket(z_los[i], p)
        else:
            state, known = p > 0.5, True
        los[i] = state
        decided[i] = known


@njit(cache=True, error_model="numpy")
def _undecided_los(m, z_los, p_los, los, decided) -> None:
    """The LOS states the Φ table left open (~0.5 % of pairs), by the reference's exact test Φ(z) < p."""
    for i in range(m):
        if not decided[i]:
            los[i] = 0.5 * math.erfc(-z_los[i] / _SQRT2) < p_los[i]


@njit(cache=True, error_model="numpy")
def _pair_power(m, dist, dxs, dys, log_x, p_los, los, z_sh, tile, par, flag, azimuth, elevation, power, counts) -> None:
    """Per pair: path loss for the LOS state, shadowing, penetration / O2I loss → received power at the boresight gain
    (times the array factor with an array); direction (azimuth, and elevation when a pattern needs it); validity counts."""
    d_min = par[P_D_MIN]
    d_max = par[P_D_MAX]
    b_near = par[P_B_NEAR]
    b_far = par[P_B_FAR]
    c_near = par[P_C_NEAR]
    s_los = par[P_SIGMA_LOS]
    s_los_far = par[P_SIGMA_LOS_FAR]
    s_nlos = par[P_SIGMA_NLOS]
    sigma_fixed = par[P_SIGMA_FIXED]
    tx_w = par[P_TX_W]
    gain_dbi = par[P_GAIN_DBI]
    nominal = par[P_NLOS_NOMINAL_MIN]
    floor_los = flag[F_NLOS_FLOOR_LOS] != 0
    los_draw = flag[F_LOS_DRAW] != 0
    shadowing = flag[F_SHADOWING] != 0
    use_fixed = flag[F_SIGMA_FIXED] != 0
    has_elevation = flag[F_ELEVATION] != 0
    linear = flag[F_LINEAR] != 0
    below = 0
    above = 0
    extended = 0
    for i in range(m):
        d = dist[i]
        dc = min(max(d, d_min), d_max)
        lx = log_x[i]
        p = p_los[i]
        state = los[i]
        near = dc <= tile[T_BREAKPOINT, i]
        pl_near = tile[T_A_NEAR, i] + b_near * lx
        # RMa's PL1 has a term linear in d3D (0.002 log10(h)·d3D).
        pl_near = pl_near + c_near * math.sqrt(dc * dc + tile[T_DH2, i]) if linear else pl_near
        pl_los = pl_near if near else tile[T_A_FAR, i] + b_far * lx
        pl_nlos = tile[T_A_NLOS, i] + tile[T_B_NLOS, i] * lx
        pl_nlos = max(pl_los, pl_nlos) if floor_los else pl_nlos
        sig_los = s_los if near else s_los_far
        if los_draw:
            pl = pl_los if state else pl_nlos
            sigma = sig_los if state else s_nlos
        else:
            pl = p * pl_los + (1.0 - p) * pl_nlos
            sigma = math.sqrt(p * (sig_los * sig_los) + (1.0 - p) * (s_nlos * s_nlos))
        sigma = sigma_fixed if use_fixed else sigma
        pl = pl + sigma * z_sh[i] if shadowing else pl
        power[i] = tx_w * vexp((gain_dbi - (pl + tile[T_LOSS_DB, i])) * _DB_TO_NEPER)
        azimuth[i] = vatan2_deg(dys[i], dxs[i])
        if has_elevation:
            elevation[i] = vatan2_deg(tile[T_H_BS, i] - tile[T_H_UE, i], max(d, d_min))
        is_below = d < d_min
        below += is_below
        above += d > d_max
        extended += (not state) & (not is_below) & (d < nominal)
    counts[C_BELOW_MIN] += below
    counts[C_ABOVE_MAX] += above
    counts[C_NLOS_EXTENDED] += extended
    if flag[F_ARRAY] != 0:
        # Uniform vertical array steered to the electrical tilt (antenna.array_factor): sin²(Mψ/2) / (M sin²(ψ/2)).
        rows = par[P_ARRAY_ROWS]
        psi_scale = par[P_ARRAY_PSI_SCALE]
        sin_tilt = par[P_ARRAY_SIN_TILT]
        for i in range(m):
            psi = psi_scale * (sin_tilt - math.sin(math.radians(elevation[i])))
            half = math.sin(0.5 * psi)
            num = math.sin(0.5 * rows * psi)
            af = rows if abs(half) < 1e-12 else (num * num) / (rows * (half * half))
            power[i] = power[i] * af


@njit(cache=True, error_model="numpy")
def _cell_power(n_links, rx_block, link_pair, link, azimuth, elevation, power, par, flag, link_az, link_el,
                link_w) -> None:
    """rx_block[j] for the block's UE–cell links j: the pair's boresight power times the cell's pattern.

    Without a vertical pattern 10^((G − A_H − L)/10) = 10^((G − L)/10) · 10^(−min(A_H, Am)/10); with one,
    A = min(min(A_H, Am) + A_V, cap) (TR 36.814) and the power is rebuilt from the same factors.
    The pair values are first copied out per link: a loop that gathers from one argument array while
    writing another is not vectorized (LLVM cannot rule out overlap), one over contiguous copies is.
    """
    has_tilt = flag[F_TILT] != 0
    tilt = par[P_TILT]
    vbw = par[P_V_BEAMWIDTH]
    sla = par[P_V_SLA]
    cap = par[P_CAP]
    for j in range(n_links):
        i = link_pair[j]
        link_az[j] = azimuth[i]
        link_el[j] = elevation[i]
        link_w[j] = power[i]
    for j in range(n_links):
        a = min(horizontal_loss_db(link_az[j] - link[L_AZIMUTH, j], link[L_PATTERN_SCALE, j]), link[L_MAX_ATT, j])
        if has_tilt:
            t = (link_el[j] - tilt) / vbw
            a = min(a + min(12.0 * (t * t), sla), cap)
        rx_block[j] = link_w[j] * vexp(-a * _DB_TO_NEPER)


@njit(cache=True, error_model="numpy")
def link_budget_kernel(
    x: np.ndarray, y: np.ndarray, offsets: np.ndarray, site: np.ndarray, tile: np.ndarray, link_pair: np.ndarray,
    link: np.ndarray, los_fields: np.ndarray, sh_fields: np.ndarray, par: np.ndarray,
    flag: np.ndarray, rx_flat: np.ndarray, counts: np.ndarray,
) -> int:
    """rx_flat[u·n_cell + c] = P_tx/PRB · G(c → u) / (PL · SF · L_pen) for UE positions (x[u], y[u]); −1 on a non-finite position.

    offsets (K, 2) are the wrap-around image shifts, row 0 = (0, 0) (K = 1 without wrap-around);
    site (2, n_site) the site positions (S_* rows); tile (N_TILE, UE_BLOCK·n_site) the per-pair constants
    (T_* rows), or with F_PER_UE (N_TILE, n_ue·n_site), every UE's own; link_pair (UE_BLOCK·n_cell,) the pair of each UE–cell link and link (3, UE_BLOCK·n_cell) its
    constants (L_* rows); los_fields / sh_fields (ny, nx, n_site) the LOS and shadowing maps;
    par / flag the P_* and F_* parameters; counts (3,) receives the C_* validity counters.
    """
    n_ue = x.shape[0]
    n_site = site.shape[1]
    n_cell = link.shape[1] // UE_BLOCK
    m_max = UE_BLOCK * n_site
    dxs = np.empty(m_max)
    dys = np.empty(m_max)
    dist = np.empty(m_max)  # 2-D distance to the nearest image
    best = np.empty(m_max)  # its square, while the images are searched
    z_los = np.zeros(m_max)
    z_sh = np.zeros(m_max)
    log_x = np.empty(m_max)  # natural log of the path-loss distance (2-D or 3-D)
    p_los = np.empty(m_max)
    los = np.empty(m_max, dtype=np.bool_)
    decided = np.empty(m_max, dtype=np.bool_)
    azimuth = np.empty(m_max)
    elevation = np.zeros(m_max)
    power = np.empty(m_max)  # received power at the boresight gain [W]
    cell_i = np.empty(UE_BLOCK, dtype=np.int64)  # a UE's grid cell and bilinear weights (_sample_maps)
    cell_j = np.empty(UE_BLOCK, dtype=np.int64)
    weight = np.empty((5, UE_BLOCK))
    link_az = np.empty(link.shape[1])  # pair values copied out per UE–cell link (_cell_power)
    link_el = np.empty(link.shape[1])
    link_w = np.empty(link.shape[1])
    counts[:] = 0
    per_ue = flag[F_PER_UE] != 0
    block_tile = np.empty((tile.shape[0], m_max)) if per_ue else tile
    for u0 in range(0, n_ue, UE_BLOCK):
        nb = min(UE_BLOCK, n_ue - u0)
        m = nb * n_site
        if per_ue:
            t0 = u0 * n_site
            for r in range(tile.shape[0]):
                for i in range(m):
                    block_tile[r, i] = tile[r, t0 + i]
        # Block views throughout: indices from 0 need no negative-index wraparound, so loops vectorize.
        xb = x[u0:u0 + nb]
        yb = y[u0:u0 + nb]
        if not _pair_geometry(xb, yb, nb, offsets, site, dxs, dys, best, dist):
            return -1
        if flag[F_LOS_DRAW] != 0:
            _sample_maps(xb, yb, nb, los_fields, par[P_LOS_X0], par[P_LOS_Y0], par[P_LOS_RES],
                         flag[F_LOS_NX], flag[F_LOS_NY], par[P_LOS_RHO1], par[P_LOS_RHO2], cell_i, cell_j, weight, z_los)
        if flag[F_SHADOWING] != 0:
            _sample_maps(xb, yb, nb, sh_fields, par[P_SH_X0], par[P_SH_Y0], par[P_SH_RES],
                         flag[F_SH_NX], flag[F_SH_NY], par[P_SH_RHO1], par[P_SH_RHO2], cell_i, cell_j, weight, z_sh)
        _los_states(m, dist, z_los, block_tile, par, flag, log_x, p_los, los, decided)
        if flag[F_LOS_DRAW] != 0:
            _undecided_los(m, z_los, p_los, los, decided)
        _pair_power(m, dist, dxs, dys, log_x, p_los, los, z_sh, block_tile, par, flag, azimuth, elevation, power,
                    counts)
        _cell_power(nb * n_cell, rx_flat[u0 * n_cell:(u0 + nb) * n_cell], link_pair, link, azimuth, elevation, power,
                    par, flag, link_az, link_el, link_w)
    return 0


_EMPTY_MAP = np.zeros((1, 1, 1), dtype=np.float32)


class LinkBudget:
    """The constant inputs of `link_budget_kernel` for one RadioModel, folded once; call it with positions."""

    def __init__(self, rm: RadioModel):
        cfg = rm.cfg
        cells = rm.cells
        n_site = cells.num_sites
        n_cell = cells.num_cells
        self.rm = rm
        self.n_site = n_site
        self.site = np.ascontiguousarray(np.asarray(cells.site_xy, dtype=np.float64).T)
        self.offsets = (np.zeros((1, 2)) if cells.wrap_offsets is None
                        else np.ascontiguousarray(cells.wrap_offsets, dtype=np.float64))
        coef = site_coefficients(rm.model, cfg.carrier_ghz, rm.h_bs_m, rm.h_ue_m)
        per_site = self._pair_rows(coef, np.full(n_site, rm.h_ue_m), 0.0, cfg.penetration_loss_db, 0.0, 0.0, 1.0)
        self.tile = np.ascontiguousarray(np.tile(per_site, (1, UE_BLOCK)))
        self._population = None
        self._population_tile = None

        spec = rm.antenna.spec
        per_cell = np.zeros((3, n_cell))
        # Boresights in [0°, 360°), the range horizontal_loss_db folds for.
        per_cell[L_AZIMUTH] = np.mod(cells.cell_azimuth_deg, 360.0)
        if spec is not None:
            # 1-sector sites (omni cells) keep scale 0 and Am 0: their gain is the boresight gain.
            sector = ~np.asarray(cells.cell_omni, dtype=bool)
            per_cell[L_PATTERN_SCALE, sector] = 12.0 / spec.beamwidth_deg**2
            per_cell[L_MAX_ATT, sector] = spec.max_attenuation_db
        self.link = np.ascontiguousarray(np.tile(per_cell, (1, UE_BLOCK)))
        ue = np.repeat(np.arange(UE_BLOCK), n_cell)
        self.link_pair = (ue * n_site + np.tile(np.asarray(cells.cell_site, dtype=np.int64), UE_BLOCK)).astype(np.int64)
        self.n_cell = n_cell

        m = rm.model
        ant = rm.antenna
        par = np.zeros(N_PAR)
        flag = np.zeros(N_FLAG, dtype=np.int64)
        par[P_D_MIN] = cfg.min_distance_m
        par[P_D_MAX] = m.d_max_m
        par[P_B_NEAR] = coef.b_near / _LN10
        par[P_B_FAR] = coef.b_far / _LN10
        par[P_C_NEAR] = coef.c_near
        par[P_FC_GHZ] = cfg.carrier_ghz
        par[P_FAR_SLOPE] = coef.far_slope
        par[P_D1] = m.p_los_d1_m
        # A model without LOS state has no d2; any positive value keeps the (unused) exp(−d/d2) finite.
        par[P_D2] = m.p_los_d2_m if m.p_los_law != P_LOS_NONE else 1.0
        par[P_SIGMA_LOS] = m.sigma_los_db
        par[P_SIGMA_LOS_FAR] = m.sigma_los_far_db
        par[P_SIGMA_NLOS] = m.sigma_nlos_db
        par[P_TX_W] = rm.tx_w_per_prb
        par[P_GAIN_DBI] = ant.gain_dbi
        par[P_NLOS_NOMINAL_MIN] = m.nlos_nominal_min_m
        # The vertical pattern's cap: Am with a sector pattern, SLA_v with an omni one (antenna.AntennaModel).
        par[P_CAP] = spec.max_attenuation_db if spec is not None else ant.vertical_sla_db
        flag[F_P_LOS_LAW] = m.p_los_law
        flag[F_USE_D3] = coef.use_d3
        flag[F_NLOS_FLOOR_LOS] = coef.nlos_floor_los
        flag[F_LINEAR] = coef.c_near != 0.0
        if ant.downtilt_deg is not None:
            flag[F_TILT] = 1
            par[P_TILT] = ant.downtilt_deg
            par[P_V_BEAMWIDTH] = ant.vertical_beamwidth_deg
            par[P_V_SLA] = ant.vertical_sla_db
        if ant.array is not None:
            flag[F_ARRAY] = 1
            par[P_ARRAY_ROWS] = ant.array.rows
            par[P_ARRAY_PSI_SCALE] = 2.0 * math.pi * ant.array.spacing_wavelengths
            par[P_ARRAY_SIN_TILT] = math.sin(math.radians(ant.array.electrical_downtilt_deg))
        flag[F_ELEVATION] = ant.needs_elevation
        self.los_fields = self._map(rm.los_field, par, flag, P_LOS_X0, F_LOS_NX, F_LOS_DRAW)
        self.sh_fields = self._map(rm.shadowing, par, flag, P_SH_X0, F_SH_NX, F_SHADOWING)
        if rm.shadowing is not None and cfg.shadowing.sigma_db is not None:
            flag[F_SIGMA_FIXED] = 1
            par[P_SIGMA_FIXED] = cfg.shadowing.sigma_db
        self.par = par
        self.flag = flag

    def _pair_rows(self, coef, h_ue, d_in, loss_db, c_prime, he_u, he_alt) -> np.ndarray:
        """(N_TILE, k) tile rows from coefficients broadcast to k pairs (k = n_site, or n_ue·n_site flattened)."""
        rm = self.rm
        k = np.size(coef.a_near)
        rows = np.empty((N_TILE, k))
        rows[T_H_BS] = np.broadcast_to(rm.h_bs_m, np.shape(coef.a_near)).reshape(-1)
        rows[T_BREAKPOINT] = coef.breakpoint_m.reshape(-1)
        rows[T_DH2] = coef.dh2_m2.reshape(-1)
        rows[T_A_NEAR] = coef.a_near.reshape(-1)
        rows[T_A_FAR] = coef.a_far.reshape(-1)
        rows[T_A_NLOS] = coef.a_nlos.reshape(-1)
        # The kernel takes natural logs: slopes per neper of distance, b / ln 10.
        rows[T_B_NLOS] = coef.b_nlos.reshape(-1) / _LN10
        shape = np.shape(coef.a_near)
        rows[T_H_UE] = np.broadcast_to(h_ue, shape).reshape(-1)
        rows[T_D_IN] = np.broadcast_to(d_in, shape).reshape(-1)
        rows[T_LOSS_DB] = np.broadcast_to(loss_db, shape).reshape(-1)
        rows[T_C_PRIME] = np.broadcast_to(c_prime, shape).reshape(-1)
        rows[T_HE_U] = np.broadcast_to(he_u, shape).reshape(-1)
        rows[T_HE_ALT] = np.broadcast_to(he_alt, shape).reshape(-1)
        return rows

    def population_tile(self, pop) -> np.ndarray:
        """(N_TILE, n_ue·n_site) per-pair constants for a Population (cached for the last one)."""
        if pop is not self._population:
            rm = self.rm
            h = pop.h_ue_m[:, None]
            coef = site_coefficients(rm.model, rm.cfg.carrier_ghz, rm.h_bs_m, h)
            c_prime = uma_c_prime(h) if rm.model.height_dependent_los else 0.0
            # Without per-link h_E draws, u = 0 keeps h_E = 1 m on every link.
            he_u = pop.h_e_u if pop.h_e_u is not None else 0.0
            he_alt = pop.h_e_alt_m if pop.h_e_alt_m is not None else 1.0
            rows = self._pair_rows(coef, h, pop.d_in_m[:, None], rm.cfg.penetration_loss_db + pop.o2i_db[:, None],
                                   c_prime, he_u, he_alt)
            self._population_tile = np.ascontiguousarray(rows)
            self._population = pop
        return self._population_tile

    @staticmethod
    def _map(fields: SiteFields | None, par: np.ndarray, flag: np.ndarray, p0: int, f0: int, f_on: int) -> np.ndarray:
        # P_*_X0, Y0, RES, RHO1, RHO2 and F_*_NX, NY are consecutive for both maps.
        if fields is None:
            return _EMPTY_MAP
        g = fields.grid
        par[p0:p0 + 5] = (g.x0, g.y0, g.res, fields.rho1, fields.rho2)
        flag[f0:f0 + 2] = (g.nx, g.ny)
        flag[f_on] = 1
        return fields.fields

    def __call__(self, xy: np.ndarray, population=None) -> tuple[np.ndarray, np.ndarray]:
        """(rx_w (n, n_cell) [W], validity counters (3,) int64 in C_* order) for positions xy (n, 2) float64, C-contiguous.

        `population` (a Population of n UEs, or None = outdoor UEs at radio.ue_height_m) gives per-UE heights,
        indoor distances and O2I losses.
        """
        rx_w = np.empty((xy.shape[0], self.n_cell))
        counts = np.zeros(3, dtype=np.int64)
        flag = self.flag
        tile = self.tile
        if population is not None:
            if population.size != xy.shape[0]:
                raise ValueError(f"population of {population.size} UEs for {xy.shape[0]} positions")
            tile = self.population_tile(population)
            flag = flag.copy()
            flag[F_PER_UE] = 1
            flag[F_HEIGHT_LOS] = bool(np.any(tile[T_C_PRIME] > 0.0))
        # Coordinates as two contiguous vectors: the kernel's per-UE loops then read them with unit stride.
        x = np.ascontiguousarray(xy[:, 0])
        y = np.ascontiguousarray(xy[:, 1])
        if link_budget_kernel(x, y, self.offsets, self.site, tile, self.link_pair, self.link, self.los_fields,
                              self.sh_fields, self.par, flag, rx_w.reshape(-1), counts) < 0:
            raise ValueError("UE positions must be finite")
        return rx_w, counts
