"""Replay: a real-time run with an agent that answers late on purpose replays unpaced bit for bit;
an altered decision makes replay name the first diverging row; substitutes (a built-in policy, an
agent process) write a what-if run that departs from the recording only after they take over."""
from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bridge.cli import main
from emulator.errors import RanemuError
from bridge.replay import replay
from bridge.runner import run_scenario
from emulator.config import load_scenario
from emulator.decisions import DECISION_COLUMNS
from tests.bridge.conftest import REPO

CELL0 = "slice/cell0"
PERIOD_S = 0.2  # decision period; the real-time deadline is one period (200 ms wall at factor 1)
DEADLINE_MS = PERIOD_S * 1e3
# Every third answer 300 ms after its INDICATION: late by ~100 ms; the next two have 100-200 ms to spare.
LATE_AGENT = ["{python}", "-m", "tests.bridge.late_agent", "--endpoint", "{endpoint}", "--role", "{role}",
              "--late-every", "3", "--sleep", "0.3"]


def hil_scenario(ipc_dir, duration: float = 3.0, pub: str | None = None, processes=None):
    """quickstart (3 cells), decisions every 200 ms, real time; cell0 served by an agent process."""
    return load_scenario(REPO / "scenarios" / "quickstart.yaml", {
        "duration": duration, "ran.decision_period_s": PERIOD_S, "clock.mode": "realtime",
        "agents.policies": {"slice_partition": "traffic_aware"},
        "agents.endpoint": f"ipc://{ipc_dir}/control", "agents.pub_endpoint": pub, "agents.wait_agents": 1,
        "agents.wait_timeout_s": 60.0, "output.report": False,
        "agents.processes": processes or [{"roles": [CELL0], "command": LATE_AGENT}],
    })


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One real-time run (3 s) with the late agent on cell0; the run folder."""
    base = tmp_path_factory.mktemp("hil")
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(REPO) + (os.pathsep + old if old else "")  # the agent imports tests.*
    try:
        result = run_scenario(hil_scenario(base), out_base=base / "runs", progress=False)
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    assert not result.interrupted
    return result


def test_late_agent_real_time_run_replays_bit_for_bit(recorded):
    run_dir = recorded.run_dir
    st = recorded.summary["bridge"]["points"][CELL0]
    # Every third answer comes 300 ms after its INDICATION, past the 200 ms deadline.
    assert st["stale"] >= 2 and st["fallbacks"] >= 2 and st["answered"] >= 2
    dec = pd.read_parquet(run_dir / "traces" / "decisions.parquet")
    ran = pd.read_parquet(run_dir / "traces" / "ran.parquet")
    cell0 = dec[dec.point == CELL0]
    assert set(cell0.source) == {"agent", "fallback", "stale"}
    assert (cell0[cell0.source != "fallback"].name == "late-agent").all()
    stale = cell0[cell0.source == "stale"]
    assert len(stale) == st["stale"] and (stale.late_ms > 0).all() and (stale.response_ms > DEADLINE_MS).all()
    agent = cell0[cell0.source == "agent"]
    # lateness = how far past the deadline (INDICATION sent + 200 ms) the answer arrived, never negative
    timed = cell0[cell0.source != "fallback"]
    assert np.allclose(timed.late_ms, np.maximum(0.0, timed.response_ms - DEADLINE_MS), atol=1e-6)
    assert (agent.response_ms < DEADLINE_MS).sum() >= 2
    # Agent actions take effect when they arrive, after their epoch; a stale one was never applied.
    assert (agent.effective_time > agent.time).all()
    # Exactly one applied row per point and decision step; in-process policies act at the epoch.
    applied = dec[dec.source != "stale"]
    assert not applied.duplicated(["point", "step"]).any()
    steps = int(ran.step.max()) + 1
    assert (applied.groupby("point").size()[["slice/cell1", "slice/cell2"]] == steps).all()
    # (the agent's answer to the last epoch may still be on its way when the run ends)
    assert set(range(steps - 1)) <= set(applied[applied.point == CELL0].step)
    local = dec[dec.source == "policy"]
    assert set(local.point) == {"slice/cell1", "slice/cell2"} and (local.effective_time == local.time).all()
    # The data dictionary travels in the file, one entry per column.
    schema = pq.read_schema(run_dir / "traces" / "decisions.parquet")
    for name, (unit, description, source) in DECISION_COLUMNS.items():
        meta = schema.field(name).metadata
        assert (meta[b"unit"].decode(), meta[b"description"].decode(), meta[b"source"].decode()) == \
            (unit, description, source)

    result = replay(run_dir)
    assert result.divergence is None, str(result.divergence)
    assert result.traces == {"ran": len(ran), "decisions": len(dec)}


def test_an_altered_decision_is_reported_as_the_first_divergence(recorded, tmp_path, capsys):
    run_dir = tmp_path / "altered"
    shutil.copytree(recorded.run_dir, run_dir)
    path = run_dir / "traces" / "decisions.parquet"
    table = pq.read_table(path)
    dec = table.to_pandas()
    i = int(dec.index[(dec.point == CELL0) & (dec.source == "agent") & (dec.step >= 4)][0])
    before = dec.at[i, "action"]
    assert not np.array_equal(before, [0.5, 0.5])
    actions = table.column("action").to_pylist()
    actions[i] = [0.5, 0.5]
    table = table.set_column(table.schema.get_field_index("action"), table.schema.field("action"),
                             pa.array(actions, type=pa.list_(pa.float64())))
    pq.write_table(table, path)

    div = replay(run_dir).divergence
    # The altered share holds from its effective time to the next decision of cell0: the first KPI
    # row it can change is cell0's next record, one period after the epoch it answered.
    t_eff, epoch = float(dec.at[i, "effective_time"]), float(dec.at[i, "time"])
    assert div is not None and div.trace == "ran" and div.keys["cell"] == 0
    assert div.keys["time"] == pytest.approx(epoch + PERIOD_S)
    assert t_eff < div.keys["time"]
    ran = pd.read_parquet(run_dir / "traces" / "ran.parquet")
    assert div.row == int(ran.index[(ran.cell == 0) & np.isclose(ran.time, epoch + PERIOD_S)][0])

    assert main(["replay", str(run_dir), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert f"traces/ran.parquet row {div.row} column {div.column!r}" in out


def test_substituted_policy_departs_only_after_its_first_decision(recorded, tmp_path, capsys):
    assert main(["replay", str(recorded.run_dir), "--point", CELL0, "--policy", "equal", "--from-step", "6",
                 "--out", str(tmp_path), "--quiet"]) == 0
    assert "what-if run:" in capsys.readouterr().out
    (new,) = tmp_path.glob("*-whatif-*")
    old_ran = pd.read_parquet(recorded.run_dir / "traces" / "ran.parquet")
    new_ran = pd.read_parquet(new / "traces" / "ran.parquet")
    new_dec = pd.read_parquet(new / "traces" / "decisions.parquet")
    first = new_dec[(new_dec.point == CELL0) & (new_dec.step >= 6)]
    assert (first.source == "policy").all() and (first.name == "equal").all()
    t_first = float(first.effective_time.iloc[0])
    assert t_first == pytest.approx(7 * PERIOD_S)  # step 6 is due at 1.4 s; the policy answers at once
    upto = old_ran.time <= t_first + 1e-9
    pd.testing.assert_frame_equal(old_ran[upto], new_ran[upto])
    after = ~upto
    assert not old_ran[after].reset_index(drop=True).equals(new_ran[after].reset_index(drop=True))
    # Decisions before the substitution are the recorded ones, row for row.
    old_dec = pd.read_parquet(recorded.run_dir / "traces" / "decisions.parquet")
    k = int(np.flatnonzero(((new_dec.point == CELL0) & (new_dec.step >= 6)).to_numpy())[0])
    pd.testing.assert_frame_equal(old_dec.iloc[:k], new_dec.iloc[:k])
    # An agent process with the same policy gives the same what-if run, bit for bit.
    agent = f"{sys.executable} -m agents.baseline --endpoint {{endpoint}} --role {{role}} --policy equal"
    res = replay(recorded.run_dir, point=CELL0, agent=agent, from_step=6, out=tmp_path / "agent")
    assert res.first_substituted_time == pytest.approx(7 * PERIOD_S)
    pd.testing.assert_frame_equal(pd.read_parquet(res.out_dir / "traces" / "ran.parquet"), new_ran)
    via_agent = pd.read_parquet(res.out_dir / "traces" / "decisions.parquet")
    mine = via_agent[(via_agent.point == CELL0) & (via_agent.step >= 6)]
    assert (mine.source == "agent").all() and (mine.name == "baseline-equal").all()


def test_fast_run_with_in_process_policies_replays_bit_for_bit(tmp_path):
    sc = load_scenario(REPO / "scenarios" / "quickstart.yaml", {
        "duration": 1.0, "ran.decision_period_s": PERIOD_S, "agents.policies": {"slice_partition": "traffic_aware"},
        "output.report": False})
    run = run_scenario(sc, out_base=tmp_path, progress=False)
    dec = pd.read_parquet(run.run_dir / "traces" / "decisions.parquet")
    assert len(dec) == 3 * 5 and set(dec.source) == {"policy"} and set(dec.name) == {"traffic_aware"}
    assert (dec.effective_time == dec.time).all() and dec.response_ms.isna().all()
    assert replay(run.run_dir).divergence is None
    # damaged copies of that folder: one line each, never a traceback
    for damage, expected in [("summary.json", "summary.json is damaged"),
                             ("traces/decisions.parquet", "decisions.parquet is damaged"),
                             ("traces/ran.parquet", "ran.parquet is damaged"),
                             ("zero-length", "before its clock advanced")]:
        bad = shutil.copytree(run.run_dir, tmp_path / f"bad-{damage.replace('/', '-')}")
        if damage == "zero-length":
            (bad / "summary.json").write_text('{"simulated_s": 0.0}', encoding="utf-8")
        else:
            (bad / damage).write_bytes(b"not what it should be")
        with pytest.raises(RanemuError, match=expected):
            replay(bad)


def test_replay_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["replay", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "config.yaml is missing" in err[0]
    assert main(["replay", str(tmp_path), "--point", CELL0]) == 2
