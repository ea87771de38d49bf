"""BS antenna gain: one configurable sector pattern (presets TR 36.942, TR 36.814, TR 38.901 element), omni,
optional vertical pattern, optional uniform vertical array with electrical downtilt.

The pattern is the TR 38.901 Table 7.3-1 form A = −min(−(A_H + A_V), Am), A_H = −min(12 (φ/φ3dB)², Am),
A_V = −min(12 ((θ − θtilt)/θ3dB)², SLA_V); the TR 36.942 and TR 36.814 sector antennas are the same form
with other beamwidths, floors and gains (presets in PATTERNS, not separate code).

Angles: azimuths in degrees, 0° = east, counter-clockwise (the topology's convention; sector
boresights 30°, 150°, 270°). Elevation is measured downward from the horizon at the BS, so a UE
on the ground below a 25 m mast is at a positive angle and an electrical downtilt is positive.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatternSpec:
    """A sector pattern: horizontal θ3dB and floor Am, boresight gain, vertical θ3dB and SLA_V, default mechanical tilt."""

    beamwidth_deg: float
    max_attenuation_db: float
    gain_dbi: float = 15.0
    vertical_beamwidth_deg: float = 10.0
    vertical_sla_db: float = 20.0
    # None = no vertical pattern unless the scenario sets radio.antenna.downtilt_deg.
    downtilt_deg: float | None = None


PATTERNS = {
    # TR 36.942 4.2.1: θ3dB = 65°, Am = 20 dB, 15 dBi (Table 4.2); vertical θ3dB 10°, SLA_v 20 dB (TR 36.814).
    "36942": PatternSpec(65.0, 20.0),
    # TR 36.814 Table A.2.1.1-2: θ3dB = 70°, Am = 25 dB, vertical θ3dB 10°, SLA_v 20 dB (15 dBi kept as ranemu's default).
    "36814": PatternSpec(70.0, 25.0),
    # TR 38.901 Table 7.3-1 element: φ3dB = θ3dB = 65°, Am = SLA_V = 30 dB, G_max = 8 dBi, boresight at the horizon.
    "38901": PatternSpec(65.0, 30.0, 8.0, 65.0, 30.0, 0.0),
}


def resolve_pattern(cfg) -> PatternSpec | None:
    """The scenario's antenna (radio.antenna) as one PatternSpec: its preset with every set field applied; None for omni."""
    if cfg.pattern == "omni":
        return None
    base = PATTERNS[cfg.pattern]
    pick = lambda v, d: d if v is None else v  # noqa: E731
    return PatternSpec(pick(cfg.horizontal_beamwidth_deg, base.beamwidth_deg),
                       pick(cfg.max_attenuation_db, base.max_attenuation_db),
                       pick(cfg.gain_dbi, base.gain_dbi),
                       pick(cfg.vertical_beamwidth_deg, base.vertical_beamwidth_deg),
                       pick(cfg.vertical_sla_db, base.vertical_sla_db),
                       pick(cfg.downtilt_deg, base.downtilt_deg))


def array_factor(elevation_deg, rows: int, spacing_wavelengths: float, tilt_deg: float) -> np.ndarray:
    """Power gain (linear, max = rows) of a uniform vertical array steered to `tilt_deg` below the horizon.

    The calibration's column (TR 38.901 Table 7.8-1: 10 rows at 0.5 λ, 102° tilt), one port with weights
    w_m = exp(−j 2π (m−1) d_V cos θ_tilt)/√M over elements at (m−1)·d_V λ:
    |Σ w_m exp(j 2π (m−1) d_V cos θ)|² = sin²(Mψ/2) / (M sin²(ψ/2)), ψ = 2π d_V (sin τ − sin ε) with ε the
    elevation below the horizon (zenith θ = 90° + ε). Equals M at ε = τ (the array gain 10 log10 M dB).
    """
    el = np.radians(np.asarray(elevation_deg, dtype=float))
    psi = 2.0 * np.pi * spacing_wavelengths * (np.sin(np.radians(tilt_deg)) - np.sin(el))
    half = np.sin(0.5 * psi)
    with np.errstate(divide="ignore", invalid="ignore"):
        af = np.sin(0.5 * rows * psi) ** 2 / (rows * half * half)
    return np.where(np.abs(half) < 1e-12, float(rows), af)


def wrap_angle_deg(angle_deg: np.ndarray) -> np.ndarray:
    """Angle folded into [−180°, 180°)."""
    return (np.asarray(angle_deg, dtype=float) + 180.0) % 360.0 - 180.0


