"""Scenario-file section `mec`."""
from __future__ import annotations

from pydantic import Field

from topology.model import StrictModel


class MecConfig(StrictModel):
    num_devices: int = Field(30, ge=1, le=100_000)
