"""Path loss (WINNER+ C2/B1, TR 38.901 UMa/UMi/RMa, TR 36.942), LOS probabilities and shadowing σ, vectorized over distances.

Each propagation family is one `PathlossModel` record in `MODELS`: its formulas, LOS law, σ,
decorrelation, validity ranges and the per-site coefficients the compiled kernel evaluates. The
scenario schema (`radio.pathloss`) and every table that used to be keyed by name derive from it.

Conventions: distances are 2-D BS–UE distances in metres (the 38.901 formulas derive
d3D = sqrt(d² + (hBS − hUE)²) themselves); `fc_ghz` is the carrier in GHz as the tables use it;
results are in dB. Heights and distances broadcast like numpy arrays.

Validity (why clamping): every formula here is a fit valid over a distance range, and beyond it
the fit is not physics. Distances are clamped to [d_min_m, d_max_m] — 10 m to 5 km by default,
the lower and upper bounds WINNER+ gives for C2/B1 LOS and TR 38.901 Table 7.4.1-1 gives for
UMa/UMi — and `out_of_range` counts the links that were clamped so callers can report them.
WINNER+ specifies its C2 and B1 NLOS fits from 50 m only; here they are used down to the same
10 m clamp (the 3GPP drop rules put UEs at 35 m from a site, and the NLOS value stays above the
LOS value there), and `NLOS_NOMINAL_MIN_M` lets callers count links in that extended band.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import numpy as np

# TR 38.901 Table 7.4.1-1 note 1 takes c = 3.0e8 m/s (WINNER+ likewise); kept so breakpoints match the tables.
C_M_PER_S = 3.0e8
# Effective environment height of TR 38.901 Table 7.4.1-1 note 1 for hUT < 13 m; WINNER+ uses h' = h − 1 m too.
H_E_M = 1.0
D_MIN_M = 10.0
D_MAX_M = 5000.0


def _clamped(d: np.ndarray | float, d_min_m: float, d_max_m: float) -> np.ndarray:
    arr = np.asarray(d, dtype=float)
    if np.isnan(arr).any():
        raise ValueError("path loss asked for a NaN distance")
    return np.clip(arr, d_min_m, d_max_m)


def out_of_range(d: np.ndarray, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M) -> tuple[int, int]:
    """(links below d_min_m, links above d_max_m): how many distances the formulas clamp."""
    arr = np.asarray(d, dtype=float)
    return int(np.count_nonzero(arr < d_min_m)), int(np.count_nonzero(arr > d_max_m))


def breakpoint_m(h_bs_m, h_ue_m, fc_ghz: float, h_e_m: float = H_E_M) -> np.ndarray:
    """Breakpoint distance d'BP = 4·h'BS·h'UE·fc/c with h' = h − h_e (WINNER+, TR 38.901 note 1)."""
    return 4.0 * (np.asarray(h_bs_m, dtype=float) - h_e_m) * (np.asarray(h_ue_m, dtype=float) - h_e_m) * fc_ghz * 1e9 / C_M_PER_S


def _check_heights(h_bs_m, h_ue_m) -> None:
    if np.any(np.asarray(h_bs_m) <= H_E_M) or np.any(np.asarray(h_ue_m) <= H_E_M):
        raise ValueError(f"antenna heights must exceed {H_E_M} m (the formulas use log10(h − 1 m))")


# --- WINNER+ urban macro C2 -------------------------------------------------------------------


def winner_c2_los_db(d_m, fc_ghz: float, h_bs_m=25.0, h_ue_m=1.5, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M):
    """WINNER+ C2 LOS: 26 log d + 25 + 20 log fc before d'BP, 40 log d + 9.27 − 14 log h'BS − 14 log h'UE + 6 log fc after."""
    _check_heights(h_bs_m, h_ue_m)
    d = _clamped(d_m, d_min_m, d_max_m)
    h_bs = np.asarray(h_bs_m, dtype=float)
    h_ue = np.asarray(h_ue_m, dtype=float)
    near = 26.0 * np.log10(d) + 25.0 + 20.0 * np.log10(fc_ghz)
    far = (40.0 * np.log10(d) + 9.27 - 14.0 * np.log10(h_bs - H_E_M) - 14.0 * np.log10(h_ue - H_E_M)
           + 6.0 * np.log10(fc_ghz))
    return np.where(d <= breakpoint_m(h_bs, h_ue, fc_ghz), near, far)


