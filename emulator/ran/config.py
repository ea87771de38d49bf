"""Scenario-file section `ran`."""
from __future__ import annotations

from pydantic import Field

from topology.model import StrictModel


class SliceConfig(StrictModel):
    name: str
    throughput_mbps: float = Field(1.0, gt=0)
    delay_ms: float = Field(10.0, gt=0)


class RanConfig(StrictModel):
    slices: list[SliceConfig] = Field(min_length=1)
