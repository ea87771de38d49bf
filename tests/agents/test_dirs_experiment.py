"""DIRS as a deployed policy (in-process plugin, agent processes over the bridge) and the quick experiment."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.dirs.networks import Ensemble
from agents.dirs.policy import load, save
from bridge.mec_model import max_vote
from bridge.server import AgentBridge
from emulator.config import load_scenario
from emulator.emulation import Emulation, PolicyDecider
from emulator.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "mec-paper.yaml"
N = 6


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """An untrained but fixed ensemble for N = 6 devices, 2 servers (weights seeded)."""
    torch.manual_seed(5)
    ens = Ensemble(N, 2)
    ens.fit_input(np.random.default_rng(0).normal(-65, 8, (4, 2, N)))
    return save(ens, tmp_path / "dirs.pt", {"note": "test"})


def paper(checkpoint: Path, epochs: int = 4, **agents):
    spec = f"agents.dirs.policy:load?checkpoint={checkpoint}"
    ov = {"mec.num_devices": N, "duration": epochs * 3600.0, "agents.policies.offloading": spec}
    ov.update({f"agents.{k}": v for k, v in agents.items()})
    return load_scenario(SCENARIO, ov)


class Recording(PolicyDecider):
    def __init__(self, policies):
        super().__init__(policies)
        self.seen = []

    def decide(self, emu, indications):
        self.seen.extend(indications)
        return super().decide(emu, indications)


def test_a_checkpoint_is_an_in_process_policy_of_the_offloading_points(checkpoint):
    sc = paper(checkpoint)
    dec = Recording(sc.agents.policies)
    emu = Emulation(sc, decider=dec)
    emu.run()
    tasks = emu.traces.table("mec_tasks").to_pandas()
    emu.close()
    ens = Ensemble(N, 2)
    ens.load_state_dict(torch.load(checkpoint, weights_only=True)["state_dict"])
    for step in range(3):
        gain_db = np.stack([ind.observation[:, 0] for ind in dec.seen if ind.step == step])
        expect = max_vote(ens.scores(gain_db))
        got = tasks[tasks["step"] == step].sort_values("device")["target"].to_numpy()
        assert got.tolist() == expect.tolist()
    assert len(set(tasks["target"])) > 1  # not a constant policy: the test could tell


def test_a_checkpoint_for_another_size_is_refused_as_a_config_error(checkpoint):
    with pytest.raises(ConfigError, match="agents.policies.offloading.*8 devices.*trained for 6"):
        Emulation(load_scenario(SCENARIO, {"mec.num_devices": 8, "agents.policies.offloading":
                                           f"agents.dirs.policy:load?checkpoint={checkpoint}"}))
    with pytest.raises(ValueError, match="no DIRS checkpoint"):
        load({"kind": "offloading", "name": "mec/server0", "observation_space": {"shape": [N, 5]}},
             checkpoint="/nonexistent/dirs.pt")


def test_dirs_agent_processes_attach_over_the_bridge_and_act_as_in_process(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    ref = Emulation(paper(checkpoint))
    ref.run()
    want = ref.traces.table("mec_tasks").to_pandas()
    ref.close()
    cmd = ["{python}", "-m", "agents.dirs.policy", "--checkpoint", str(checkpoint), "--endpoint", "{endpoint}",
           "--role", "{roles}", "--give-up", "20"]
    procs = [{"roles": [f"mec/server{j}"], "command": cmd, "restart": "never"} for j in range(2)]
    sc = paper(checkpoint, endpoint="tcp://127.0.0.1:*", pub_endpoint=None, deadline_ms=20000.0, processes=procs)
    emu = Emulation(sc)
    bridge = AgentBridge(emu, sc.agents, tmp_path)
    try:
        bridge.start()
        bridge.wait_for_agents(2, 60)
        emu.run()
        got = emu.traces.table("mec_tasks").to_pandas()
    finally:
        bridge.close()
        emu.close(report=False)
    st = bridge.stats()
    assert st["fallbacks"] == 0 and st["answered"] == 2 * 5  # epochs at 0, 3600, ..., 14400 s
    # Each process ran once and was reaped: it left on BYE (0) or, when Python + torch teardown outlasts the
    # supervisor's 2 s grace on a loaded machine, at its SIGTERM — never a crash or a restart.
    assert all(len(p["exit_codes"]) == 1 and p["exit_codes"][0] in (0, -signal.SIGTERM) for p in st["processes"])
    assert got["target"].tolist() == want["target"].tolist()
    assert np.array_equal(got["cost"].to_numpy(), want["cost"].to_numpy())


def test_quick_experiment_writes_every_output(tmp_path):
    from agents.experiments.mec_dirs import main

    out = tmp_path / "quick"
    assert main(["--quick", "--out", str(out)]) == 0
    for name in ("table2", "fig5_loss", "fig6_time_energy", "fig7_levy", "fig8_reward", "table3", "fig9_devices",
                 "fig10_servers"):
        assert (out / f"{name}.csv").stat().st_size > 0 and (out / f"{name}.png").stat().st_size > 1000
    assert (out / "table2.md").exists() and (out / "dirs.pt").exists() and (out / "gaps.csv").exists()
    t3 = (out / "table3.md").read_text()
    assert "2970.84" in t3 and "0.0348" in t3 and "DDPG" in t3 and "Actor-Critic" in t3
    summary = json.loads((out / "summary.json").read_text())
    # The applied DIRS decisions' realised Φ equals the cost model the search optimises.
    assert summary["realised_vs_model_max_rel"] <= 1e-9  # float rounding of SimPy times near 10^4 s
    assert {g["reference"] for g in summary["gaps"]} >= {"greedy", "optimal"}
    # A second run into the same folder is refused with one line, unless resumed.
    assert main(["--quick", "--out", str(out)]) == 2