def winner_nlos_bc(fc_ghz: float) -> tuple[float, float]:
    """(B, C) of the WINNER+ C2 NLOS formula for the carrier's band (0.45–1.5, 1.5–2, 2–6 GHz)."""
    if not 0.45 <= fc_ghz <= 6.0:
        raise ValueError(f"WINNER+ NLOS is specified for 0.45–6 GHz, got {fc_ghz} GHz")
    if fc_ghz < 1.5:
        return 16.33, 26.16
    if fc_ghz < 2.0:
        return 14.78, 34.97
    return 18.38, 23.0


def winner_c2_nlos_db(d_m, fc_ghz: float, h_bs_m=25.0, h_ue_m=1.5, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M):
    """WINNER+ C2 NLOS: (44.9 − 6.55 log hBS) log d + 5.83 log hBS + B + C log fc."""
    _check_heights(h_bs_m, h_ue_m)
    d = _clamped(d_m, d_min_m, d_max_m)
    h_bs = np.asarray(h_bs_m, dtype=float)
    b, c = winner_nlos_bc(fc_ghz)
    return (44.9 - 6.55 * np.log10(h_bs)) * np.log10(d) + 5.83 * np.log10(h_bs) + b + c * np.log10(fc_ghz)


def p_los_winner(d_m, d1_m: float = 18.0, d2_m: float = 63.0, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M):
    """WINNER+ LOS probability min(d1/d, 1)·(1 − exp(−d/d2)) + exp(−d/d2); C2: d2 = 63 m, B1: d2 = 36 m."""
    d = _clamped(d_m, d_min_m, d_max_m)
    e = np.exp(-d / d2_m)
    return np.minimum(d1_m / d, 1.0) * (1.0 - e) + e


# --- WINNER+ urban micro B1 -------------------------------------------------------------------


def winner_b1_los_db(d_m, fc_ghz: float, h_bs_m=10.0, h_ue_m=1.5, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M):
    """WINNER+ B1 LOS: 22.7 log d + 27 + 20 log fc before d'BP, 40 log d + 7.56 − 17.3 log h'BS − 17.3 log h'UE + 2.7 log fc after."""
    _check_heights(h_bs_m, h_ue_m)
    d = _clamped(d_m, d_min_m, d_max_m)
    h_bs = np.asarray(h_bs_m, dtype=float)
    h_ue = np.asarray(h_ue_m, dtype=float)
    near = 22.7 * np.log10(d) + 27.0 + 20.0 * np.log10(fc_ghz)
    far = (40.0 * np.log10(d) + 7.56 - 17.3 * np.log10(h_bs - H_E_M) - 17.3 * np.log10(h_ue - H_E_M)
           + 2.7 * np.log10(fc_ghz))
    return np.where(d <= breakpoint_m(h_bs, h_ue, fc_ghz), near, far)


def winner_b1_nlos_db(d_m, fc_ghz: float, h_bs_m=10.0, h_ue_m=1.5, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M):
    """WINNER+ B1 NLOS on a hexagonal layout: the C2 NLOS expression with the micro BS height (10 m)."""
    return winner_c2_nlos_db(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m)


# --- TR 38.901 UMa and UMi-Street Canyon -------------------------------------------------------


def _d3d(d: np.ndarray, h_bs: np.ndarray, h_ue: np.ndarray) -> np.ndarray:
    return np.sqrt(d * d + (h_bs - h_ue) ** 2)


def _los_38901(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m, a_near, b_near, far_slope, h_e_m=H_E_M):
    _check_heights(h_bs_m, h_ue_m)
    d = _clamped(d_m, d_min_m, d_max_m)
    h_bs = np.asarray(h_bs_m, dtype=float)
    h_ue = np.asarray(h_ue_m, dtype=float)
    d3 = _d3d(d, h_bs, h_ue)
    dbp = breakpoint_m(h_bs, h_ue, fc_ghz, h_e_m)
    near = a_near + b_near * np.log10(d3) + 20.0 * np.log10(fc_ghz)
    far = (a_near + 40.0 * np.log10(d3) + 20.0 * np.log10(fc_ghz)
           - far_slope * np.log10(dbp * dbp + (h_bs - h_ue) ** 2))
    return np.where(d <= dbp, near, far)


def _nlos_38901(los, d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m, a, b, c, h_slope):
    """38.901 NLOS: max(PL_LOS, a + b log d3D + c log fc − h_slope (hUE − 1.5))."""
    d = _clamped(d_m, d_min_m, d_max_m)
    h_ue = np.asarray(h_ue_m, dtype=float)
    d3 = _d3d(d, np.asarray(h_bs_m, dtype=float), h_ue)
    nlos = a + b * np.log10(d3) + c * np.log10(fc_ghz) - h_slope * (h_ue - 1.5)
    return np.maximum(los, nlos)


