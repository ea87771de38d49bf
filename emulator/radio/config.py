"""Scenario-file section `radio`."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from topology.model import StrictModel

# Carrier range each path-loss family is specified for (WINNER+ D5.3: 0.45–6 GHz; TR 38.901 7.4.1: 0.5–100 GHz).
CARRIER_RANGE_GHZ = {
    "winner_c2": (0.45, 6.0),
    "winner_b1": (0.45, 6.0),
    "uma": (0.5, 100.0),
    "umi": (0.5, 100.0),
    # Hata-derived; 3GPP applies it at 900 MHz and 2 GHz (TR 36.942), so it is not offered beyond 3 GHz.
    "tr36942_macro": (0.45, 3.0),
}


class ShadowingConfig(StrictModel):
    """Log-normal shadow fading, spatially correlated, one map per site shared by its sectors."""

    enabled: bool = True
    # None = the path-loss model's table value per LOS state (WINNER+ D5.3, TR 38.901 Table 7.4.1-1).
    sigma_db: float | None = Field(None, ge=0, le=30, description="override the model's shadowing std-dev [dB]")
    # None = the model's NLOS decorrelation distance (WINNER+ C2: 50 m; TR 38.901 Table 7.5-6 UMa: 50 m, UMi: 13 m).
    decorrelation_m: float | None = Field(None, gt=0, le=10_000, description="Gudmundson decorrelation distance [m]")
    # 0.5 between sites is the 3GPP convention (TR 36.942 4.2, TR 36.814 Table A.2.1.1-1).
    inter_site_correlation: float = Field(0.5, ge=0, le=1)
    # The map is sampled on a grid of decorrelation/16 and interpolated bilinearly. Normalising the
    # interpolated value to unit variance lifts the correlation at d_corr by ≈ e^−1·(1/v̄ − 1), v̄ the
    # mean bilinear variance: +0.01 at 16 points (0.377 instead of 0.368), +0.02 at 10, +0.05 at 4.
    grid_points_per_decorrelation: float = Field(16.0, ge=2, le=64)
    # Caps memory for large areas: the grid coarsens (with a warning) rather than exhausting RAM.
    max_grid_points: int = Field(1 << 20, ge=1024, le=1 << 24, description="grid points per site map")


class AntennaConfig(StrictModel):
    """BS antenna: 3-sector horizontal pattern (or omni) with an optional vertical pattern."""

    # 36942: θ3dB 65°, Am 20 dB (TR 36.942 4.2.1); 36814: 70°, 25 dB (TR 36.814 Table A.2.1.1-2).
    pattern: Literal["36942", "36814", "omni"] = "36942"
    # 15 dBi boresight gain: TR 36.942 Table 4.2 (14 dBi in TR 36.814 case 1).
    gain_dbi: float = Field(15.0, ge=-10, le=40)
    # None = no vertical pattern (2-D antenna, as in TR 36.942). TR 36.814 case 1 uses 15° electrical tilt.
    downtilt_deg: float | None = Field(None, ge=-10, le=90)
    # TR 36.814 Table A.2.1.1-2: vertical θ3dB 10°, SLA_v 20 dB.
    vertical_beamwidth_deg: float = Field(10.0, gt=0, le=180)
    vertical_sla_db: float = Field(20.0, ge=0, le=60)


class LinkConfig(StrictModel):
    """SINR → spectral efficiency mapping."""

    # shannon: TR 36.942 Annex A attenuated truncated Shannon; cqi: TS 36.213 Table 7.2.3-1 efficiencies.
    mapping: Literal["shannon", "cqi"] = "shannon"
    # TR 36.942 Annex A.2 downlink: α 0.6, SINR_min −10 dB, Thr_max 4.4 bit/s/Hz.
    alpha: float = Field(0.6, gt=0, le=1)
    sinr_min_db: float = Field(-10.0, ge=-30, le=30)
    max_efficiency: float = Field(4.4, gt=0, le=30, description="bit/s/Hz")


class HandoverConfig(StrictModel):
    """A3-style handover for moving UEs: neighbour better by hysteresis for time-to-trigger."""

    # TS 36.331 ReportConfigEUTRA: hysteresis 0..15 dB (0.5 dB steps); 3 dB is a common macro setting.
    hysteresis_db: float = Field(3.0, ge=0, le=30)
    # TS 36.331 TimeToTrigger values include 256 ms; 0 = hand over on the first update that qualifies.
    ttt_s: float = Field(0.256, ge=0, le=60)


class RadioConfig(StrictModel):
    carrier_ghz: float = Field(2.6, ge=0.45, le=100.0)
    bandwidth_mhz: float = Field(20.0, gt=0, le=400)
    num_prbs: int = Field(100, ge=1, le=3300, description="100 PRBs of 180 kHz for LTE 20 MHz")
    # TS 36.211: 12 subcarriers × 15 kHz.
    prb_bandwidth_khz: float = Field(180.0, gt=0, le=10_000)
    tx_power_dbm: float = Field(46.0, ge=-30, le=80, description="46 dBm per 20 MHz macro cell (TR 36.814)")
    # winner_c2/winner_b1: WINNER+ urban macro/micro; uma/umi: TR 38.901; tr36942_macro: the 3GPP LTE
    # calibration law (128.1 + 37.6 log10 R at 2 GHz, TR 36.814 case 1).
    pathloss: Literal["winner_c2", "winner_b1", "uma", "umi", "tr36942_macro"] = "winner_c2"
    # None = each site's antenna height from the topology (25 m default = WINNER+ C2 / 38.901 UMa).
    bs_height_m: float | None = Field(None, gt=1.0, le=300, description="BS antenna height [m]")
    # 1.5 m: WINNER+ and TR 38.901 default UE height; ≤ 13 m keeps the 38.901 hE = 1 m / C'(hUT) = 0 case.
    ue_height_m: float = Field(1.5, ge=1.5, le=13.0)
    # draw: LOS/NLOS per link from a spatially consistent random field; expected: P_LOS-weighted mean in dB.
    los: Literal["draw", "expected"] = "draw"
    # TR 38.901 7.6.3.3: LOS state spatially consistent with a 50 m correlation distance (UMa, UMi).
    los_decorrelation_m: float = Field(50.0, gt=0, le=10_000)
    shadowing: ShadowingConfig = Field(default_factory=ShadowingConfig)
    antenna: AntennaConfig = Field(default_factory=AntennaConfig)
    # 0 = outdoor UEs; TR 36.814 case 1 / TR 36.942 calibration add 20 dB building penetration loss.
    penetration_loss_db: float = Field(0.0, ge=0, le=60)
    # TR 36.942 / 36.814: UE noise figure 9 dB.
    noise_figure_db: float = Field(9.0, ge=0, le=30)
    link: LinkConfig = Field(default_factory=LinkConfig)
    handover: HandoverConfig = Field(default_factory=HandoverConfig)
    # 10 m: lower validity bound of WINNER+ C2/B1 LOS and TR 38.901 UMa/UMi; shorter links are clamped to it.
    min_distance_m: float = Field(10.0, ge=1.0, le=1000)

    @model_validator(mode="after")
    def _check(self):
        lo, hi = CARRIER_RANGE_GHZ[self.pathloss]
        if not lo <= self.carrier_ghz <= hi:
            raise ValueError(
                f"carrier_ghz={self.carrier_ghz} is outside the {self.pathloss} model's range {lo}–{hi} GHz"
            )
        used_mhz = self.num_prbs * self.prb_bandwidth_khz / 1000.0
        if used_mhz > self.bandwidth_mhz + 1e-9:
            raise ValueError(
                f"num_prbs × prb_bandwidth_khz = {used_mhz:g} MHz exceeds bandwidth_mhz={self.bandwidth_mhz:g}"
            )
        return self

    @property
    def prb_bandwidth_hz(self) -> float:
        return self.prb_bandwidth_khz * 1e3

    @property
    def carrier_hz(self) -> float:
        return self.carrier_ghz * 1e9
