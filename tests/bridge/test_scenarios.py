"""The real scenarios over the wire: 12 baseline agent processes drive the 12-cell slicing scenario
and reproduce the in-process trace bit for bit; the MEC baselines likewise."""
from __future__ import annotations

import pandas as pd
from bridge.server import AgentBridge
from emulator.config import load_scenario
from emulator.emulation import Emulation
from tests.bridge.conftest import REPO


def traces(emu):
    return {name: t.to_pandas() for name, t in sorted(emu.traces.tables.items())}


def run_both(path, overrides, processes, wait, tmp_path):
    ref_sc = load_scenario(REPO / "scenarios" / path, overrides)
    emu = Emulation(ref_sc)
    emu.run()
    ref = traces(emu)
    emu.close()
    sc = load_scenario(REPO / "scenarios" / path, {**overrides, "agents.endpoint": f"ipc://{tmp_path}/b.sock",
                                                   "agents.pub_endpoint": None, "agents.deadline_ms": 20000,
                                                   "agents.processes": processes})
    (tmp_path / "run").mkdir()
    emu = Emulation(sc, run_dir=tmp_path / "run")
    bridge = AgentBridge(emu, sc.agents, tmp_path / "run")
    try:
        bridge.start()
        bridge.wait_for_agents(wait, 120)
        emu.run()
        got = traces(emu)
    finally:
        bridge.close()
        emu.close(report=False)
    return ref, got, bridge.stats()


def test_twelve_baseline_processes_reproduce_the_slicing_trace(tmp_path):
    procs = [{"roles": [f"slice/cell{k}"], "restart": "never",
              "command": ["{python}", "-m", "agents.baseline", "--endpoint", "{endpoint}", "--role", "{role}",
                          "--policy", "traffic_aware"]} for k in range(12)]
    ref, got, st = run_both("slicing-12cell.yaml", {"duration": 6}, procs, 12, tmp_path)
    assert st["answered"] == 12 * 6 and st["fallbacks"] == 0 and st["attaches"] == 12
    assert ref.keys() == got.keys() and ref
    for name in ref:
        pd.testing.assert_frame_equal(ref[name], got[name])


def test_mec_baseline_processes_reproduce_the_offloading_trace(tmp_path):
    sc = load_scenario(REPO / "scenarios" / "mec-dirs.yaml")
    points = list(Emulation(sc).control_points)
    assert sc.agents.policies, "mec-dirs.yaml names no baseline to reproduce"
    # One process serves every MEC point (servers and core): many roles on one connection.
    procs = [{"roles": points, "restart": "never",
              "command": ["{python}", "-m", "agents.baseline", "--endpoint", "{endpoint}", "--role", "{roles}",
                          *[f"--policy={k}={v}" for k, v in sc.agents.policies.items()]]}]
    ref, got, st = run_both("mec-dirs.yaml", {"duration": min(sc.duration, 15.0)}, procs, 1, tmp_path)
    assert st["fallbacks"] == 0 and st["answered"] > 0 and st["invalid"] == 0
    assert ref.keys() == got.keys() and ref
    for name in ref:
        pd.testing.assert_frame_equal(ref[name], got[name])