def uma_los_db(d_m, fc_ghz: float, h_bs_m=25.0, h_ue_m=1.5, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M,
               h_e_m=H_E_M):
    """TR 38.901 UMa LOS: 28 + 22 log d3D + 20 log fc; beyond d'BP 28 + 40 log d3D + 20 log fc − 9 log(d'BP² + Δh²).

    `h_e_m`: the effective environment height of note 1 (1 m, or per link from `uma_effective_height_m`).
    """
    return _los_38901(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m, 28.0, 22.0, 9.0, h_e_m)


def uma_nlos_db(d_m, fc_ghz: float, h_bs_m=25.0, h_ue_m=1.5, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M,
                h_e_m=H_E_M):
    """TR 38.901 UMa NLOS: max(PL_LOS, 13.54 + 39.08 log d3D + 20 log fc − 0.6 (hUE − 1.5))."""
    los = uma_los_db(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m, h_e_m)
    return _nlos_38901(los, d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m, 13.54, 39.08, 20.0, 0.6)


def umi_los_db(d_m, fc_ghz: float, h_bs_m=10.0, h_ue_m=1.5, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M):
    """TR 38.901 UMi-Street Canyon LOS: 32.4 + 21 log d3D + 20 log fc; beyond d'BP 32.4 + 40 log d3D + 20 log fc − 9.5 log(d'BP² + Δh²)."""
    return _los_38901(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m, 32.4, 21.0, 9.5)


def umi_nlos_db(d_m, fc_ghz: float, h_bs_m=10.0, h_ue_m=1.5, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M):
    """TR 38.901 UMi-Street Canyon NLOS: max(PL_LOS, 35.3 log d3D + 22.4 + 21.3 log fc − 0.3 (hUE − 1.5))."""
    los = umi_los_db(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m)
    return _nlos_38901(los, d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m, 22.4, 35.3, 21.3, 0.3)


def p_los_38901(d_m, d1_m: float = 18.0, d2_m: float = 63.0, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M):
    """TR 38.901 Table 7.4.2-1 LOS probability for hUE ≤ 13 m: 1 up to d1, else d1/d + exp(−d/d2)(1 − d1/d)."""
    d = _clamped(d_m, d_min_m, d_max_m)
    ratio = np.minimum(d1_m / d, 1.0)
    return ratio + np.exp(-d / d2_m) * (1.0 - ratio)


# --- TR 36.942 / 36.814 case-1 macro (the 3GPP LTE calibration model) --------------------------

# TR 36.942 4.5.2: BS antenna height above the average rooftop, 15 m.
ROOFTOP_DELTA_H_M = 15.0


def tr36942_macro_db(d_m, fc_ghz: float, h_bs_m=None, h_ue_m=None, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M):
    """TR 36.942 urban macro: 40(1 − 4e−3·Δh) log10(R km) − 18 log10 Δh + 21 log10(f MHz) + 80, Δh = 15 m.

    At 2 GHz this is the TR 36.814 case-1 law 128.1 + 37.6 log10(R km). NLOS only; BS and UE heights
    do not enter (the model fixes Δh above rooftop), they are accepted for a uniform signature.
    """
    d = _clamped(d_m, d_min_m, d_max_m)
    dh = ROOFTOP_DELTA_H_M
    return (40.0 * (1.0 - 4e-3 * dh) * np.log10(d / 1000.0) - 18.0 * np.log10(dh)
            + 21.0 * np.log10(fc_ghz * 1000.0) + 80.0)


# --- TR 38.901 RMa -----------------------------------------------------------------------------

# TR 38.901 Table 7.4.1-1 note 5: RMa default average building height h = 5 m and street width W = 20 m.
RMA_BUILDING_HEIGHT_M = 5.0
RMA_STREET_WIDTH_M = 20.0
# RMa LOS is specified up to 10 km (NLOS up to 5 km; beyond it the NLOS fit is extended, like WINNER+ below 50 m).
RMA_D_MAX_M = 10_000.0


def rma_breakpoint_m(h_bs_m, h_ue_m, fc_ghz: float) -> np.ndarray:
    """RMa breakpoint d_BP = 2π·hBS·hUT·fc/c (TR 38.901 Table 7.4.1-1 note 5: actual heights, no h_E)."""
    return 2.0 * np.pi * np.asarray(h_bs_m, dtype=float) * np.asarray(h_ue_m, dtype=float) * fc_ghz * 1e9 / C_M_PER_S


