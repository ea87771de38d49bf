"""Remote envs against an emulator process on loopback: API conformance, in-place resets, and the
same trajectories as the in-process envs for the same seeds and policy.

The emulator runs as a separate process (this module's `serve` entry point, the queue test world
behind an AgentBridge), bound to an ephemeral loopback port, always reaped.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

from bridge.envs import EmulationEnv, EmulationParallelEnv, cell_env, offloading_env, slicing_parallel_env
from bridge.remote import RemoteEnv, RemoteParallelEnv, env_steps_per_second, launch_emulator
from emulator.config import scenario_from_dict
from tests.bridge.world import builder

REPO = Path(__file__).resolve().parents[2]
ROLES = ["queue/q0", "queue/q1", "queue/q2"]


def scenario_data(seed: int = 7, duration: float = 1.0, deadline_ms: float = 20000.0, endpoint: str = "tcp://127.0.0.1:*"):
    return {"name": "queues", "seed": seed, "duration": duration,
            "topology": {"layout": {"kind": "hex", "num_sites": 1}},
            "agents": {"policies": {"rate": "proportional"}, "endpoint": endpoint, "pub_endpoint": None,
                       "deadline_ms": deadline_ms, "heartbeat_s": 0.5, "liveness": 20}}


def serve(argv: list[str] | None = None) -> int:
    """The emulator process: the queue world behind an AgentBridge; prints its endpoint, runs, exits."""
    from bridge.server import AgentBridge
    from emulator.emulation import Emulation

    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--until", type=float, default=None)
    ap.add_argument("--wait-agents", type=int, default=1)
    args = ap.parse_args(argv)
    sc = scenario_from_dict(scenario_data(args.seed, args.duration))
    emu = Emulation(sc, subsystems=[builder()])
    bridge = AgentBridge(emu, sc.agents)
    try:
        bridge.start()
        print(bridge.endpoint, flush=True)
        bridge.wait_for_agents(args.wait_agents, 30.0)
        emu.run(args.until)
    finally:
        bridge.close()
        emu.close()
    print(f"resets={bridge.stats()['resets']}", flush=True)
    return 0


@contextmanager
def emulator_process(wait_agents: int = 1, seed: int = 7, duration: float = 1.0, until: float | None = None):
    """Start the emulator process; yield (endpoint, proc); always reap it."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    extra = [] if until is None else ["--until", str(until)]
    proc = subprocess.Popen([sys.executable, "-m", "tests.bridge.test_remote_envs", "--seed", str(seed),
                             "--duration", str(duration), "--wait-agents", str(wait_agents), *extra],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=60.0)
        if not line or not line[0].startswith("tcp://"):
            proc.kill()
            raise RuntimeError(f"emulator process did not report its endpoint: {proc.stderr.read()[-2000:]}")
        yield line[0].strip(), proc
    finally:
        if proc.poll() is None:
            try:
                proc.wait(timeout=15.0)  # it finishes its run once its agents have said BYE
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5.0)
        for stream in (proc.stdout, proc.stderr):
            stream.close()


def finish(proc) -> str:
    """The rest of the emulator's stdout after it exited (the env must have closed first)."""
    proc.wait(timeout=15.0)
    return proc.stdout.read()


def proportional(obs):
    """A deterministic agent policy on the queue world (backlog-driven service share)."""
    return np.clip(np.array([obs[0] / 20.0], dtype=np.float32), 0.0, 1.0)


def episodes(env, seeds, policy=proportional):
    """Full episodes (seeded or not) under `policy`: every returned item, for exact comparison."""
    out = []
    for seed in seeds:
        obs, info = env.reset(seed=seed)
        out.append(("reset", obs, info))
        while True:
            obs, r, term, trunc, info = env.step(policy(obs))
            out.append(("step", obs, r, term, trunc, info))
            if term or trunc:
                break
    return out


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x[0] == y[0]
        for u, v in zip(x[1:], y[1:]):
            if isinstance(u, np.ndarray):
                assert u.dtype == v.dtype
                np.testing.assert_array_equal(u, v)
            elif isinstance(u, dict):
                assert u.keys() == v.keys()
                for k in u:
                    np.testing.assert_array_equal(u[k], v[k])
            else:
                assert type(u) is type(v) and u == v


