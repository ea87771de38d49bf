"""BS antenna gain: 3-sector horizontal patterns (TR 36.942 / 36.814), omni, optional vertical downtilt pattern.

Angles: azimuths in degrees, 0° = east, counter-clockwise (the topology's convention; sector
boresights 30°, 150°, 270°). Elevation is measured downward from the horizon at the BS, so a UE
on the ground below a 25 m mast is at a positive angle and an electrical downtilt is positive.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatternSpec:
    """Horizontal 3 dB beamwidth and maximum attenuation (front-to-back) of a sector pattern."""

    beamwidth_deg: float
    max_attenuation_db: float


# TR 36.942 4.2.1: θ3dB = 65°, Am = 20 dB. TR 36.814 Table A.2.1.1-2: θ3dB = 70°, Am = 25 dB.
PATTERNS = {"36942": PatternSpec(65.0, 20.0), "36814": PatternSpec(70.0, 25.0)}


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
    """The scenario's BS antenna (radio.antenna section) applied to arrays of link angles."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.spec = None if cfg.pattern == "omni" else PATTERNS[cfg.pattern]

    def gain_db(self, off_boresight_deg, elevation_deg=None, omni_cell=None) -> np.ndarray:
        """Gain [dBi] per link; `omni_cell` (bool, broadcast) marks 1-sector cells that have no horizontal pattern."""
        off = np.asarray(off_boresight_deg, dtype=float)
        cfg = self.cfg
        if self.spec is None:
            att = np.zeros(off.shape)
            cap = cfg.vertical_sla_db
        else:
            att = horizontal_attenuation_db(off, self.spec.beamwidth_deg, self.spec.max_attenuation_db)
            if omni_cell is not None:
                att = np.where(omni_cell, 0.0, att)
            cap = self.spec.max_attenuation_db
        if cfg.downtilt_deg is not None and elevation_deg is not None:
            att = att + vertical_attenuation_db(elevation_deg, cfg.downtilt_deg, cfg.vertical_beamwidth_deg,
                                                cfg.vertical_sla_db)
            att = -np.minimum(-att, cap)
        return cfg.gain_dbi + att
