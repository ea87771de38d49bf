"""Path loss (WINNER+ C2/B1, TR 38.901 UMa/UMi), LOS probabilities and shadowing σ, vectorized over distances.

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

from dataclasses import dataclass
from typing import Callable

import numpy as np

# TR 38.901 Table 7.4.1-1 note 1 takes c = 3.0e8 m/s (WINNER+ likewise); kept so breakpoints match the tables.
C_M_PER_S = 3.0e8
# Effective environment height of TR 38.901 Table 7.4.1-1 note 1 for hUT < 13 m; WINNER+ uses h' = h − 1 m too.
H_E_M = 1.0
D_MIN_M = 10.0
D_MAX_M = 5000.0
# WINNER+ D5.3 Table 4-1: C2 and B1 NLOS fits are specified from 50 m.
NLOS_NOMINAL_MIN_M = {"winner_c2": 50.0, "winner_b1": 50.0, "uma": D_MIN_M, "umi": D_MIN_M, "tr36942_macro": D_MIN_M}


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


def _los_38901(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m, a_near, b_near, far_slope):
    _check_heights(h_bs_m, h_ue_m)
    d = _clamped(d_m, d_min_m, d_max_m)
    h_bs = np.asarray(h_bs_m, dtype=float)
    h_ue = np.asarray(h_ue_m, dtype=float)
    d3 = _d3d(d, h_bs, h_ue)
    dbp = breakpoint_m(h_bs, h_ue, fc_ghz)
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


def uma_los_db(d_m, fc_ghz: float, h_bs_m=25.0, h_ue_m=1.5, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M):
    """TR 38.901 UMa LOS: 28 + 22 log d3D + 20 log fc; beyond d'BP 28 + 40 log d3D + 20 log fc − 9 log(d'BP² + Δh²)."""
    return _los_38901(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m, 28.0, 22.0, 9.0)


def uma_nlos_db(d_m, fc_ghz: float, h_bs_m=25.0, h_ue_m=1.5, d_min_m: float = D_MIN_M, d_max_m: float = D_MAX_M):
    """TR 38.901 UMa NLOS: max(PL_LOS, 13.54 + 39.08 log d3D + 20 log fc − 0.6 (hUE − 1.5))."""
    los = uma_los_db(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m)
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


# --- model table --------------------------------------------------------------------------------

PathlossFn = Callable[..., np.ndarray]

# LOS-probability laws (PathlossModel.p_los_law): the two are algebraically equal but are evaluated
# as their documents write them, so the compiled kernel (emulator.radio.linkbudget) can match each exactly.
P_LOS_NONE, P_LOS_WINNER, P_LOS_38901 = 0, 1, 2


@dataclass(frozen=True)
class PathlossModel:
    """One propagation family: LOS/NLOS formulas, LOS probability, shadowing σ and decorrelation."""

    name: str
    los_db: PathlossFn
    nlos_db: PathlossFn
    p_los_law: int  # P_LOS_NONE (always NLOS), P_LOS_WINNER or P_LOS_38901
    p_los_d1_m: float
    p_los_d2_m: float
    sigma_los_db: float
    # WINNER+ C2 LOS has a larger σ beyond the breakpoint (6 dB) than before it (4 dB).
    sigma_los_far_db: float
    sigma_nlos_db: float
    decorrelation_los_m: float
    decorrelation_nlos_m: float

    def p_los(self, d_m: np.ndarray) -> np.ndarray:
        """LOS probability per link at 2-D distances `d_m` (clamped to the formulas' range)."""
        if self.p_los_law == P_LOS_WINNER:
            return p_los_winner(d_m, self.p_los_d1_m, self.p_los_d2_m)
        if self.p_los_law == P_LOS_38901:
            return p_los_38901(d_m, self.p_los_d1_m, self.p_los_d2_m)
        return np.zeros(np.shape(d_m))

    def sigma_db(self, d_m: np.ndarray, los: np.ndarray, fc_ghz: float, h_bs_m, h_ue_m) -> np.ndarray:
        """Shadowing std-dev [dB] per link for LOS state `los` (bool array)."""
        d = np.asarray(d_m, dtype=float)
        if self.sigma_los_far_db != self.sigma_los_db:
            sigma_los = np.where(d <= breakpoint_m(h_bs_m, h_ue_m, fc_ghz), self.sigma_los_db, self.sigma_los_far_db)
        else:
            sigma_los = self.sigma_los_db
        return np.where(los, sigma_los, self.sigma_nlos_db)


MODELS: dict[str, PathlossModel] = {
    # WINNER+ D5.3 Table 4-1 / 4-3 (σ) and WINNER II D1.1.2 Table 4-5 (decorrelation: C2 LOS 45 m, NLOS 50 m).
    "winner_c2": PathlossModel("winner_c2", winner_c2_los_db, winner_c2_nlos_db,
                               P_LOS_WINNER, 18.0, 63.0, 4.0, 6.0, 8.0, 45.0, 50.0),
    # WINNER+ B1: σ 3 dB LOS, 4 dB NLOS (hexagonal layout); WINNER II D1.1.2 decorrelation 3 m LOS, 13 m NLOS.
    "winner_b1": PathlossModel("winner_b1", winner_b1_los_db, winner_b1_nlos_db,
                               P_LOS_WINNER, 18.0, 36.0, 3.0, 3.0, 4.0, 3.0, 13.0),
    # TR 38.901 Table 7.4.1-1 (σ) and Table 7.5-6 (SF correlation distance: UMa LOS 37 m, NLOS 50 m).
    "uma": PathlossModel("uma", uma_los_db, uma_nlos_db,
                         P_LOS_38901, 18.0, 63.0, 4.0, 4.0, 6.0, 37.0, 50.0),
    # TR 38.901 UMi-Street Canyon: σ 4 / 7.82 dB; SF correlation 10 m LOS, 13 m NLOS.
    "umi": PathlossModel("umi", umi_los_db, umi_nlos_db,
                         P_LOS_38901, 18.0, 36.0, 4.0, 4.0, 7.82, 10.0, 13.0),
    # TR 36.814 Table A.2.1.1-2 case 1: σ 8 dB, 50 m decorrelation, no LOS state (P_LOS = 0).
    "tr36942_macro": PathlossModel("tr36942_macro", tr36942_macro_db, tr36942_macro_db,
                                   P_LOS_NONE, 0.0, 0.0, 8.0, 8.0, 8.0, 50.0, 50.0),
}


@dataclass(frozen=True)
class SiteCoefficients:
    """A model's formulas reduced, per site, to PL = a + b·log10(x) pieces (what the compiled kernel evaluates).

    LOS is a_near + b_near·log10 x while the 2-D distance is ≤ breakpoint_m, else a_far + b_far·log10 x;
    NLOS is a_nlos + b_nlos·log10 x, floored at the LOS value when `nlos_floor_los` (TR 38.901).
    x is the clamped 2-D distance, or the 3-D one sqrt(d² + Δh²) when `use_d3` (TR 38.901).
    Everything that depends only on the carrier and the heights is folded into a and b once.
    """

    use_d3: bool
    nlos_floor_los: bool
    breakpoint_m: np.ndarray  # (n_site,)
    dh2_m2: np.ndarray  # (n_site,) (h_BS − h_UE)²
    a_near: np.ndarray  # (n_site,)
    b_near: float
    a_far: np.ndarray  # (n_site,)
    b_far: float
    a_nlos: np.ndarray  # (n_site,)
    b_nlos: np.ndarray  # (n_site,)


def site_coefficients(model: PathlossModel, fc_ghz: float, h_bs_m: np.ndarray, h_ue_m: float) -> SiteCoefficients:
    """Per-site constants of `model` at carrier `fc_ghz` for BS heights `h_bs_m` (n_site,) and UE height `h_ue_m`."""
    h_bs = np.asarray(h_bs_m, dtype=float).reshape(-1)
    _check_heights(h_bs, h_ue_m)
    h_ue = float(h_ue_m)
    lf = np.log10(fc_ghz)
    bp = breakpoint_m(h_bs, h_ue, fc_ghz)
    dh2 = (h_bs - h_ue) ** 2
    if model.name in ("winner_c2", "winner_b1"):
        if model.name == "winner_c2":
            near_a, near_b, far_a = 25.0 + 20.0 * lf, 26.0, 9.27 + 6.0 * lf
            far_h = 14.0
        else:
            near_a, near_b, far_a = 27.0 + 20.0 * lf, 22.7, 7.56 + 2.7 * lf
            far_h = 17.3
        b, c = winner_nlos_bc(fc_ghz)
        a_far = far_a - far_h * np.log10(h_bs - H_E_M) - far_h * np.log10(h_ue - H_E_M)
        return SiteCoefficients(False, False, bp, dh2, np.full_like(h_bs, near_a), near_b, a_far, 40.0,
                                5.83 * np.log10(h_bs) + b + c * lf, 44.9 - 6.55 * np.log10(h_bs))
    if model.name in ("uma", "umi"):
        if model.name == "uma":
            a, near_b, far_slope = 28.0, 22.0, 9.0
            nlos_a, nlos_b = 13.54 + 20.0 * lf - 0.6 * (h_ue - 1.5), 39.08
        else:
            a, near_b, far_slope = 32.4, 21.0, 9.5
            nlos_a, nlos_b = 22.4 + 21.3 * lf - 0.3 * (h_ue - 1.5), 35.3
        near_a = a + 20.0 * lf
        return SiteCoefficients(True, True, bp, dh2, np.full_like(h_bs, near_a), near_b,
                                near_a - far_slope * np.log10(bp * bp + dh2), 40.0,
                                np.full_like(h_bs, nlos_a), np.full_like(h_bs, nlos_b))
    if model.name == "tr36942_macro":
        dh = ROOFTOP_DELTA_H_M
        slope = 40.0 * (1.0 - 4e-3 * dh)
        # log10(d / 1000 m) = log10 d − 3; one law for LOS and NLOS, so the breakpoint never splits it.
        a0 = -3.0 * slope - 18.0 * np.log10(dh) + 21.0 * np.log10(fc_ghz * 1000.0) + 80.0
        const = np.full_like(h_bs, a0)
        return SiteCoefficients(False, False, np.full_like(h_bs, np.inf), dh2, const, slope, const, slope,
                                const, np.full_like(h_bs, slope))
    raise ValueError(f"no kernel coefficients for path-loss model {model.name!r}")


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
) -> tuple[np.ndarray, np.ndarray]:
    """(path loss [dB], shadowing σ [dB]) per link.

    With `los` (bool array) each link takes its drawn state. With `los=None` the path loss is the
    LOS-probability-weighted mean of the LOS and NLOS values in dB, and σ the matching
    root-mean-square mix sqrt(P·σ_LOS² + (1 − P)·σ_NLOS²) — a deterministic "expected" link.
    """
    pl_los = model.los_db(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m)
    pl_nlos = model.nlos_db(d_m, fc_ghz, h_bs_m, h_ue_m, d_min_m, d_max_m)
    d = _clamped(d_m, d_min_m, d_max_m)
    if los is not None:
        los = np.asarray(los, dtype=bool)
        return np.where(los, pl_los, pl_nlos), model.sigma_db(d, los, fc_ghz, h_bs_m, h_ue_m)
    p = model.p_los(d)
    s_los = model.sigma_db(d, np.ones(d.shape, dtype=bool), fc_ghz, h_bs_m, h_ue_m)
    s_nlos = model.sigma_nlos_db
    return p * pl_los + (1.0 - p) * pl_nlos, np.sqrt(p * s_los**2 + (1.0 - p) * s_nlos**2)