def local_scenario(**kw):
    return scenario_from_dict(scenario_data(**kw))


# -- conformance --------------------------------------------------------------------------------
def test_check_env_passes_on_the_remote_env_and_resets_happen_in_the_emulator():
    with emulator_process() as (endpoint, proc):
        env = RemoteEnv(endpoint, "queue/q1", timeout_s=20.0)
        try:
            assert env.observation_space == EmulationEnv(local_scenario(), "queue/q1",
                                                          subsystems=[builder()]).observation_space
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                check_env(env, skip_render_check=True)
        finally:
            env.close()
        out = finish(proc)
    # check_env resets 10 times (seeded and not); each was one RESET inside the same process.
    assert proc.returncode == 0 and "resets=" in out and int(out.split("resets=")[1]) >= 8


def test_parallel_api_test_passes_on_the_remote_parallel_env():
    with emulator_process() as (endpoint, proc):
        env = RemoteParallelEnv(endpoint, ROLES, timeout_s=20.0)
        try:
            assert env.possible_agents == ROLES
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                parallel_api_test(env, num_cycles=100)
        finally:
            env.close()


# -- same agent code, same trajectory ------------------------------------------------------------
def test_remote_env_reproduces_the_in_process_trajectory_bit_for_bit():
    seeds = [5, None, None, 11]  # explicit and derived world seeds, episodes ending at the horizon
    local = episodes(EmulationEnv(local_scenario(), "queue/q0", subsystems=[builder()]), seeds)
    with emulator_process() as (endpoint, proc):
        env = RemoteEnv(endpoint, "queue/q0", timeout_s=20.0)
        try:
            remote = episodes(env, seeds)
        finally:
            env.close()
    assert len(local) == 4 * 10  # 10 epochs per 1 s episode: a reset and 9 steps
    assert_same(local, remote)
    # four different worlds: the derived seeds are neither the explicit ones nor each other
    per_episode = [np.stack([item[1] for item in local[i:i + 10]]).tobytes() for i in range(0, 40, 10)]
    assert len(set(per_episode)) == 4


def test_remote_parallel_env_matches_in_process_and_reports_rejections_alike():
    def forbidden_for_q1(obs):
        return {p: (np.array([0.25], np.float32) if p == "queue/q1" else proportional(o)) for p, o in obs.items()}

    def run(env):
        out = []
        obs, infos = env.reset(seed=3)
        out.append((obs, infos))
        while env.agents:
            obs, rew, term, trunc, infos = env.step(forbidden_for_q1(obs))
            out.append((obs, rew, term, trunc, infos))
        return out

    local = run(EmulationParallelEnv(local_scenario(), kind="rate", subsystems=[builder()], actions="raw"))
    with emulator_process() as (endpoint, proc):
        env = RemoteParallelEnv(endpoint, ROLES, actions="raw", timeout_s=20.0)
        try:
            remote = run(env)
        finally:
            env.close()
    assert len(local) == len(remote) == 10
    for a, b in zip(local, remote):
        for da, db in zip(a, b):
            assert da.keys() == db.keys()
            for p in da:
                if isinstance(da[p], dict):
                    assert da[p].keys() == db[p].keys()
                    for k in da[p]:
                        np.testing.assert_array_equal(da[p][k], db[p][k])
                else:
                    np.testing.assert_array_equal(da[p], db[p])
    assert all("forbidden" in step[4]["queue/q1"]["rejected"] for step in local[1:])
    assert all("rejected" not in step[4]["queue/q0"] for step in local[1:])


