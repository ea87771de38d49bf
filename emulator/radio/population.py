"""UE population for the link budget: indoor share with TR 38.901 O2I penetration loss, and UE heights, drawn per UE.

TR 38.901 7.4.3.1 (O2I building penetration, fc in GHz):
    PL = PL_b + PL_tw + PL_in + N(0, σ_P²)
    low loss:  PL_tw = 5 − 10 log10(0.3·10^(−L_glass/10) + 0.7·10^(−L_concrete/10)),     σ_P = 4.4 dB
    high loss: PL_tw = 5 − 10 log10(0.7·10^(−L_IRRglass/10) + 0.3·10^(−L_concrete/10)),  σ_P = 6.5 dB
    L_glass = 2 + 0.2 fc, L_IRRglass = 23 + 0.3 fc, L_concrete = 5 + 4 fc (Table 7.4.3-1)
    PL_in = 0.5·d_2D-in, d_2D-in = min of two independent U(0, 25 m) draws (UMa/UMi; U(0, 10 m) for RMa).
The LOS probability of an indoor UE is evaluated on the outdoor part of the path, d_2D-out = d_2D − d_2D-in
(7.4.2); the basic path loss PL_b keeps the whole distance (d_3D-out + d_3D-in = d_3D on a straight line).
Here the O2I loss (PL_tw + PL_in + the σ_P draw) belongs to the UE: all cells see the same building.

UE heights (TR 38.901 Table 7.8-1, following TR 36.873): indoor UEs on floor n_fl ~ U{1..N_fl},
N_fl ~ U{4..8}, at h = 3 (n_fl − 1) + 1.5 m; outdoor UEs at 1.5 m.

Everything is drawn from the stream "radio.population", and only when the scenario asks for it
(radio.population.enabled), so scenarios without a population draw nothing and are unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# TR 38.901 Table 7.4.3-2: σ_P of the low- and high-loss O2I models.
SIGMA_LOW_LOSS_DB = 4.4
SIGMA_HIGH_LOSS_DB = 6.5


def o2i_wall_loss_db(fc_ghz: float, high_loss: bool) -> float:
    """PL_tw [dB] of the TR 38.901 Table 7.4.3-2 low- or high-loss model at carrier fc_ghz."""
    l_glass = 2.0 + 0.2 * fc_ghz
    l_irr_glass = 23.0 + 0.3 * fc_ghz
    l_concrete = 5.0 + 4.0 * fc_ghz
    if high_loss:
        return 5.0 - 10.0 * np.log10(0.7 * 10.0 ** (-l_irr_glass / 10.0) + 0.3 * 10.0 ** (-l_concrete / 10.0))
    return 5.0 - 10.0 * np.log10(0.3 * 10.0 ** (-l_glass / 10.0) + 0.7 * 10.0 ** (-l_concrete / 10.0))


@dataclass(frozen=True)
class Population:
    """Per-UE draws: (n,) arrays. Outdoor UEs have d_in_m = 0 and o2i_db = 0."""

    indoor: np.ndarray  # bool
    high_loss: np.ndarray  # bool (False for outdoor UEs)
    d_in_m: np.ndarray  # indoor 2-D distance d_2D-in [m]
    o2i_db: np.ndarray  # PL_tw + 0.5·d_in + σ_P·N(0, 1) [dB]
    h_ue_m: np.ndarray  # UE antenna height [m]
    # TR 38.901 UMa note 1, per UE–site link (n, n_site): the uniform that picks h_E = 1 m, and the other h_E.
    h_e_u: np.ndarray | None = None
    h_e_alt_m: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.indoor.shape[0])


def draw_population(cfg, n: int, fc_ghz: float, ue_height_m: float, indoor_max_m: float,
                    rng: np.random.Generator, n_site: int = 0) -> Population:
    """Draw n UEs' population for radio.population `cfg` (a PopulationConfig) at carrier fc_ghz.

    `indoor_max_m` is the model's d_2D-in bound (used when cfg.indoor_distance_max_m is None).
    The draws come in a fixed order (indoor, building type, two d_in uniforms, σ_P normals, floors),
    each for all n UEs, so one seed gives one population whatever the configuration's other values.
    With `n_site` > 0 and UEs above 13 m (TR 38.901 UMa) it also draws, per UE–site link, the uniform
    that decides h_E = 1 m and the alternative h_E ~ U{12, 15, …, hUT − 1.5} (1 m for UEs below 13.5 m).
    """
    if n < 0:
        raise ValueError(f"population size must be ≥ 0, got {n}")
    indoor = rng.random(n) < cfg.indoor_fraction
    high = indoor & (rng.random(n) < cfg.high_loss_fraction)
    d_max = cfg.indoor_distance_max_m if cfg.indoor_distance_max_m is not None else indoor_max_m
    d_in = np.where(indoor, np.minimum(rng.uniform(0.0, d_max, n), rng.uniform(0.0, d_max, n)), 0.0)
    z = rng.standard_normal(n)
    wall = np.where(high, o2i_wall_loss_db(fc_ghz, True), o2i_wall_loss_db(fc_ghz, False))
    sigma = np.where(high, SIGMA_HIGH_LOSS_DB, SIGMA_LOW_LOSS_DB)
    o2i = np.where(indoor, wall + 0.5 * d_in + sigma * z, 0.0)
    h = np.full(n, float(ue_height_m))
    if cfg.heights == "floors":
        n_floors = rng.integers(cfg.floors_min, cfg.floors_max + 1, n)
        floor = np.floor(rng.random(n) * n_floors).astype(np.int64) + 1  # U{1..N_fl} per UE
        h = np.where(indoor, ue_height_m + cfg.floor_height_m * (floor - 1), h)
    h_e_u = h_e_alt = None
    if n_site > 0 and np.any(h > 13.0):
        h_e_u = rng.random((n, n_site))
        choices = np.maximum(np.floor((h - 1.5 - 12.0) / 3.0) + 1.0, 0.0)[:, None]  # |{12, 15, …, hUT − 1.5}|
        k = np.floor(rng.random((n, n_site)) * choices)
        h_e_alt = np.where(choices > 0, 12.0 + 3.0 * k, 1.0)
    return Population(indoor, high, d_in, o2i, h, h_e_u, h_e_alt)