def _rma_pl1(d3, fc_ghz: float, h: float):
    """RMa PL1 = 20 log10(40π d3D fc/3) + min(0.03 h^1.72, 10) log10 d3D − min(0.044 h^1.72, 14.77) + 0.002 log10(h)·d3D."""
    return (20.0 * np.log10(40.0 * np.pi * d3 * fc_ghz / 3.0) + min(0.03 * h**1.72, 10.0) * np.log10(d3)
            - min(0.044 * h**1.72, 14.77) + 0.002 * np.log10(h) * d3)


def rma_los_db(d_m, fc_ghz: float, h_bs_m=35.0, h_ue_m=1.5, d_min_m: float = D_MIN_M, d_max_m: float = RMA_D_MAX_M,
               h_bldg_m: float = RMA_BUILDING_HEIGHT_M):
    """TR 38.901 RMa LOS: PL1(d3D) up to d_BP (2-D distance), PL1(d_BP) + 40 log10(d3D/d_BP) beyond.

    PL1(d_BP) is evaluated at d3D = d_BP, as ns-3 does (its published RMa test values are met to 1e-4 dB).
    Valid 10 m – 10 km, hBS 10–150 m, hUT 1–10 m (the record's ranges, enforced by the scenario schema).
    """
    d = _clamped(d_m, d_min_m, d_max_m)
    h_bs = np.asarray(h_bs_m, dtype=float)
    h_ue = np.asarray(h_ue_m, dtype=float)
    d3 = _d3d(d, h_bs, h_ue)
    dbp = rma_breakpoint_m(h_bs, h_ue, fc_ghz)
    near = _rma_pl1(d3, fc_ghz, h_bldg_m)
    far = _rma_pl1(dbp, fc_ghz, h_bldg_m) + 40.0 * np.log10(d3 / dbp)
    return np.where(d <= dbp, near, far)


def rma_nlos_db(d_m, fc_ghz: float, h_bs_m=35.0, h_ue_m=1.5, d_min_m: float = D_MIN_M, d_max_m: float = RMA_D_MAX_M,
                h_bldg_m: float = RMA_BUILDING_HEIGHT_M, street_w_m: float = RMA_STREET_WIDTH_M):
    """TR 38.901 RMa NLOS: max(PL_LOS, 161.04 − 7.1 log10 W + 7.5 log10 h − (24.37 − 3.7 (h/hBS)²) log10 hBS
    + (43.42 − 3.1 log10 hBS)(log10 d3D − 3) + 20 log10 fc − (3.2 (log10 11.75 hUT)² − 4.97))."""
    los = rma_los_db(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m, h_bldg_m)
    d = _clamped(d_m, d_min_m, d_max_m)
    h_bs = np.asarray(h_bs_m, dtype=float)
    h_ue = np.asarray(h_ue_m, dtype=float)
    d3 = _d3d(d, h_bs, h_ue)
    nlos = (_rma_nlos_const(fc_ghz, h_bs, h_ue, h_bldg_m, street_w_m)
            + (43.42 - 3.1 * np.log10(h_bs)) * np.log10(d3))
    return np.maximum(los, nlos)


def _rma_nlos_const(fc_ghz, h_bs, h_ue, h_bldg_m=RMA_BUILDING_HEIGHT_M, street_w_m=RMA_STREET_WIDTH_M):
    """The part of RMa NLOS that does not depend on distance (the −3 of (log10 d3D − 3) folded in)."""
    return (161.04 - 7.1 * np.log10(street_w_m) + 7.5 * np.log10(h_bldg_m)
            - (24.37 - 3.7 * (h_bldg_m / h_bs) ** 2) * np.log10(h_bs) - 3.0 * (43.42 - 3.1 * np.log10(h_bs))
            + 20.0 * np.log10(fc_ghz) - (3.2 * np.log10(11.75 * h_ue) ** 2 - 4.97))


def p_los_rma(d_m, d_min_m: float = D_MIN_M, d_max_m: float = RMA_D_MAX_M):
    """TR 38.901 Table 7.4.2-1 RMa LOS probability: 1 up to 10 m, else exp(−(d − 10)/1000)."""
    d = _clamped(d_m, d_min_m, d_max_m)
    return np.where(d <= 10.0, 1.0, np.exp(-(d - 10.0) / 1000.0))


def uma_height_los_factor(d_m, h_ue_m) -> np.ndarray:
    """TR 38.901 Table 7.4.2-1 UMa: P_LOS is multiplied by 1 + C'(hUT)·(5/4)(d/100)³ exp(−d/150) beyond 18 m,
    C'(hUT) = ((hUT − 13)/10)^1.5 for 13 < hUT ≤ 23 m, 0 below. Returns the factor (≥ 1)."""
    d = np.asarray(d_m, dtype=float)
    c = uma_c_prime(h_ue_m)
    return 1.0 + c * np.where(d > 18.0, 1.25 * (d / 100.0) ** 3 * np.exp(-d / 150.0), 0.0)


