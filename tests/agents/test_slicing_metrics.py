"""agents.slicing_metrics: the paper's numbers (§V.3) against a hand computation on a small KPI table."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from agents.slicing_metrics import KpiLog, cell_samples, mean_ci95, paper_metrics, t975, write_metrics

NAN = float("nan")


def hand_table() -> pd.DataFrame:
    """2 evaluation steps × 2 cells × 2 slices, and one training step that the metrics must ignore."""
    rows = [  # step, phase, cell, slice, throughput, required throughput, delay [s]
        (0, "evaluation", 0, 0, 4.0e6, 4e6, 1e-3), (0, "evaluation", 0, 1, 1.5e6, 2e6, 3e-3),      # m 0.75, D 3
        (0, "evaluation", 1, 0, NAN, 4e6, NAN), (0, "evaluation", 1, 1, 2.1e6, 2e6, 0.5e-3),       # m 1, D 0.5
        (1, "evaluation", 0, 0, 3.9e6, 4e6, 2e-3), (1, "evaluation", 0, 1, 1.8e6, 2e6, 1e-3),      # m 0.9, D 2
        (1, "evaluation", 1, 0, 8.0e6, 4e6, NAN), (1, "evaluation", 1, 1, 1.96e6, 2e6, NAN),       # m 0.98, D none
        (2, "training", 0, 0, 0.4e6, 4e6, 50e-3), (2, "training", 0, 1, 0.2e6, 2e6, 90e-3),        # m 0.1, D 90
    ]
    df = pd.DataFrame(rows, columns=["step", "phase", "cell", "slice", "throughput_bps", "req_throughput_bps", "delay_s"])
    df["method"], df["seed"] = "m", 7
    return df


def test_metrics_equal_a_hand_computation(tmp_path):
    m = write_metrics(hand_table(), tmp_path, phase="evaluation")["methods"]["m"]["pooled"]
    # m samples 0.75, 1, 0.9, 0.98: two below 0.95; D samples 3, 0.5, 2 (the idle cell has none).
    assert m["samples"] == 4
    assert m["p_thr_sat_below_095"] == pytest.approx(0.5)
    assert m["mean_min_thr_sat"] == pytest.approx((0.75 + 1.0 + 0.9 + 0.98) / 4)
    assert m["mean_max_delay_ms"] == pytest.approx((3 + 0.5 + 2) / 3)
    assert m["median_max_delay_ms"] == pytest.approx(2.0)
    assert m["p90_max_delay_ms"] == pytest.approx(2.8)  # linear interpolation: 2 + 0.8 × (3 − 2)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())["methods"]["m"]["per_seed"]["7"]
    assert on_disk["mean_min_thr_sat"] == pytest.approx(m["mean_min_thr_sat"])
    for name in ("kpis.parquet", "ccdf_min_thr_sat.png", "cdf_max_delay.png"):
        assert (tmp_path / name).stat().st_size > 0
    # All phases: the training step adds m = 0.1 and D = 90 ms.
    every = paper_metrics(hand_table(), phase=None)["m"]["pooled"]
    assert every["p_thr_sat_below_095"] == pytest.approx(3 / 5)
    assert every["mean_max_delay_ms"] == pytest.approx((3 + 0.5 + 2 + 90) / 4)


def test_cell_samples_take_min_satisfaction_and_max_delay_per_cell_and_step():
    s = cell_samples(hand_table()).set_index(["step", "cell"])
    assert s.loc[(0, 0), "min_thr_sat"] == pytest.approx(0.75)
    assert s.loc[(0, 1), "max_delay_ms"] == pytest.approx(0.5)
    assert math.isnan(s.loc[(1, 1), "max_delay_ms"])


def test_kpi_log_turns_env_infos_into_rows_and_skips_ended_worlds():
    info = {"cell": 3, "slices": ["a", "b"], "throughput_bps": [1e6, NAN], "delay_s": [1e-3, NAN],
            "satisfaction": [0.5, 1.0], "load": [0.2, 0.0], "active_users": [3.0, 0.0], "shares": [0.7, 0.3],
            "demand_bps": [1e5, 0.0], "req_throughput_bps": [2e6, 1e6], "req_delay_s": [1e-3, 1e-3],
            "neighbour_load": [0.1, 0.1]}
    log = KpiLog("drl", 2)
    log.add(5, "training", {"slice/cell3": info}, {"slice/cell3": 0.5})
    log.add(6, "training", {"slice/cell3": {**info, "end": "horizon"}}, {"slice/cell3": 0.0})
    df = log.frame()
    assert len(df) == 2 and list(df["slice_name"]) == ["a", "b"]
    assert list(df["share"]) == [0.7, 0.3] and list(df["cell"]) == [3, 3] and list(df["step"]) == [5, 5]
    assert df["reward"].tolist() == [0.5, 0.5]


def test_confidence_interval_uses_student_t():
    mean, half = mean_ci95([1.0, 2.0, 3.0])
    assert mean == pytest.approx(2.0)
    assert half == pytest.approx(4.303 * 1.0 / np.sqrt(3))
    assert t975(40) == 1.96
    assert math.isnan(mean_ci95([5.0])[1])
