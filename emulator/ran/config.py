"""Scenario-file section `ran`: slices, requirements, UE groups, mobility, traffic, masks, scheduler."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import Field, model_validator

from topology.model import StrictModel


# -- traffic per active UE ---------------------------------------------------------------------
class PoissonTraffic(StrictModel):
    """Poisson packet arrivals per active UE."""

    kind: Literal["poisson"] = "poisson"
    packet_bytes: float = Field(gt=0, le=10_000_000, description="mean packet size")
    rate_pps: float = Field(gt=0, le=1_000_000, description="packets per second per active UE")
    # fixed: every packet has packet_bytes; exponential: sizes drawn with that mean.
    size: Literal["fixed", "exponential"] = "fixed"

    @property
    def mean_rate_bps(self) -> float:
        return 8.0 * self.packet_bytes * self.rate_pps


class CbrTraffic(StrictModel):
    """Constant bit rate: one packet every interval, random phase per UE (drawn when it activates)."""

    kind: Literal["cbr"]
    packet_bytes: float = Field(gt=0, le=10_000_000)
    # ≥ 1 us: the same 1e6 packets/s per UE cap as Poisson traffic's rate_pps.
    interval_ms: float = Field(ge=1e-3, le=3_600_000)

    @property
    def mean_rate_bps(self) -> float:
        return 8.0 * self.packet_bytes / (self.interval_ms * 1e-3)


class FullBufferTraffic(StrictModel):
    """Always backlogged (3GPP full-buffer model): throughput only, no packet delay."""

    kind: Literal["full_buffer"]


Traffic = Annotated[Union[PoissonTraffic, CbrTraffic, FullBufferTraffic], Field(discriminator="kind")]


# -- traffic masks (share of a UE group that is active) ------------------------------------------
class ConstantMask(StrictModel):
    kind: Literal["constant"] = "constant"
    value: float = Field(1.0, ge=0, le=1)


class CsvMask(StrictModel):
    """One mask value per mask step from a CSV column; the series repeats when it runs out."""

    kind: Literal["csv"]
    path: str = Field(description="CSV file; a relative path is taken from the working directory")
    column: str | int = Field(0, description="column name (header row) or 0-based index")

    def load(self) -> np.ndarray:
        """The column as floats in [0, 1]; raises ValueError naming the file, row and problem."""
        p = Path(self.path)
        if not p.is_file():
            raise ValueError(f"mask file {self.path!r} not found")
        with p.open(newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
        if not rows:
            raise ValueError(f"mask file {self.path!r} is empty")
        col = self.column
        start = 0
        if isinstance(col, str):
            header = [h.strip() for h in rows[0]]
            if col not in header:
                raise ValueError(f"mask file {self.path!r} has no column {col!r} (header: {', '.join(header)})")
            col, start = header.index(col), 1
        values = []
        for i, row in enumerate(rows[start:], start=start + 1):
            try:
                v = float(row[col])
            except (IndexError, ValueError):
                raise ValueError(f"mask file {self.path!r} row {i}: no number in column {col}") from None
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"mask file {self.path!r} row {i}: value {v} outside [0, 1]")
            values.append(v)
        if not values:
            raise ValueError(f"mask file {self.path!r} has no data rows")
        return np.asarray(values)

    @model_validator(mode="after")
    def _check(self):
        self.load()
        return self


class DailyMask(StrictModel):
    """Smooth daily-like profile: low at night, peak at `peak_at` of each cycle, AR(1) noise on top."""

    kind: Literal["daily"]
    cycle_s: float = Field(gt=0, description="simulated seconds per 'day'")
    low: float = Field(0.2, ge=0, le=1)
    high: float = Field(1.0, ge=0, le=1)
    peak_at: float = Field(0.5, ge=0, lt=1, description="position of the peak within the cycle")
    # Exponent >1 narrows the busy hours; 1 is a plain raised cosine.
    sharpness: float = Field(1.5, gt=0, le=10)
    noise_std: float = Field(0.05, ge=0, le=1)
    noise_corr: float = Field(0.8, ge=0, lt=1, description="AR(1) coefficient of the noise per mask step")

    @model_validator(mode="after")
    def _check(self):
        if self.low > self.high:
            raise ValueError(f"low={self.low} is above high={self.high}")
        return self


class RandomWalkMask(StrictModel):
    """Gaussian random walk per mask step, reflected into [low, high]."""

    kind: Literal["random_walk"]
    start: float = Field(0.5, ge=0, le=1)
    step_std: float = Field(0.05, ge=0, le=1)
    low: float = Field(0.0, ge=0, le=1)
    high: float = Field(1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self):
        if self.low > self.high:
            raise ValueError(f"low={self.low} is above high={self.high}")
        if not self.low <= self.start <= self.high:
            raise ValueError(f"start={self.start} is outside [low, high] = [{self.low}, {self.high}]")
        return self


Mask = Annotated[Union[ConstantMask, CsvMask, DailyMask, RandomWalkMask], Field(discriminator="kind")]


# -- slices --------------------------------------------------------------------------------------
class SliceConfig(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    # Default requirements of every cell; `ran.requirements` overrides them per cell.
    throughput_mbps: float = Field(1.0, gt=0, description="average user throughput requirement")
    delay_ms: float = Field(10.0, gt=0, description="average packet delay requirement")
    # Paper V.1: each cell has one UE group per slice with at most 32 UEs.
    group_size: int = Field(32, ge=0, le=100_000)
    traffic: Traffic = Field(default_factory=lambda: PoissonTraffic(packet_bytes=500, rate_pps=100))
    mask: Mask = Field(default_factory=ConstantMask)
    # None = ran.mobility.speed_mps.
    speed_mps: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _check(self):
        if self.speed_mps is not None and not 0 <= self.speed_mps[0] <= self.speed_mps[1]:
            raise ValueError("speed_mps must be [min, max] with 0 ≤ min ≤ max")
        return self


class CellRequirements(StrictModel):
    """Per-cell requirements that replace the slices' defaults (paper V.1 has two sets of cells)."""

    cells: list[int] = Field(min_length=1, description="0-based cell indices (cell c = site c//3, sector c%3)")
    throughput_mbps: list[float] = Field(min_length=1, description="one per slice")
    delay_ms: list[float] = Field(min_length=1, description="one per slice")

    @model_validator(mode="after")
    def _check(self):
        if any(c < 0 for c in self.cells):
            raise ValueError("cell indices must be ≥ 0")
        if any(v <= 0 for v in self.throughput_mbps) or any(v <= 0 for v in self.delay_ms):
            raise ValueError("requirements must be > 0")
        return self


