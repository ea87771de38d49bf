"""The `ranemu` command: exit codes and one-line errors for bad files and bad arguments."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bridge.cli import main

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path, data, name="s.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def test_validate_reports_each_file_and_fails_if_any_is_bad(tmp_path, capsys):
    # validate builds the world as run does: a file needs a ran (or mec) section to be "ok"
    good = write(tmp_path, {"seed": 1, "topology": {"layout": {"kind": "hex", "num_sites": 1}},
                            "ran": {"slices": [{"name": "embb", "group_size": 2}]}}, "good.yaml")
    bad = write(tmp_path, {"seed": 1, "clock": {"mode": "warp"}}, "bad.yaml")
    assert main(["validate", str(good)]) == 0
    assert main(["validate", str(good), str(bad), str(tmp_path / "missing.yaml")]) == 1
    out, err = capsys.readouterr()
    assert f"ok: {good}" in out
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"error: {bad}: clock.mode: ")
    assert lines[1] == f"error: {tmp_path / 'missing.yaml'}: file not found"


def test_run_with_bad_file_is_one_line_not_a_traceback(tmp_path, capsys):
    f = write(tmp_path, {"seed": 1, "duration": "long"})
    assert main(["run", str(f), "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"ranemu: error: {f}: duration: Input should be a valid number, unable to parse string as a number (got 'long')"
    assert "Traceback" not in err


def test_bad_param_override_is_located(tmp_path, capsys):
    f = write(tmp_path, {"seed": 1})
    assert main(["run", str(f), "--param", "clock.tti_ms=-3"]) == 2
    assert "clock.tti_ms: Input should be greater than or equal to 0.015625" in capsys.readouterr().err


@pytest.mark.parametrize("argv,expect", [
    (["run", "x.yaml", "--until", "-1"], "expected a positive number"),
    (["run", "x.yaml", "--until", "inf"], "expected a finite number, got 'inf'"),
    (["run", "x.yaml", "--seed", "abc"], "expected an integer"),
    (["run", "x.yaml", "--wait-agents", "-2"], "expected a non-negative integer"),
    (["frobnicate"], "invalid choice"),
    (["radio", "x.yaml", "--ues", "0"], "expected a positive integer, got '0'"),
    (["radio", "x.yaml", "--min-distance", "-5"], "expected a non-negative number, got '-5'"),
    (["radio", "x.yaml", "--min-distance", "nan"], "expected a non-negative number, got 'nan'"),
])
def test_bad_arguments_exit_2_with_a_message(argv, expect, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert expect in capsys.readouterr().err


def test_unwritable_outputs_and_impossible_surveys_are_one_line_errors(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["keys", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ranemu: error: ") and str(blocker) in err and "Traceback" not in err
    f = write(tmp_path, {"seed": 1, "topology": {"layout": {"kind": "hex", "num_sites": 1}}})
    assert main(["radio", str(f), "--ues", "5", "--min-distance", "1e7", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ranemu: error: radio survey of {f}: could not place 5 UEs") and "Traceback" not in err


def test_console_script_is_installed_and_answers():
    exe = Path(sys.executable).with_name("ranemu")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for command in ("run", "validate", "topology", "radio", "sweep", "experiment", "keys", "demo"):
        assert command in out.stdout


def test_demo_attaches_twelve_agent_processes_and_writes_the_report(tmp_path):
    import json

    import pandas as pd

    assert main(["demo", "--until", "3", "--out", str(tmp_path)]) == 0
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    bridge = summary["bridge"]
    assert bridge["attaches"] == 12 and bridge["answered"] == 36 and bridge["fallbacks"] == 0
    # every agent process was told BYE, exited by itself (code 0) and was reaped
    assert [p["running"] for p in bridge["processes"]] == [False] * 12
    assert [p["exit_codes"] for p in bridge["processes"]] == [[0]] * 12
    df = pd.read_parquet(run_dir / "traces" / "ran.parquet")
    assert sorted(df["cell"].unique()) == list(range(12)) and df["step"].max() == 2
    assert (run_dir / "ran_reward.png").stat().st_size > 10_000


def test_quickstart_runs_and_is_reproducible(tmp_path):
    import pandas as pd

    frames = []
    for i in range(2):
        out = tmp_path / str(i)
        assert main(["run", str(REPO / "scenarios" / "quickstart.yaml"), "--until", "3", "--quiet", "--out", str(out)]) == 0
        (run_dir,) = out.iterdir()
        frames.append(pd.read_parquet(run_dir / "traces" / "ran.parquet"))
    pd.testing.assert_frame_equal(frames[0], frames[1])
    # the run folder's config.yaml reruns the same run: --until became its duration
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["duration"] == 3.0
    assert main(["run", str(run_dir / "config.yaml"), "--quiet", "--out", str(tmp_path / "again")]) == 0
    (again,) = (tmp_path / "again").iterdir()
    pd.testing.assert_frame_equal(frames[0], pd.read_parquet(again / "traces" / "ran.parquet"))


def test_agents_a_run_starts_itself_are_attached_before_the_clock_starts(tmp_path):
    """Without --wait-agents the run waits for one agent per agents.processes entry (before the fix
    the clock finished before the agent had imported: 0 attaches, every decision a fallback)."""
    import json

    agent = ('agents.processes=[{roles: [slice/cell0], command: ["{python}", "-m", "agents.baseline", '
             '"--endpoint", "{endpoint}", "--role", "slice/cell0", "--policy", "traffic_aware"]}]')
    ipc = f"agents.endpoint=ipc://{tmp_path}/a.sock"
    assert main(["run", str(REPO / "scenarios" / "quickstart.yaml"), "--until", "3", "--quiet", "--out", str(tmp_path),
                 "--param", agent, "--param", ipc, "--param", "agents.pub_endpoint=null"]) == 0
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    bridge = json.loads((run_dir / "summary.json").read_text())["bridge"]
    assert bridge["attaches"] == 1 and bridge["answered"] > 0 and bridge["fallbacks"] == 0


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_signal_stops_a_run_cleanly_and_keeps_what_was_written(tmp_path, sig):
    import json
    import signal
    import time

    import pandas as pd

    exe = Path(sys.executable).with_name("ranemu")
    proc = subprocess.Popen([str(exe), "run", str(REPO / "scenarios" / "slicing-12cell.yaml"), "--until", "100000",
                             "--quiet", "--param", "output.flush_rows=48", "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        trace = None
        # wait until the run has written at least one row group of its trace
        while time.monotonic() < deadline and trace is None:
            time.sleep(0.2)
            found = list(tmp_path.glob("*/traces/ran.parquet"))
            trace = found[0] if found else None
        assert trace is not None, "the run never wrote its trace"
        proc.send_signal(getattr(signal, sig))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    run_dir = trace.parents[1]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["interrupted"] is True and 0 < summary["simulated_s"] < 100000
    df = pd.read_parquet(trace)  # the Parquet file was closed properly: readable
    # the run stops between chunks of simulated time, never inside a model step: whole decision
    # periods only (12 cells x 4 slices each), contiguous from step 0, agreeing with the summary
    counts = df.groupby("step").size()
    assert list(counts.index) == list(range(len(counts))) and set(counts) == {12 * 4}
    assert summary["ran"]["steps"] == len(counts)
    assert "interrupted" in out


def test_a_scenario_that_fails_to_build_leaves_no_run_folder(tmp_path, capsys):
    out = tmp_path / "runs"
    code = main(["run", str(REPO / "scenarios" / "slicing-12cell.yaml"), "--param", "ran.requirements[0].cells=[0,1,99]",
                 "--quiet", "--out", str(out)])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"ranemu: error: {REPO / 'scenarios' / 'slicing-12cell.yaml'}: ran.requirements[0].cells: cell 99 does not exist (12 cells)")
    assert not out.exists() or not any(out.iterdir())
