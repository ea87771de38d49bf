"""Real-time pacing changes when work happens, not what is computed."""
from pathlib import Path

import pandas as pd

from emulator.config import load_scenario
from emulator.emulation import Emulation

QUICKSTART = Path(__file__).resolve().parents[3] / "scenarios" / "quickstart.yaml"


def trace(**overrides):
    sc = load_scenario(QUICKSTART, {"duration": 2.0, "ran.decision_period_s": 0.5, **overrides})
    emu = Emulation(sc)
    emu.run()
    return emu, emu.traces.table("ran").to_pandas()


def test_realtime_mode_reproduces_the_fast_mode_trace_bit_for_bit():
    _, fast = trace()
    # a high real-time factor keeps the test short; the TTI-by-TTI pacing path is the same
    emu, paced = trace(**{"clock.mode": "realtime", "clock.realtime_factor": 50.0})
    assert emu.realtime and emu.summary()["realtime_lateness"]["ticks"] == 2000
    assert len(fast) == 4 * 3 * 2  # 4 periods x 3 cells x 2 slices
    pd.testing.assert_frame_equal(fast, paced)
