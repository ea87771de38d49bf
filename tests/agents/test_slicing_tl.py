"""The slicing-paper experiment and calibration commands end to end on a 3-cell world (the --quick path, shrunk)."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from agents.experiments import slicing_calibration, slicing_tl

# One three-sector site, 50 ms decision periods, a few steps of every stage: seconds, not minutes.
TINY = ["--param", "topology.layout.num_sites=1", "--param", "ran.decision_period_s=0.05",
        "--param", "ran.requirements=[{cells: [0], throughput_mbps: [4, 3, 2, 1], delay_ms: [3, 2, 1, 1]}, "
                   "{cells: [1, 2], throughput_mbps: [2.5, 2, 1.5, 1], delay_ms: [1, 1, 1, 1]}]"]
OUTPUTS = ["kpis.parquet", "metrics.json", "ccdf_min_thr_sat.png", "cdf_max_delay.png", "rewards.png", "distance.csv",
           "distance.png", "tl_gain_vs_distance.png", "tl_gains.csv", "table.md", "table.csv", "by_load.csv",
           "summary.json"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tl") / "run"
    argv = ["--quick", "--seeds", "2", "--out", str(out), "--steps", "6,10,4,10,4", "--samples", "12",
            "--vae-epochs", "3", "--instances", "8", "--workers", "0", *TINY]
    assert slicing_tl.main(argv) == 0
    return out, argv


def test_quick_experiment_writes_every_output(run):
    out, _ = run
    for name in OUTPUTS:
        assert (out / name).stat().st_size > 0, name
    kpis = pd.read_parquet(out / "kpis.parquet")
    methods = set(kpis["method"])
    assert methods == {"baseline", "baseline_tw", "drl", *slicing_tl.VARIANTS}
    # 3 cells × 4 slices per step; the DRL run has 6 + 10 + 4 steps, each TL run 10 + 4
    assert (kpis["method"] == "drl").sum() == 2 * 20 * 12
    assert (kpis[kpis["method"] == "tl_combined_most"]["phase"] == "evaluation").sum() == 2 * 4 * 12
    table = pd.read_csv(out / "table.csv")
    row = table[(table["method"] == "baseline (source world)") & (table["metric"] == "P(min thr. satisfaction < 0.95)")]
    assert row["paper"].item() == pytest.approx(0.25) and row["seeds"].item() == 2
    sim = json.loads((out / "seed1" / "similarity" / "similarity.json").read_text())
    assert all(src != tgt for tgt, src in sim["most"].items()), "a target never gets its own agent"
    assert pd.read_csv(out / "distance.csv", index_col=0).shape == (3, 3)
    assert (out / "seed2" / "drl" / "checkpoints" / "slice_cell0.replay.npz").exists()


def test_resume_reuses_finished_jobs(run):
    out, argv = run
    before = (out / "table.csv").read_text()
    stamp = (out / "seed1" / "drl" / "kpis.parquet").stat().st_mtime_ns
    assert slicing_tl.main([*argv, "--resume"]) == 0
    assert (out / "seed1" / "drl" / "kpis.parquet").stat().st_mtime_ns == stamp  # not run again
    assert (out / "table.csv").read_text() == before
    # --report-only runs nothing: with a third seed asked for, the table still holds the two finished ones
    assert slicing_tl.main([*argv, "--seeds", "3", "--report-only"]) == 0
    assert not (out / "seed3").exists()
    assert (out / "table.csv").read_text() == before


def test_bad_arguments_fail_in_one_line(tmp_path, capsys):
    assert slicing_tl.main(["--steps", "1,2", "--out", str(tmp_path)]) == 2
    assert "--steps" in capsys.readouterr().err
    assert slicing_tl.main(["--param", "ran.decision_period_s=-1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "decision_period_s" in err


def test_calibration_command_reports_the_paper_metrics(tmp_path, capsys):
    assert slicing_calibration.main(["--scale", "1,2", "--seeds", "1", "--steps", "6", "--warmup", "2", "--workers", "0", "--out", str(tmp_path),
                                     *[a.replace("--param", "--set") for a in TINY]]) == 0
    df = pd.read_csv(tmp_path / "calibration.csv")
    assert sorted(df["scale"]) == [1.0, 2.0]
    assert {"p_thr_sat_below_095", "mean_min_thr_sat", "mean_max_delay_ms", "peak_cell_load", "distance"} <= set(df)
    assert (tmp_path / "calibration.png").stat().st_size > 0
    assert "best point, throughput row only" in capsys.readouterr().out
