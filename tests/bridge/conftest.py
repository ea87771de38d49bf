"""Fixtures for bridge tests: a queue-world emulation, a served bridge, agent threads and processes
that are always stopped and reaped, even when a test fails."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bridge.client import run_agent
from bridge.server import AgentBridge
from emulator.config import scenario_from_dict
from emulator.emulation import Emulation
from tests.bridge.world import builder

REPO = Path(__file__).resolve().parents[2]


def queue_scenario(k: int = 3, duration: float = 1.0, **agents):
    cfg = {"policies": {"rate": "proportional"}, "endpoint": "tcp://127.0.0.1:*", "pub_endpoint": None,
           "deadline_ms": 10000.0, "heartbeat_s": 0.2, "liveness": 5}
    cfg.update(agents)
    clock = cfg.pop("clock", None)
    data = {"name": "queues", "seed": 11, "duration": duration,
            "topology": {"layout": {"kind": "hex", "num_sites": 1}}, "agents": cfg}
    if clock:
        data["clock"] = clock
    return scenario_from_dict(data)


def queue_emulation(sc, k: int = 3, **kw) -> Emulation:
    return Emulation(sc, subsystems=[builder(k, **kw)])


def reference_trace(sc, k: int = 3):
    """The in-process run of the same scenario (the policies in `agents.policies`)."""
    emu = queue_emulation(sc, k)
    emu.run()
    df = emu.traces.table("queues").to_pandas()
    emu.close()
    return df


@pytest.fixture
def served(agent_threads, processes):
    """served(sc, k) -> (emu, bridge): started; closed (agents told BYE, processes reaped) afterwards.

    It depends on the agent fixtures so that it is torn down first: agents leave on the BYE."""
    made = []

    def make(sc, k: int = 3, run_dir=None, **kw):
        emu = queue_emulation(sc, k, **kw)
        bridge = AgentBridge(emu, sc.agents, run_dir)
        made.append((emu, bridge))
        bridge.start()
        return emu, bridge

    yield make
    for emu, bridge in made:
        bridge.close()
        emu.close()


@pytest.fixture
def agent_threads():
    """agent_threads(endpoint, roles, policy, **kw) starts run_agent in a thread; joined afterwards."""
    threads = []

    def start(endpoint, roles, policy, **kw):
        kw.setdefault("timeout_s", 5.0)
        kw.setdefault("give_up_s", 10.0)
        result = {}

        def target():
            try:
                result["decisions"] = run_agent(endpoint, roles, policy, **kw)
            except BaseException as exc:  # surfaced by the test through `result`
                result["error"] = exc

        t = threading.Thread(target=target, daemon=True)
        t.start()
        threads.append(t)
        return result

    yield start
    for t in threads:
        t.join(timeout=15.0)


@pytest.fixture
def processes():
    """processes(argv) starts a child process; every one is killed and reaped afterwards."""
    procs: list[subprocess.Popen] = []

    def spawn(argv, **kw):
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        p = subprocess.Popen(argv, cwd=REPO, env=env, **kw)
        procs.append(p)
        return p

    yield spawn
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)


def agent_argv(endpoint: str, roles: list[str], *extra: str) -> list[str]:
    return [sys.executable, "-m", "tests.bridge.agent_proc", "--endpoint", endpoint, "--role", ",".join(roles), *extra]