def uma_effective_height_m(d_m, h_ue_m, u, h_e_alt_m) -> np.ndarray:
    """TR 38.901 Table 7.4.1-1 note 1 (UMa): h_E = 1 m with probability 1/(1 + C(d2D, hUT)), else h_e_alt_m
    (a draw from U{12, 15, …, hUT − 1.5}); C = C'(hUT)·(5/4)(d2D/100)³ exp(−d2D/150) beyond 18 m.

    `u` is the link's uniform draw (fixed per UE–site link, so h_E changes only as C does with distance).
    """
    d = np.asarray(d_m, dtype=float)
    c = uma_c_prime(h_ue_m) * np.where(d > 18.0, 1.25 * (d / 100.0) ** 3 * np.exp(-d / 150.0), 0.0)
    return np.where(np.asarray(u) < 1.0 / (1.0 + c), H_E_M, h_e_alt_m)


def uma_c_prime(h_ue_m) -> np.ndarray:
    """C'(hUT) of TR 38.901 Table 7.4.2-1 (UMa): 0 for hUT ≤ 13 m, ((hUT − 13)/10)^1.5 above."""
    h = np.asarray(h_ue_m, dtype=float)
    return np.where(h > 13.0, np.maximum(h - 13.0, 0.0) / 10.0, 0.0) ** 1.5


# --- model table --------------------------------------------------------------------------------

PathlossFn = Callable[..., np.ndarray]

# LOS-probability laws (PathlossModel.p_los_law): WINNER and 38.901 are algebraically equal but are
# evaluated as their documents write them, so the compiled kernel (emulator.radio.linkbudget) can match each exactly.
P_LOS_NONE, P_LOS_WINNER, P_LOS_38901, P_LOS_RMA = 0, 1, 2, 3


@dataclass(frozen=True)
class SiteCoefficients:
    """A model's formulas reduced to PL = a + b·log10(x) (+ c·x) pieces per (UE, site) (what the compiled kernel evaluates).

    LOS is a_near + b_near·log10 x + c_near·x while the 2-D distance is ≤ breakpoint_m, else a_far + b_far·log10 x;
    NLOS is a_nlos + b_nlos·log10 x, floored at the LOS value when `nlos_floor_los` (TR 38.901).
    x is the clamped 2-D distance, or the 3-D one sqrt(d² + Δh²) when `use_d3` (TR 38.901).
    Everything that depends only on the carrier and the heights is folded into a and b once. Arrays are
    (n_site,) for one UE height, or broadcast to (n_ue, n_site) when `h_ue_m` is an (n_ue, 1) column.
    """

    use_d3: bool
    nlos_floor_los: bool
    breakpoint_m: np.ndarray
    dh2_m2: np.ndarray  # (h_BS − h_UE)²
    a_near: np.ndarray
    b_near: float
    a_far: np.ndarray
    b_far: float
    a_nlos: np.ndarray
    b_nlos: np.ndarray
    c_near: float = 0.0  # dB per metre of x (RMa's 0.002·log10(h)·d3D term); 0 elsewhere
    far_slope: float = 0.0  # 38.901 UMa/UMi: a_far = a_near − far_slope·log10(d_BP² + Δh²) (for a per-link h_E)


def _full(shape, v) -> np.ndarray:
    return np.broadcast_to(np.asarray(v, dtype=float), shape).copy()


def _coef_winner(fc_ghz, h_bs, h_ue, *, near_a0, near_b, far_a0, far_fc, far_h) -> SiteCoefficients:
    """WINNER+ C2/B1: near/far LOS in the 2-D distance, NLOS the C2 law (hexagonal-layout B1 uses it too)."""
    _check_heights(h_bs, h_ue)
    lf = np.log10(fc_ghz)
    shape = np.broadcast_shapes(h_bs.shape, np.shape(h_ue))
    bp = _full(shape, breakpoint_m(h_bs, h_ue, fc_ghz))
    b, c = winner_nlos_bc(fc_ghz)
    a_far = far_a0 + far_fc * lf - far_h * np.log10(h_bs - H_E_M) - far_h * np.log10(h_ue - H_E_M)
    return SiteCoefficients(False, False, bp, _full(shape, (h_bs - h_ue) ** 2), _full(shape, near_a0 + 20.0 * lf),
                            near_b, _full(shape, a_far), 40.0, _full(shape, 5.83 * np.log10(h_bs) + b + c * lf),
                            _full(shape, 44.9 - 6.55 * np.log10(h_bs)))


