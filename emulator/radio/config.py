"""Scenario-file section `radio`."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from topology.model import StrictModel


class RadioConfig(StrictModel):
    carrier_ghz: float = Field(2.6, ge=0.45, le=100.0)
    bandwidth_mhz: float = Field(20.0, gt=0, le=400)
    num_prbs: int = Field(100, ge=1, le=3300, description="100 PRBs of 180 kHz for LTE 20 MHz")
    tx_power_dbm: float = Field(46.0, ge=-30, le=80, description="46 dBm per 20 MHz macro cell (TR 36.814)")
    pathloss: Literal["winner_c2", "winner_b1", "uma", "umi"] = "winner_c2"
