"""Scenario-file section `radio`."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from emulator.radio.antenna import PATTERNS
from emulator.radio.pathloss import MODELS
from topology.model import StrictModel

# The allowed names come from the model and pattern records (one record per model: pathloss.MODELS,
# antenna.PATTERNS), so a new family is added in one place.
PathlossName = Literal[tuple(MODELS)]  # type: ignore[valid-type]
PatternName = Literal[(*PATTERNS, "omni")]  # type: ignore[valid-type]


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


class ArrayConfig(StrictModel):
    """Uniform vertical array of identical elements fed as one port, steered by an electrical downtilt (TR 38.901 7.3)."""

    # TR 38.901 Table 7.8-1: (M, N, P) = (10, 1, 1), d_V = 0.5 λ, electrical downtilt 102° zenith = 12° below horizon.
    rows: int = Field(10, ge=1, le=64)
    spacing_wavelengths: float = Field(0.5, gt=0, le=4)
    electrical_downtilt_deg: float = Field(12.0, ge=-90, le=90, description="below the horizon")


class AntennaConfig(StrictModel):
    """BS antenna: one configurable sector pattern (presets 36942, 36814, 38901) or omni, optional vertical array.

    Every `None` takes the preset's value (antenna.PATTERNS): 36942: θ3dB 65°, Am 20 dB (TR 36.942 4.2.1);
    36814: 70°, 25 dB (TR 36.814 Table A.2.1.1-2), both 15 dBi with vertical θ3dB 10°, SLA_v 20 dB and no
    vertical pattern unless `downtilt_deg`; 38901: the TR 38.901 Table 7.3-1 element, 65° both planes,
    Am = SLA_V = 30 dB, 8 dBi, vertical pattern on at 0° mechanical tilt.
    """

    pattern: PatternName = "36942"
    # None = the preset's gain: 15 dBi for the LTE presets (TR 36.942 Table 4.2; TR 36.814 case 1 uses 14), 8 dBi for 38901.
    gain_dbi: float | None = Field(None, ge=-10, le=40)
    horizontal_beamwidth_deg: float | None = Field(None, gt=0, le=360)
    max_attenuation_db: float | None = Field(None, ge=0, le=60, description="front-to-back floor Am [dB]")
    # Mechanical tilt of the element's vertical pattern; None = the preset's (no vertical pattern for the LTE
    # presets, as TR 36.942; TR 36.814 case 1 uses 15°).
    downtilt_deg: float | None = Field(None, ge=-10, le=90)
    vertical_beamwidth_deg: float | None = Field(None, gt=0, le=180)
    vertical_sla_db: float | None = Field(None, ge=0, le=60)
    # None = a single element per cell.
    array: ArrayConfig | None = None

    @field_validator("pattern", mode="before")
    @classmethod
    def _pattern_name(cls, v):
        # YAML and --param read an unquoted 38901 as a number; the presets are names.
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v


class PopulationConfig(StrictModel):
    """Per-UE population: indoor share with TR 38.901 7.4.3 O2I loss, UE heights. Defaults: all outdoors at radio.ue_height_m."""

    # TR 38.901 Table 7.8-1 (following TR 36.873): 80 % indoor UEs for UMa and UMi.
    indoor_fraction: float = Field(0.0, ge=0, le=1)
    # Share of indoor UEs in high-loss buildings (IRR glass + concrete, TR 38.901 Table 7.4.3-2); the rest low-loss.
    # 0.5: the 50 % / 50 % mix used here for the Table 7.8-1 calibration.
    high_loss_fraction: float = Field(0.5, ge=0, le=1)
    # d_2D-in = min of two U(0, max) draws (TR 38.901 7.4.3.1); None = the model's (25 m UMa/UMi, 10 m RMa).
    indoor_distance_max_m: float | None = Field(None, gt=0, le=100)
    # fixed: every UE at radio.ue_height_m; floors: indoor UEs on floor n_fl ~ U{1..N_fl}, N_fl ~ U{floors_min..floors_max},
    # h = floor_height_m·(n_fl − 1) + radio.ue_height_m (TR 38.901 Table 7.8-1 / TR 36.873), outdoor UEs at radio.ue_height_m.
    heights: Literal["fixed", "floors"] = "fixed"
    floors_min: int = Field(4, ge=1, le=100)
    floors_max: int = Field(8, ge=1, le=100)
    floor_height_m: float = Field(3.0, gt=0, le=10)

    @model_validator(mode="after")
    def _check(self):
        if self.floors_min > self.floors_max:
            raise ValueError(f"floors_min={self.floors_min} exceeds floors_max={self.floors_max}")
        return self

    @property
    def enabled(self) -> bool:
        """False for the defaults: no per-UE draw, the link budget is the population-free one."""
        return self.indoor_fraction > 0.0 or self.heights != "fixed"


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
    # winner_c2/winner_b1: WINNER+ urban macro/micro; uma/umi/rma: TR 38.901; tr36942_macro: the 3GPP LTE
    # calibration law (128.1 + 37.6 log10 R at 2 GHz, TR 36.814 case 1). Records: emulator.radio.pathloss.MODELS.
    pathloss: PathlossName = "winner_c2"
    # None = each site's antenna height from the topology (25 m default = WINNER+ C2 / 38.901 UMa).
    bs_height_m: float | None = Field(None, gt=1.0, le=300, description="BS antenna height [m]")
    # 1.5 m: WINNER+ and TR 38.901 default UE height; each model's own range applies (UMa/UMi 1.5–22.5 m,
    # RMa 1–10 m, WINNER+ and TR 36.942 1.5–13 m).
    ue_height_m: float = Field(1.5, ge=1.0, le=22.5)
    population: PopulationConfig = Field(default_factory=PopulationConfig)
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
        model = MODELS[self.pathloss]
        lo, hi = model.carrier_range_ghz
        if not lo <= self.carrier_ghz <= hi:
            raise ValueError(
                f"carrier_ghz={self.carrier_ghz} is outside the {self.pathloss} model's range {lo}–{hi} GHz"
            )
        lo, hi = model.ue_height_range_m
        pop = self.population
        top = self.ue_height_m + (pop.floor_height_m * (pop.floors_max - 1) if pop.heights == "floors" else 0.0)
        if not (lo <= self.ue_height_m and top <= hi):
            what = (f"ue_height_m={self.ue_height_m:g}" if pop.heights == "fixed" else
                    f"UE heights {self.ue_height_m:g}–{top:g} m (population.heights=floors)")
            raise ValueError(f"{what} outside the {self.pathloss} model's UE height range {lo:g}–{hi:g} m")
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
