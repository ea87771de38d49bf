"""Agent processes: supervised runs equal the in-process trace; SIGKILL, restart and re-attach;
restart limits; every process reaped even when it ignores BYE and SIGTERM."""
from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np
import pandas as pd
import pytest

from emulator.errors import RanemuError
from tests.bridge.conftest import REPO, queue_scenario, reference_trace

AGENT = ["{python}", "-m", "tests.bridge.agent_proc", "--endpoint", "{endpoint}", "--role", "{roles}"]


@pytest.fixture(autouse=True)
def importable_tests(monkeypatch):
    # Supervised agents run `-m tests.bridge.agent_proc`: they need the repository on their path.
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def test_supervised_agent_processes_reproduce_the_in_process_trace(served, tmp_path):
    procs = [{"roles": ["queue/q0", "queue/q1"], "command": AGENT},
             {"roles": ["queue/q2"], "command": AGENT + ["--name", "solo"]}]
    sc = queue_scenario(duration=1.0, endpoint=f"ipc://{tmp_path}/bridge.sock", processes=procs)
    ref = reference_trace(sc)
    emu, bridge = served(sc, run_dir=tmp_path)
    bridge.wait_for_agents(2, 30)
    emu.run()
    got = emu.traces.table("queues").to_pandas()
    bridge.close()
    pd.testing.assert_frame_equal(ref, got)
    st = bridge.stats()
    assert st["answered"] == 30 and st["fallbacks"] == 0
    # The agents left on BYE by themselves (exit code 0), and their output went to the run folder.
    assert [p["exit_codes"] for p in st["processes"]] == [[0], [0]]
    assert len(list((tmp_path / "agents").glob("*.log"))) == 2


def test_sigkilled_agent_is_restarted_reattaches_and_resumes(served, tmp_path):
    procs = [{"roles": ["queue/q0"], "command": AGENT, "restart": "on-failure", "max_restarts": 2}]
    sc = queue_scenario(duration=3.0, deadline_ms=3000.0, processes=procs, heartbeat_s=0.2, liveness=5)
    emu, bridge = served(sc, run_dir=tmp_path)
    bridge.wait_for_agents(1, 30)
    killed = {}

    def chaos(step, now):
        if step == 5:
            killed["pid"] = bridge._supervisor.procs[0].proc.pid
            os.kill(killed["pid"], signal.SIGKILL)
        if step == 8:
            # Hold the clock until the restarted agent is back, so the test does not race it.
            deadline = time.monotonic() + 30
            while bridge.attached().get("test-agent") != ["queue/q0"] and time.monotonic() < deadline:
                time.sleep(0.01)

    emu.step_listeners.append(chaos)
    emu.run()
    df = emu.traces.table("queues").to_pandas()
    bridge.close()
    st = bridge.stats()
    p = st["points"]["queue/q0"]
    assert st["restarts"] == 1 and st["attaches"] == 2 and st["processes"][0]["exit_codes"][0] == -signal.SIGKILL
    assert st["processes"][0]["pid"] != killed["pid"]
    assert p["fallbacks"] >= 1 and p["answered"] >= 5 + 21 and p["answered"] + p["fallbacks"] == 30
    # The trace is whole: every step of every queue, finite values.
    assert len(df) == 30 * 3 and sorted(set(df["step"])) == list(range(30))
    assert np.isfinite(df[["backlog", "share", "reward"]].to_numpy()).all()


def test_processes_that_keep_failing_end_the_wait_with_their_exit_codes(served, tmp_path):
    crash = ["{python}", "-c", "import sys; print('boom'); sys.exit(3)"]
    procs = [{"roles": ["queue/q0"], "command": crash, "restart": "on-failure", "max_restarts": 1}]
    sc = queue_scenario(processes=procs)
    emu, bridge = served(sc, run_dir=tmp_path)
    with pytest.raises(RanemuError, match=r"every agent process has exited.*exited \[3, 3\].*\.log"):
        bridge.wait_for_agents(1, 60)
    log = next((tmp_path / "agents").glob("*.log")).read_text()
    assert log.count("boom") == 2
    # Points configured for agents fall back (counted) while none is attached; others use policies.
    emu.run(0.3)
    pts = bridge.stats()["points"]
    assert pts["queue/q0"]["fallbacks"] == pts["queue/q0"]["detached"] == 3 and pts["queue/q1"]["local"] == 3


def test_close_reaps_an_agent_that_ignores_bye_and_sigterm(served, tmp_path):
    stubborn = ["{python}", "-c",
                "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(120)"]
    procs = [{"roles": ["queue/q0"], "command": stubborn, "restart": "always"}]
    sc = queue_scenario(processes=procs)
    emu, bridge = served(sc, run_dir=tmp_path)
    proc = bridge._supervisor.procs[0].proc
    log = next((tmp_path / "agents").glob("*.log"))
    deadline = time.monotonic() + 30
    while "up" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    bridge.close()
    assert proc.poll() == -signal.SIGKILL  # reaped (poll() is not None) — by SIGKILL, as it ignored TERM
    assert bridge.stats()["restarts"] == 0  # shutting down is not a failure to restart from


def test_baseline_agent_refuses_an_unknown_policy(served, processes):
    sc = queue_scenario()
    emu, bridge = served(sc)
    p = processes([sys.executable, "-m", "agents.baseline", "--endpoint", bridge.endpoint, "--role", "queue/q0",
                   "--policy", "equal"], stderr=-1)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1 and b"no baselines for control-point kind 'rate'" in err