def _coef_38901(fc_ghz, h_bs, h_ue, *, a, near_b, far_slope, nlos_a, nlos_b, nlos_fc, h_slope) -> SiteCoefficients:
    """TR 38.901 UMa / UMi-Street Canyon (h_E = 1 m): LOS near/far and NLOS in d3D, NLOS floored at LOS."""
    _check_heights(h_bs, h_ue)
    lf = np.log10(fc_ghz)
    shape = np.broadcast_shapes(h_bs.shape, np.shape(h_ue))
    bp = breakpoint_m(h_bs, h_ue, fc_ghz)
    dh2 = (h_bs - h_ue) ** 2
    near_a = a + 20.0 * lf
    return SiteCoefficients(True, True, _full(shape, bp), _full(shape, dh2), _full(shape, near_a), near_b,
                            _full(shape, near_a - far_slope * np.log10(bp * bp + dh2)), 40.0,
                            _full(shape, nlos_a + nlos_fc * lf - h_slope * (h_ue - 1.5)), _full(shape, nlos_b),
                            far_slope=far_slope)


def _coef_rma(fc_ghz, h_bs, h_ue) -> SiteCoefficients:
    """TR 38.901 RMa: PL1 = a + b log10 d3D + c d3D; PL2 = PL1(d_BP) + 40 log10(d3D/d_BP); NLOS floored at LOS."""
    h = RMA_BUILDING_HEIGHT_M
    shape = np.broadcast_shapes(h_bs.shape, np.shape(h_ue))
    bp = rma_breakpoint_m(h_bs, h_ue, fc_ghz)
    near_a = 20.0 * np.log10(40.0 * np.pi * fc_ghz / 3.0) - min(0.044 * h**1.72, 14.77)
    near_b = 20.0 + min(0.03 * h**1.72, 10.0)
    c_near = 0.002 * np.log10(h)
    pl_bp = near_a + near_b * np.log10(bp) + c_near * bp
    return SiteCoefficients(True, True, _full(shape, bp), _full(shape, (h_bs - h_ue) ** 2), _full(shape, near_a),
                            near_b, _full(shape, pl_bp - 40.0 * np.log10(bp)), 40.0,
                            _full(shape, _rma_nlos_const(fc_ghz, h_bs, h_ue)),
                            _full(shape, 43.42 - 3.1 * np.log10(h_bs)), c_near)


def _coef_tr36942(fc_ghz, h_bs, h_ue) -> SiteCoefficients:
    """TR 36.942 macro: one law for LOS and NLOS (log10(d/1000 m) = log10 d − 3), so the breakpoint never splits it."""
    dh = ROOFTOP_DELTA_H_M
    slope = 40.0 * (1.0 - 4e-3 * dh)
    a0 = -3.0 * slope - 18.0 * np.log10(dh) + 21.0 * np.log10(fc_ghz * 1000.0) + 80.0
    shape = np.broadcast_shapes(h_bs.shape, np.shape(h_ue))
    const = _full(shape, a0)
    return SiteCoefficients(False, False, _full(shape, np.inf), _full(shape, (h_bs - h_ue) ** 2), const, slope,
                            const.copy(), slope, const.copy(), _full(shape, slope))