# -- mobility --------------------------------------------------------------------------------------
# Random waypoint with speeds drawn from [0, v_max] has no steady state: UEs that draw a speed near 0
# spend ever longer on their legs, so the mean speed decays for the whole run (Yoon, Liu & Noble,
# "Random waypoint considered harmful", INFOCOM 2003).
RWP_MIN_SPEED = ("speed_mps: random_waypoint needs a positive minimum speed: with 0 the mean speed keeps falling for the "
                 "whole run (no steady state; Yoon et al., INFOCOM 2003); use e.g. [0.5, 1.5], or model: static")

class MobilityConfig(StrictModel):
    """How UEs move; positions advance every `period_s`, then the radio model is updated."""

    model: Literal["random_waypoint", "random_direction", "static"] = "random_waypoint"
    # 100 ms: fine enough for pedestrian/urban speeds (≤ 3 m per step at 30 m/s), coarse enough that
    # the radio update stays a small share of the per-TTI work.
    period_s: float = Field(0.1, gt=0, le=60)
    # 3 km/h (0.83 m/s) is the 3GPP pedestrian speed (TR 36.814); the range centres on it.
    speed_mps: tuple[float, float] = (0.5, 1.5)
    # random_waypoint: pause at each waypoint, uniform in [min, max].
    pause_s: tuple[float, float] = (0.0, 2.0)
    # random_direction: keep a heading for an exponentially distributed time with this mean.
    direction_mean_s: float = Field(10.0, gt=0)
    # UEs are dropped uniformly in a disc of this radius around their home cell's centre
    # (ISD/3 = 167 m at 500 m ISD is the radius of the hexagon inscribed in a cell).
    drop_radius_m: float = Field(150.0, gt=0)
    # random_waypoint destinations: within this radius of the home cell centre (None = anywhere in
    # the area). Keeping UEs near home keeps each cell's groups close to their nominal size while
    # still letting UEs cross cell borders and hand over.
    home_radius_m: float | None = Field(250.0, gt=0)

    @model_validator(mode="after")
    def _check(self):
        if not 0 <= self.speed_mps[0] <= self.speed_mps[1]:
            raise ValueError("speed_mps must be [min, max] with 0 ≤ min ≤ max")
        if self.model == "random_waypoint" and self.speed_mps[0] == 0:
            raise ValueError(RWP_MIN_SPEED)
        if not 0 <= self.pause_s[0] <= self.pause_s[1]:
            raise ValueError("pause_s must be [min, max] with 0 ≤ min ≤ max")
        return self


