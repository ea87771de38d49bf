"""Traffic masks: CSV source, daily-like and random-walk generators, and active UE counts."""
from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from emulator.ran.config import ConstantMask, CsvMask, DailyMask, RandomWalkMask
from emulator.ran.masks import MaskSeries, active_count, daily_value, reflect


def test_active_count_rounds_half_up():
    assert [active_count(m, 32) for m in (0.0, 0.25, 0.5, 0.51, 1.0)] == [0, 8, 16, 16, 32]
    assert active_count(1 / 64, 32) == 1


def test_daily_profile_peaks_at_peak_and_bottoms_half_a_cycle_later():
    cfg = DailyMask(kind="daily", cycle_s=100, low=0.2, high=0.9, peak_at=0.25, noise_std=0.0)
    assert daily_value(cfg, 25.0, 0.0) == pytest.approx(0.9)
    assert daily_value(cfg, 75.0, 0.0) == pytest.approx(0.2)
    s = MaskSeries(cfg, np.random.default_rng(0), 1.0)
    v = s.values(200)
    assert v[25] == pytest.approx(0.9) and v[125] == pytest.approx(0.9)


def test_daily_noise_is_seeded_and_bounded():
    cfg = DailyMask(kind="daily", cycle_s=50, noise_std=0.3)
    a = MaskSeries(cfg, np.random.default_rng(5), 1.0).values(500)
    b = MaskSeries(cfg, np.random.default_rng(5), 1.0).values(500)
    c = MaskSeries(cfg, np.random.default_rng(6), 1.0).values(500)
    assert (a == b).all() and not (a == c).all()
    assert a.min() >= 0.0 and a.max() <= 1.0


def test_random_walk_stays_in_bounds_and_moves():
    cfg = RandomWalkMask(kind="random_walk", start=0.5, step_std=0.2, low=0.3, high=0.8)
    v = MaskSeries(cfg, np.random.default_rng(1), 1.0).values(2000)
    assert v[0] == 0.5
    assert v.min() >= 0.3 and v.max() <= 0.8
    assert np.std(np.diff(v)) > 0.1
    assert reflect(1.1, 0.0, 1.0) == pytest.approx(0.9)
    assert reflect(-0.3, 0.0, 1.0) == pytest.approx(0.3)


def test_csv_mask_by_name_and_index_repeats(tmp_path):
    p = tmp_path / "mask.csv"
    p.write_text("step,embb,urllc\n0,0.1,0.9\n1,0.5,0.4\n2,1.0,0.0\n")
    s = MaskSeries(CsvMask(kind="csv", path=str(p), column="urllc"), np.random.default_rng(0), 1.0)
    assert s.values(5).tolist() == [0.9, 0.4, 0.0, 0.9, 0.4]
    q = tmp_path / "plain.csv"
    q.write_text("0.3\n0.6\n")
    assert MaskSeries(CsvMask(kind="csv", path=str(q)), None, 1.0).values(3).tolist() == [0.3, 0.6, 0.3]


@pytest.mark.parametrize("text, column, message", [
    ("a\n0.5\n1.5\n", "a", "row 3: value 1.5 outside"),
    ("a\n0.5\nxx\n", "a", "row 3: no number"),
    ("a\n0.5\n", "b", "no column 'b'"),
    ("", 0, "is empty"),
])
def test_csv_mask_errors_name_the_row(tmp_path, text, column, message):
    p = tmp_path / "m.csv"
    p.write_text(text)
    with pytest.raises(ValidationError, match=message):
        CsvMask(kind="csv", path=str(p), column=column)


def test_constant_mask():
    assert MaskSeries(ConstantMask(value=0.3), None, 1.0).values(3).tolist() == [0.3, 0.3, 0.3]