@dataclass(frozen=True)
class PathlossModel:
    """One propagation family: formulas, LOS law, shadowing σ, decorrelation, validity and kernel coefficients.

    The scenario schema's `radio.pathloss` names, carrier and UE-height checks and the compiled
    kernel's constants all come from these records; a new family is one new entry in MODELS.
    """

    name: str
    los_db: PathlossFn
    nlos_db: PathlossFn
    p_los_law: int  # P_LOS_NONE (always NLOS), P_LOS_WINNER, P_LOS_38901 or P_LOS_RMA
    p_los_d1_m: float
    p_los_d2_m: float
    sigma_los_db: float
    # WINNER+ C2 and 38.901 RMa LOS have a larger σ beyond the breakpoint than before it.
    sigma_los_far_db: float
    sigma_nlos_db: float
    decorrelation_los_m: float
    decorrelation_nlos_m: float
    # (fc, h_bs (n_site,), h_ue scalar or (n_ue, 1)) -> SiteCoefficients
    coefficients: Callable[..., SiteCoefficients] = field(repr=False, default=None)
    carrier_range_ghz: tuple[float, float] = (0.5, 100.0)
    ue_height_range_m: tuple[float, float] = (1.5, 13.0)
    d_max_m: float = D_MAX_M
    # Links between the distance clamp and this are NLOS outside the fit's nominal range (counted, not refused).
    nlos_nominal_min_m: float = D_MIN_M
    # TR 38.901 UMa: P_LOS grows with C'(hUT) for UEs above 13 m.
    height_dependent_los: bool = False
    # Upper bound of the O2I indoor 2-D distance d_2D-in (TR 38.901 7.4.3.1: 25 m UMa/UMi, 10 m RMa).
    o2i_indoor_max_m: float = 25.0
    # d_BP(h_bs, h_ue, fc): where LOS σ switches (WINNER+ C2, RMa); TR 38.901 note 1 form unless RMa's own.
    breakpoint_fn: Callable[..., np.ndarray] = breakpoint_m

    def p_los(self, d_m: np.ndarray, h_ue_m=None) -> np.ndarray:
        """LOS probability per link at 2-D distances `d_m` (clamped to the formulas' range); `h_ue_m` for UMa above 13 m."""
        if self.p_los_law == P_LOS_WINNER:
            return p_los_winner(d_m, self.p_los_d1_m, self.p_los_d2_m)
        if self.p_los_law == P_LOS_38901:
            p = p_los_38901(d_m, self.p_los_d1_m, self.p_los_d2_m)
            if self.height_dependent_los and h_ue_m is not None:
                p = p * uma_height_los_factor(_clamped(d_m, D_MIN_M, self.d_max_m), h_ue_m)
            return p
        if self.p_los_law == P_LOS_RMA:
            return p_los_rma(d_m, D_MIN_M, self.d_max_m)
        return np.zeros(np.shape(d_m))

    def sigma_db(self, d_m: np.ndarray, los: np.ndarray, fc_ghz: float, h_bs_m, h_ue_m) -> np.ndarray:
        """Shadowing std-dev [dB] per link for LOS state `los` (bool array)."""
        d = np.asarray(d_m, dtype=float)
        if self.sigma_los_far_db != self.sigma_los_db:
            bp = self.breakpoint_fn(h_bs_m, h_ue_m, fc_ghz)
            sigma_los = np.where(d <= bp, self.sigma_los_db, self.sigma_los_far_db)
        else:
            sigma_los = self.sigma_los_db
        return np.where(los, sigma_los, self.sigma_nlos_db)

    def site_coefficients(self, fc_ghz: float, h_bs_m: np.ndarray, h_ue_m) -> SiteCoefficients:
        """Kernel coefficients for BS heights (n_site,) and a UE height (scalar, or (n_ue, 1) per UE)."""
        h_bs = np.asarray(h_bs_m, dtype=float).reshape(-1)
        h_ue = h_ue_m if np.ndim(h_ue_m) else float(h_ue_m)
        return self.coefficients(fc_ghz, h_bs, h_ue)