def horizontal_attenuation_db(theta_deg, beamwidth_deg: float = 65.0, max_attenuation_db: float = 20.0) -> np.ndarray:
    """A_H(θ) = −min(12 (θ/θ3dB)², Am) for θ off boresight (any range; folded to ±180°)."""
    theta = wrap_angle_deg(theta_deg)
    return -np.minimum(12.0 * (theta / beamwidth_deg) ** 2, max_attenuation_db)


def vertical_attenuation_db(elevation_deg, tilt_deg: float, beamwidth_deg: float = 10.0, sla_db: float = 20.0) -> np.ndarray:
    """A_V(θ) = −min(12 ((θ − θtilt)/θ3dB)², SLA_v) (TR 36.814 Table A.2.1.1-2)."""
    el = np.asarray(elevation_deg, dtype=float)
    return -np.minimum(12.0 * ((el - tilt_deg) / beamwidth_deg) ** 2, sla_db)


def antenna_gain_db(
    azimuth_to_ue_deg,
    boresight_deg,
    pattern: str = "36942",
    gain_dbi: float = 15.0,
    elevation_deg=None,
    downtilt_deg: float | None = None,
    vertical_beamwidth_deg: float = 10.0,
    vertical_sla_db: float = 20.0,
) -> np.ndarray:
    """Antenna gain [dBi] towards the UE: G_max + A, A = −min(−(A_H + A_V), Am); omni: G_max everywhere.

    `azimuth_to_ue_deg` is the direction from the BS to the UE, `boresight_deg` the cell's azimuth
    (they broadcast). Without `downtilt_deg` (or without elevations) the pattern is horizontal only.
    """
    az = np.asarray(azimuth_to_ue_deg, dtype=float)
    bs = np.asarray(boresight_deg, dtype=float)
    if pattern == "omni":
        return np.full(np.broadcast_shapes(az.shape, bs.shape), float(gain_dbi))
    try:
        spec = PATTERNS[pattern]
    except KeyError:
        raise ValueError(f"unknown antenna pattern {pattern!r}; known: omni, {', '.join(PATTERNS)}") from None
    att = horizontal_attenuation_db(az - bs, spec.beamwidth_deg, spec.max_attenuation_db)
    if downtilt_deg is not None and elevation_deg is not None:
        att = att + vertical_attenuation_db(elevation_deg, downtilt_deg, vertical_beamwidth_deg, vertical_sla_db)
        att = -np.minimum(-att, spec.max_attenuation_db)
    return gain_dbi + att


class AntennaModel:
    """The scenario's BS antenna (radio.antenna) applied to arrays of link angles."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.spec = resolve_pattern(cfg)
        # Omni: no horizontal pattern; the vertical one (if any) takes the LTE presets' θ3dB / SLA_v.
        omni = PATTERNS["36942"]
        self.gain_dbi = float(cfg.gain_dbi if cfg.gain_dbi is not None else (self.spec or omni).gain_dbi)
        self.downtilt_deg = cfg.downtilt_deg if self.spec is None else self.spec.downtilt_deg
        self.vertical_beamwidth_deg = float(pick_v(cfg.vertical_beamwidth_deg, (self.spec or omni).vertical_beamwidth_deg))
        self.vertical_sla_db = float(pick_v(cfg.vertical_sla_db, (self.spec or omni).vertical_sla_db))
        self.array = cfg.array

    @property
    def needs_elevation(self) -> bool:
        return self.downtilt_deg is not None or self.array is not None

    def gain_db(self, off_boresight_deg, elevation_deg=None, omni_cell=None) -> np.ndarray:
        """Gain [dBi] per link; `omni_cell` (bool, broadcast) marks 1-sector cells that have no horizontal pattern."""
        off = np.asarray(off_boresight_deg, dtype=float)
        if self.spec is None:
            att = np.zeros(off.shape)
            cap = self.vertical_sla_db
        else:
            att = horizontal_attenuation_db(off, self.spec.beamwidth_deg, self.spec.max_attenuation_db)
            if omni_cell is not None:
                att = np.where(omni_cell, 0.0, att)
            cap = self.spec.max_attenuation_db
        if self.downtilt_deg is not None and elevation_deg is not None:
            att = att + vertical_attenuation_db(elevation_deg, self.downtilt_deg, self.vertical_beamwidth_deg,
                                                self.vertical_sla_db)
            att = -np.minimum(-att, cap)
        gain = self.gain_dbi + att
        if self.array is not None and elevation_deg is not None:
            a = self.array
            gain = gain + 10.0 * np.log10(array_factor(elevation_deg, a.rows, a.spacing_wavelengths,
                                                       a.electrical_downtilt_deg))
        return gain


def pick_v(value, default):
    return default if value is None else value
