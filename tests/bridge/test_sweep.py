"""Parameter sweeps: range/list parsing, grid and policy validation, the grid as jobs, CSV and plot, exit codes."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from emulator.errors import ConfigError, RanemuError
from bridge.cli import main
from bridge.sweep import build_jobs, parse_param, parse_values, run_sweep
from emulator.config import load_scenario


def test_ranges_and_lists():
    assert parse_values("10:100:10") == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert parse_values("2:10:4") == [2, 6, 10]
    assert parse_values("0.1:0.3:0.1") == [0.1, 0.2, 0.3]
    assert parse_values("a,b, c") == ["a", "b", "c"]
    assert parse_values("1e9, 2e9") == [1e9, 2e9]
    assert parse_values("7") == [7]
    assert parse_param("mec.num_servers=2:10:2") == ("mec.num_servers", [2, 4, 6, 8, 10])
    for bad, why in [("5:1:1", "stop >= start"), ("1:5:0", "step > 0"), ("1:5", "start:stop:step"), ("a:b:c", "numbers"),
                     ("nan:10:1", "finite"), ("1e308:1e309:1", "finite"), ("1:100000000:1", "more than 10,000"),
                     ("0:1e308:1e-308", "more than 10,000")]:
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


def test_jobs_cover_the_grid_and_ship_each_points_validated_scenario(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(dict(SCENARIO, agents={"policies": {"offloading": "greedy", "assignment": "greedy"}})))
    plan = build_jobs(path, ["mec.num_devices=2:4:1", "mec.num_servers=1,2"], ["local", "random"], None, 2)
    jobs = plan.jobs
    assert plan.keys == ["mec.num_devices", "mec.num_servers"] and len(jobs) == 3 * 2 * 2 * 2
    assert len({j.key for j in jobs}) == len(jobs) and all(j.fn == "bridge.sweep:run_point" for j in jobs)
    assert jobs[0].key == "p0000_num_devices=2,num_servers=1,policy=local,seed=5"
    sc = jobs[0].kwargs["scenario"]  # the scenario itself, not a path the head alone has
    assert isinstance(sc, dict) and sc["agents"]["policies"] == {"offloading": "local", "assignment": "local"}
    assert sc["mec"]["num_devices"] == 2 and sc["output"]["traces"] is False
    assert sc == load_scenario(path, {"mec.num_devices": 2, "mec.num_servers": 1, "seed": 5,
                                      "agents.policies.offloading": "local", "agents.policies.assignment": "local",
                                      "output.traces": False, "output.report": False}).model_dump(mode="json")
    assert {j.kwargs["scenario"]["seed"] for j in jobs} == {5, 6}
    assert plan.labels[jobs[-1].key] == {"mec.num_devices": 4, "mec.num_servers": 2, "policy": "random", "seed": 6}
    with pytest.raises(ConfigError, match="given twice"):
        build_jobs(path, ["mec.num_devices=2", "mec.num_devices=3"], ["local"], None, 1)
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump(dict(SCENARIO, agents={})))
    with pytest.raises(ConfigError, match="agents.policies"):
        build_jobs(bare, ["mec.num_devices=2"], ["local"], None, 1)


def test_the_grid_and_policies_are_checked_before_anything_runs(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    with pytest.raises(ConfigError, match=r"--policies: gredy: mec/server0: unknown policy 'gredy'; known: default, greedy, local"):
        build_jobs(path, ["mec.num_devices=2"], ["local", "gredy"], None, 1)
    with pytest.raises(RanemuError, match=r"grid point mec.num_devices=-1: .*mec.num_devices"):
        build_jobs(path, ["mec.num_devices=-1,2"], ["local"], None, 1)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--param", "mec.num_devices=2", "--policies", "local,gredy",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gredy" in err and "Traceback" not in err and not out.exists()


def test_sweep_runs_in_worker_processes_and_writes_csv_and_plot(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    res = run_sweep(path, ["mec.num_devices=2:4:2"], ["local", "greedy", "optimal"], tmp_path / "out", workers=2,
                    until=5.0, seeds=2, progress=False)
    out = res.out
    df = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    assert len(df) == 2 * 3 * 2 and (df["error"] == "").all() and not res.failed
    assert list(df.columns[:4]) == ["mec.num_devices", "policy", "seed", "job"]
    assert not [c for c in df.columns if "profile" in c or "wall" in c]  # wall-clock fields go to jobs.csv
    assert (out / "sweep.png").stat().st_size > 10_000
    prov = pd.read_csv(out / "jobs.csv")
    assert list(prov["job"]) == list(df["job"]) and (prov["status"] == "ok").all() and (prov["engine"] == "local").all()
    piv = df.groupby(["mec.num_devices", "policy"])["mec.objective"].mean().unstack()
    assert (piv["optimal"] <= piv["greedy"] * (1 + 1e-12)).all() and (piv["greedy"] < piv["local"]).all()
    # The same grid point and seed gives the same number in any process.
    again = run_sweep(path, ["mec.num_devices=2"], ["greedy"], tmp_path / "again", workers=0, until=5.0,
                      progress=False).out
    one = pd.read_csv(again / "sweep.csv")
    ref = df[(df["mec.num_devices"] == 2) & (df["policy"] == "greedy") & (df["seed"] == 5)]
    assert one["mec.objective"].iloc[0] == ref["mec.objective"].iloc[0]


def test_a_failing_point_is_recorded_and_the_command_exits_non_zero_naming_it(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    out = tmp_path / "out"
    code = main(["sweep", str(path), "--param", "mec.num_devices=3,20", "--policies", "optimal", "--workers", "0",
                 "--until", "5", "--out", str(out)])
    assert code == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ranemu")]  # not the bar
    assert len(err) == 1 and err[0].startswith("ranemu: sweep: 1 of 2 jobs failed: p0001_num_devices=20,policy=optimal")
    assert "exhaustive search" in err[0]
    df = pd.read_csv(out / "sweep.csv", keep_default_na=False).set_index("mec.num_devices")
    assert df.loc[3, "error"] == "" and "exhaustive search" in df.loc[20, "error"]
    # --resume reruns only the failed point (it fails again, the same way) and keeps the other row
    assert main(["sweep", str(path), "--param", "mec.num_devices=3,20", "--policies", "optimal", "--workers", "0",
                 "--until", "5", "--out", str(out), "--resume"]) == 1
    again = pd.read_csv(out / "sweep.csv", keep_default_na=False).set_index("mec.num_devices")
    assert again.loc[3].equals(df.loc[3])
    assert main(["sweep", str(path), "--param", "mec.num_devices=3", "--resume"]) == 2
    assert "--resume: needs --out DIR" in capsys.readouterr().err


def test_a_non_numeric_parameter_is_plotted_as_categories(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    out = run_sweep(path, ["mec.resource_manager=optimal,equal"], ["greedy"], tmp_path / "out", workers=0, until=5.0,
                    progress=False).out
    df = pd.read_csv(out / "sweep.csv", keep_default_na=False).set_index("mec.resource_manager")
    assert (df["error"] == "").all() and (out / "sweep.png").stat().st_size > 10_000
    # Problem 13's optimal split and power beat the equal split at full power.
    assert df.loc["optimal", "mec.objective"] < df.loc["equal", "mec.objective"]


@pytest.mark.parametrize("how", ["SIGINT to the group", "SIGTERM to the driver"])
def test_ctrl_c_leaves_a_resumable_folder_and_resume_adds_each_missing_row_once(tmp_path, how):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    out = tmp_path / "out"
    args = ["sweep", str(path), "--param", "mec.num_devices=2:7:1", "--policies", "greedy", "--until", "60",
            "--workers", "2", "--out", str(out)]
    # its own session: SIGINT to the whole group, as a terminal's Ctrl-C reaches driver and workers
    proc = subprocess.Popen([sys.executable, "-m", "bridge.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not list((out / "jobs").glob("p*.json")):
            time.sleep(0.05)
        if how == "SIGINT to the group":
            os.killpg(proc.pid, signal.SIGINT)
        else:  # a container's stop: only the driver is told (before: exit 143, no resume hint)
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 130, err
    assert f"--resume --out {out}" in err and "Traceback" not in err
    before = {p.stem: json.loads(p.read_text()) for p in (out / "jobs").glob("p*.json")}
    kept = {k for k, rec in before.items() if rec["status"] == "ok"}
    assert 0 < len(kept) < 6
    res = run_sweep(path, ["mec.num_devices=2:7:1"], ["greedy"], out, workers=0, until=60.0, resume=True,
                    progress=False)
    assert not res.failed and res.results.resumed == len(kept)
    df = pd.read_csv(res.csv, keep_default_na=False)
    assert list(df["mec.num_devices"]) == list(range(2, 8)) and df["job"].is_unique and (df["error"] == "").all()
    for key in kept:  # finished before Ctrl-C: kept as they were, not run again
        assert json.loads((out / "jobs" / f"{key}.json").read_text()) == before[key]


def test_a_ran_point_row_is_the_same_twice_without_its_wall_clock_profile():
    from pathlib import Path

    from bridge.sweep import run_point

    quick = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"
    sc = load_scenario(quick, {"output.traces": False, "output.report": False}).model_dump(mode="json")
    first, second = run_point(sc, 1.0), run_point(sc, 1.0)
    assert first == second and first["simulated_s"] == pytest.approx(1.0)
    assert any(k.startswith("ran.") for k in first) and not [k for k in first if "profile" in k]


def test_a_grid_too_large_or_a_policy_given_twice_is_refused_before_anything_runs(tmp_path):
    path = tmp_path / "sw.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    with pytest.raises(ConfigError, match="given twice"):
        build_jobs(path, ["mec.num_devices=2,3"], ["local", "local"], None, 1)
    with pytest.raises(ConfigError, match="more than 10,000"):
        build_jobs(path, ["mec.num_devices=1:5000:1"], ["local", "greedy", "random"], None, 1)


def test_a_ran_sweep_plots_the_slicing_reward_when_there_is_no_objective(tmp_path):
    from pathlib import Path

    from bridge.sweep import METRIC_LABELS, _pick_metric

    df = pd.DataFrame({"policy": ["equal"], "ran.mean_reward": [0.9], "error": [""]})
    assert _pick_metric(df, None) == "ran.mean_reward" and "higher is better" in METRIC_LABELS["ran.mean_reward"]
    quick = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"
    res = run_sweep(quick, ["ran.decision_period_s=0.5,1.0"], ["equal"], out_dir=tmp_path / "out", workers=0,
                    until=1.0, progress=False)
    rows = pd.read_csv(res.csv, keep_default_na=False)
    assert len(rows) == 2 and (rows["error"] == "").all() and res.plot.stat().st_size > 0