MODELS: dict[str, PathlossModel] = {
    # WINNER+ D5.3 Table 4-1 / 4-3 (σ) and WINNER II D1.1.2 Table 4-5 (decorrelation: C2 LOS 45 m, NLOS 50 m);
    # NLOS fits from 50 m (D5.3 Table 4-1); 0.45–6 GHz.
    "winner_c2": PathlossModel("winner_c2", winner_c2_los_db, winner_c2_nlos_db,
                               P_LOS_WINNER, 18.0, 63.0, 4.0, 6.0, 8.0, 45.0, 50.0,
                               partial(_coef_winner, near_a0=25.0, near_b=26.0, far_a0=9.27, far_fc=6.0, far_h=14.0),
                               (0.45, 6.0), nlos_nominal_min_m=50.0),
    # WINNER+ B1: σ 3 dB LOS, 4 dB NLOS (hexagonal layout); WINNER II D1.1.2 decorrelation 3 m LOS, 13 m NLOS.
    "winner_b1": PathlossModel("winner_b1", winner_b1_los_db, winner_b1_nlos_db,
                               P_LOS_WINNER, 18.0, 36.0, 3.0, 3.0, 4.0, 3.0, 13.0,
                               partial(_coef_winner, near_a0=27.0, near_b=22.7, far_a0=7.56, far_fc=2.7, far_h=17.3),
                               (0.45, 6.0), nlos_nominal_min_m=50.0),
    # TR 38.901 Table 7.4.1-1 (σ, hUT 1.5–22.5 m) and Table 7.5-6 (SF correlation distance: UMa LOS 37 m, NLOS 50 m).
    "uma": PathlossModel("uma", uma_los_db, uma_nlos_db,
                         P_LOS_38901, 18.0, 63.0, 4.0, 4.0, 6.0, 37.0, 50.0,
                         partial(_coef_38901, a=28.0, near_b=22.0, far_slope=9.0, nlos_a=13.54, nlos_b=39.08,
                                 nlos_fc=20.0, h_slope=0.6),
                         ue_height_range_m=(1.5, 22.5), height_dependent_los=True),
    # TR 38.901 UMi-Street Canyon: σ 4 / 7.82 dB; SF correlation 10 m LOS, 13 m NLOS; hUT 1.5–22.5 m.
    "umi": PathlossModel("umi", umi_los_db, umi_nlos_db,
                         P_LOS_38901, 18.0, 36.0, 4.0, 4.0, 7.82, 10.0, 13.0,
                         partial(_coef_38901, a=32.4, near_b=21.0, far_slope=9.5, nlos_a=22.4, nlos_b=35.3,
                                 nlos_fc=21.3, h_slope=0.3),
                         ue_height_range_m=(1.5, 22.5)),
    # TR 38.901 RMa: σ 4 dB (PL1) / 6 dB (PL2) LOS, 8 dB NLOS; Table 7.5-6 SF correlation 37 m LOS, 120 m NLOS;
    # 0.5–30 GHz, hUT 1–10 m, LOS to 10 km; O2I indoor distance up to 10 m (7.4.3.1).
    "rma": PathlossModel("rma", rma_los_db, rma_nlos_db,
                         P_LOS_RMA, 10.0, 1000.0, 4.0, 6.0, 8.0, 37.0, 120.0, _coef_rma,
                         (0.5, 30.0), (1.0, 10.0), d_max_m=RMA_D_MAX_M, o2i_indoor_max_m=10.0,
                         breakpoint_fn=rma_breakpoint_m),
    # TR 36.814 Table A.2.1.1-2 case 1: σ 8 dB, 50 m decorrelation, no LOS state (P_LOS = 0). Hata-derived;
    # 3GPP applies it at 900 MHz and 2 GHz (TR 36.942), so it is not offered beyond 3 GHz.
    "tr36942_macro": PathlossModel("tr36942_macro", tr36942_macro_db, tr36942_macro_db,
                                   P_LOS_NONE, 0.0, 0.0, 8.0, 8.0, 8.0, 50.0, 50.0, _coef_tr36942, (0.45, 3.0)),
}


def site_coefficients(model: PathlossModel, fc_ghz: float, h_bs_m: np.ndarray, h_ue_m) -> SiteCoefficients:
    """Per-site constants of `model` at carrier `fc_ghz` for BS heights `h_bs_m` (n_site,) and UE height(s) `h_ue_m`."""
    return model.site_coefficients(fc_ghz, h_bs_m, h_ue_m)


def get_model(name: str) -> PathlossModel:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown path-loss model {name!r}; known: {', '.join(MODELS)}") from None


def link_pathloss_db(
    model: PathlossModel,
    d_m: np.ndarray,
    fc_ghz: float,
    h_bs_m,
    h_ue_m,
    los: np.ndarray | None = None,
    d_min_m: float = D_MIN_M,
    d_max_m: float = D_MAX_M,
    p_los: np.ndarray | None = None,
    **model_kw,
) -> tuple[np.ndarray, np.ndarray]:
    """(path loss [dB], shadowing σ [dB]) per link.

    With `los` (bool array) each link takes its drawn state. With `los=None` the path loss is the
    LOS-probability-weighted mean of the LOS and NLOS values in dB, and σ the matching
    root-mean-square mix sqrt(P·σ_LOS² + (1 − P)·σ_NLOS²) — a deterministic "expected" link; `p_los`
    overrides P (e.g. an indoor UE's, taken on the outdoor distance); `model_kw` go to the model's formulas
    (UMa: h_e_m per link).
    """
    pl_los = model.los_db(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m, **model_kw)
    pl_nlos = model.nlos_db(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m, **model_kw)
    d = _clamped(d_m, d_min_m, d_max_m)
    if los is not None:
        los = np.asarray(los, dtype=bool)
        return np.where(los, pl_los, pl_nlos), model.sigma_db(d, los, fc_ghz, h_bs_m, h_ue_m)
    p = model.p_los(d) if p_los is None else p_los
    s_los = model.sigma_db(d, np.ones(d.shape, dtype=bool), fc_ghz, h_bs_m, h_ue_m)
    s_nlos = model.sigma_nlos_db
    return p * pl_los + (1.0 - p) * pl_nlos, np.sqrt(p * s_los**2 + (1.0 - p) * s_nlos**2)