def test_an_emulator_that_ends_its_run_early_ends_the_episode_and_refuses_reset():
    from bridge.client import ServerBye

    # The run stops at 0.5 s (`--until`) although the scenario (and so the horizon flag) says 1 s.
    with emulator_process(until=0.5) as (endpoint, proc):
        env = RemoteEnv(endpoint, "queue/q2", timeout_s=20.0)
        try:
            obs, _ = env.reset(seed=1)
            flags = []
            while True:
                obs, r, term, trunc, info = env.step(proportional(obs))
                flags.append(trunc)
                if term or trunc:
                    break
            # epochs at 0.1 … 0.5 s: four steps in the world, then the run's end
            assert flags == [False] * 4 + [True]
            assert r == 0.0 and "ended the run" in info["end"]
            with pytest.raises(RuntimeError, match="call reset"):
                env.step(proportional(obs))
            with pytest.raises(ServerBye, match="ended the run"):
                env.reset()
        finally:
            env.close()
        assert finish(proc).startswith("resets=1") and proc.returncode == 0


# -- the paper scenarios behind `ranemu run` --------------------------------------------------------
def slice_policy(obs):
    """Deterministic: shares follow each slice's load (observation entries 4..7) plus a floor."""
    return (obs[4:8] + 0.05).astype(np.float32)


def test_remote_cell_env_on_ranemu_run_reproduces_the_in_process_cell_env():
    seeds = [3, None]
    local = episodes(cell_env(0, overrides={"duration": 5}), seeds, slice_policy)
    with launch_emulator("scenarios/slicing-12cell.yaml", ["duration=5", "output.report=false"]) as em:
        env = RemoteEnv(em.endpoint, "slice/cell0", actions="normalized", timeout_s=30.0)
        try:
            remote = episodes(env, seeds, slice_policy)
        finally:
            env.close()
    assert em.process.returncode == 0, em.log_text[-2000:]
    assert "resets=2" in em.log_text and "invalid=0" in em.log_text
    assert len(local) == 2 * 5  # epochs at 1 … 5 s: a reset and 4 steps per episode
    assert_same(local, remote)


def test_remote_parallel_env_over_twelve_cells_passes_parallel_api_test_and_matches_in_process():
    def run(env):
        obs, _ = env.reset(seed=8)
        rewards = []
        while env.agents:
            obs, rew, _, _, _ = env.step({p: slice_policy(o) for p, o in obs.items()})
            rewards.append([rew[p] for p in sorted(rew)])
        return np.array(rewards)

    local = run(slicing_parallel_env(overrides={"duration": 4}))
    cells = [f"slice/cell{k}" for k in range(12)]
    with launch_emulator("scenarios/slicing-12cell.yaml", ["duration=4", "output.report=false"]) as em:
        env = RemoteParallelEnv(em.endpoint, cells, timeout_s=30.0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                parallel_api_test(env, num_cycles=50)
            remote = run(env)
        finally:
            env.close()
    assert em.process.returncode == 0, em.log_text[-2000:]
    assert local.shape == (3, 12)
    np.testing.assert_array_equal(local, remote)


def test_remote_offloading_env_sends_multidiscrete_assignments_and_matches_in_process():
    def nearest_or_local(obs):
        # columns 0..1: channel gain (dB) to each server; offload to the better one when it is good
        gains = obs[:, :2]
        best = np.argmax(gains, axis=1)
        return np.where(gains.max(axis=1) > -80.0, best + 1, 0).astype(np.int64)

    params = ["mec.control=core", "episode_steps=4", "duration=20", "output.report=false"]
    local = episodes(offloading_env(overrides={"episode_steps": 4, "duration": 20}),
                     [2, None], nearest_or_local)
    with launch_emulator("scenarios/mec-dirs.yaml", params) as em:
        env = RemoteEnv(em.endpoint, "mec/core", timeout_s=30.0)
        try:
            remote = episodes(env, [2, None], nearest_or_local)
        finally:
            env.close()
    assert em.process.returncode == 0, em.log_text[-2000:]
    assert len(local) == 2 * 4
    assert set(nearest_or_local(local[0][1]).tolist()) == {0, 1, 2}  # local and both servers in play
    assert_same(local, remote)


def test_env_steps_per_second_measures_both_envs():
    local = env_steps_per_second(lambda: EmulationEnv(local_scenario(), "queue/q0", subsystems=[builder()]),
                                 proportional, steps=30)
    assert local["steps"] == 30 and local["episodes"] == 4 and local["steps_per_s"] > 0  # 9 steps per episode


if __name__ == "__main__":
    sys.exit(serve())