# -- scheduler -------------------------------------------------------------------------------------
class SchedulerConfig(StrictModel):
    # rr: equal PRBs per backlogged UE with a rotating start; pf: greedy on rate / average throughput.
    discipline: Literal["rr", "pf"] = "rr"
    # isolation: a slice never uses more PRBs than its budget; work_conserving: PRBs a slice cannot
    # use in a TTI go to other slices' backlogged UEs.
    sharing: Literal["isolation", "work_conserving"] = "isolation"
    # Averaging window of the PF average throughput; 100 TTIs is the customary LTE choice
    # (e.g. Capozzi et al., IEEE COMST 2013, "Downlink packet scheduling in LTE", §IV).
    pf_time_constant_ttis: float = Field(100.0, ge=1)
    queue_packets: int = Field(256, ge=1, le=65_536, description="per-UE queue length; arrivals beyond it are dropped")
    # Channel-quality report period: a UE's bits per PRB follow its SINR as last reported.
    # 5 ms is a common periodic CQI setting (TS 36.213 Table 7.2.2-1A allows 2, 5, 10, ... ms);
    # 1 recomputes every backlogged UE's SINR every TTI.
    cqi_period_ttis: int = Field(5, ge=1, le=1000)


class RanConfig(StrictModel):
    slices: list[SliceConfig] = Field(min_length=1)
    requirements: list[CellRequirements] = Field(default_factory=list)
    # 1 s = 1000 TTIs: KPIs average over hundreds of packets per cell and slice (a low-noise
    # reward), and the paper's ~8,750 training steps stay a few minutes of wall time.
    decision_period_s: float = Field(1.0, gt=0)
    # None = the decision period (one mask value per decision step, as in the paper's Fig. 3).
    mask_step_s: float | None = Field(None, gt=0)
    mobility: MobilityConfig = Field(default_factory=MobilityConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    # Tolerance on Σ shares = 1 for a slice-partition action.
    share_tolerance: float = Field(1e-6, gt=0, le=0.1)

    @model_validator(mode="after")
    def _check(self):
        names = [s.name for s in self.slices]
        if self.mobility.model == "random_waypoint":
            for i, s in enumerate(self.slices):
                if s.speed_mps is not None and s.speed_mps[0] == 0:
                    raise ValueError(f"slices[{i}].{RWP_MIN_SPEED}")
        if len(set(names)) != len(names):
            raise ValueError(f"slice names must be unique, got {names}")
        n = len(self.slices)
        seen: set[int] = set()
        for i, req in enumerate(self.requirements):
            if len(req.throughput_mbps) != n or len(req.delay_ms) != n:
                raise ValueError(f"requirements[{i}] needs {n} throughput_mbps and {n} delay_ms values (one per slice)")
            dup = seen.intersection(req.cells)
            if dup:
                raise ValueError(f"requirements[{i}] repeats cell(s) {sorted(dup)} already set by an earlier entry")
            seen.update(req.cells)
        return self

    @property
    def mask_step(self) -> float:
        return self.decision_period_s if self.mask_step_s is None else self.mask_step_s

    def requirement_arrays(self, num_cells: int) -> tuple[np.ndarray, np.ndarray]:
        """(throughput_bps, delay_s), each (num_cells, num_slices); raises ValueError for unknown cells."""
        thr = np.tile([s.throughput_mbps * 1e6 for s in self.slices], (num_cells, 1))
        dly = np.tile([s.delay_ms * 1e-3 for s in self.slices], (num_cells, 1))
        for i, req in enumerate(self.requirements):
            for c in req.cells:
                if c >= num_cells:
                    raise ValueError(f"ran.requirements[{i}].cells: cell {c} does not exist ({num_cells} cells)")
                thr[c] = np.asarray(req.throughput_mbps) * 1e6
                dly[c] = np.asarray(req.delay_ms) * 1e-3
        return thr, dly
