"""Parameter sweeps: range/list parsing, the grid × policies × seeds in worker processes, CSV and plot."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from emulator.errors import ConfigError
from emulator.sweep import build_jobs, parse_param, parse_values, run_sweep


def test_ranges_and_lists():
    assert parse_values("10:100:10") == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert parse_values("2:10:4") == [2, 6, 10]
    assert parse_values("0.1:0.3:0.1") == [0.1, 0.2, 0.3]
    assert parse_values("a,b, c") == ["a", "b", "c"]
    assert parse_values("1e9, 2e9") == [1e9, 2e9]
    assert parse_values("7") == [7]
    assert parse_param("mec.num_servers=2:10:2") == ("mec.num_servers", [2, 4, 6, 8, 10])
    for bad, why in [("5:1:1", "stop >= start"), ("1:5:0", "step > 0"), ("1:5", "start:stop:step"), ("a:b:c", "numbers")]:
        with pytest.raises(ConfigError, match=why):
            parse_values(bad)
    with pytest.raises(ConfigError, match="PATH=VALUES"):
        parse_param("mec.num_devices")


SCENARIO = {
    "name": "sw", "seed": 5, "duration": 10.0,
    "topology": {
        "layout": {"kind": "explicit", "sites": [{"x_m": 12.5, "y_m": 25.0, "sectors": 1}]},
        "area": {"x_m": [0, 50], "y_m": [0, 50]},
        "mec": {"servers": [{"site": 0}], "core": {"x_m": 25.0, "y_m": 25.0}},
    },
    "mec": {"num_devices": 3, "decision_period_s": 5.0},
    "agents": {"policies": {"offloading": "greedy"}},
}


def test_jobs_cover_the_grid_and_set_every_listed_policy_kind(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(dict(SCENARIO, agents={"policies": {"offloading": "greedy", "assignment": "greedy"}})))
    jobs, keys = build_jobs(path, ["mec.num_devices=2:4:1", "mec.num_servers=1,2"], ["local", "random"], None, 2)
    assert keys == ["mec.num_devices", "mec.num_servers"] and len(jobs) == 3 * 2 * 2 * 2
    o = jobs[0]["overrides"]
    assert o["agents.policies.offloading"] == "local" and o["agents.policies.assignment"] == "local"
    assert {j["overrides"]["seed"] for j in jobs} == {5, 6}
    with pytest.raises(ConfigError, match="given twice"):
        build_jobs(path, ["mec.num_devices=2", "mec.num_devices=3"], ["local"], None, 1)
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump(dict(SCENARIO, agents={})))
    with pytest.raises(ConfigError, match="agents.policies"):
        build_jobs(bare, ["mec.num_devices=2"], ["local"], None, 1)


def test_sweep_runs_in_worker_processes_and_writes_csv_and_plot(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    out = run_sweep(path, ["mec.num_devices=2:4:2"], ["local", "greedy", "optimal"], tmp_path / "out", workers=2,
                    until=5.0, seeds=2)
    df = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert len(df) == 2 * 3 * 2 and (df["error"] == "").all()
    assert (out / "sweep.png").stat().st_size > 10_000
    piv = df.groupby(["mec.num_devices", "policy"])["mec.objective"].mean().unstack()
    assert (piv["optimal"] <= piv["greedy"] * (1 + 1e-12)).all() and (piv["greedy"] < piv["local"]).all()
    # The same grid point and seed gives the same number in any process.
    again = run_sweep(path, ["mec.num_devices=2"], ["greedy"], tmp_path / "again", workers=0, until=5.0)
    one = pd.read_csv(again / "sweep.csv")
    ref = df[(df["mec.num_devices"] == 2) & (df["policy"] == "greedy") & (df["seed"] == 5)]
    assert one["mec.objective"].iloc[0] == ref["mec.objective"].iloc[0]


def test_a_failing_run_is_recorded_not_fatal(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    out = run_sweep(path, ["mec.num_devices=3,20"], ["optimal"], tmp_path / "out", workers=0, until=5.0)
    df = pd.read_csv(out / "sweep.csv", keep_default_na=False).set_index("mec.num_devices")
    assert df.loc[3, "error"] == "" and "exhaustive search" in df.loc[20, "error"]


def test_a_non_numeric_parameter_is_plotted_as_categories(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    out = run_sweep(path, ["mec.resource_manager=optimal,equal"], ["greedy"], tmp_path / "out", workers=0, until=5.0)
    df = pd.read_csv(out / "sweep.csv", keep_default_na=False).set_index("mec.resource_manager")
    assert (df["error"] == "").all() and (out / "sweep.png").stat().st_size > 10_000
    # Problem 13's optimal split and power beat the equal split at full power.
    assert df.loc["optimal", "mec.objective"] < df.loc["equal", "mec.objective"]
