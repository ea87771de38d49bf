"""agents.td3: simplex actions, TD3 update mechanics, independence of the cells' learners, learning on a
real 1-cell world, reproducibility, checkpoints, and the train / run command lines (in-process and
over the wire)."""
from __future__ import annotations

import ast
import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import td3
from agents.td3 import CellAgents, TD3Config, smoothed_target_shares, to_simplex, to_simplex_torch, train
from bridge.envs import slicing_parallel_env
from bridge.remote import launch_emulator
from tests.agents.worlds import tiny_slicing

OBS_HIGH = 10.0  # the slice-partition observation's upper bound


def team(k: int = 3, seed: int = 0, **cfg) -> CellAgents:
    return CellAgents([f"slice/cell{i}" for i in range(k)], np.zeros(16), np.full(16, OBS_HIGH), 4,
                      TD3Config(**cfg), seed)


def random_batch(k: int, n: int, rng: np.random.Generator):
    """Scaled observations in [0, 1], shares on the simplex, reward = share of slice 1 (a learnable target)."""
    obs = rng.random((k, n, 16)).astype(np.float32)
    act = rng.dirichlet(np.ones(4), size=(k, n)).astype(np.float32)
    rew = act[..., 0].copy()
    nxt = rng.random((k, n, 16)).astype(np.float32)
    term = np.zeros((k, n), dtype=np.float32)
    return tuple(torch.as_tensor(a) for a in (obs, act, rew, nxt, term))


def params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_slicing(tmp_path_factory.mktemp("world") / "tiny.yaml")


@pytest.fixture(scope="module")
def trained_run(tiny, tmp_path_factory) -> Path:
    """A short `python -m agents.td3 train` run on the tiny world (its run folder)."""
    out = tmp_path_factory.mktemp("run") / "td3"
    assert td3.main(["train", "--scenario", str(tiny), "--steps", "60", "--seed", "4", "--out", str(out), "--quiet"]) == 0
    return out


# -- actions on the simplex ----------------------------------------------------------------------------
def test_actor_shares_lie_on_the_simplex_for_any_observation():
    t = team(k=4)
    rng = np.random.default_rng(1)
    for obs_scale in (0.0, 1.0, OBS_HIGH, 1e4):  # including observations far outside the bounds
        obs = {r: rng.random(16) * obs_scale for r in t.roles}
        for mode in ("greedy", "noisy", "random"):
            shares = np.stack(list(t.act(obs, mode).values()))
            assert shares.shape == (4, 4)
            assert np.all(shares >= 0.0)
            np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-6)


def test_simplex_map_matches_the_env_adapter_rule():
    np.testing.assert_allclose(to_simplex(np.array([0.2, 0.6, -0.3, 1.4])), [0.2 / 1.8, 0.6 / 1.8, 0.0, 1.0 / 1.8])
    np.testing.assert_array_equal(to_simplex(np.array([-1.0, 0.0, -0.2, 0.0])), np.full(4, 0.25))
    x = torch.tensor([[0.2, 0.6, -0.3, 1.4], [-1.0, 0.0, -0.2, 0.0]], dtype=torch.float64)
    np.testing.assert_allclose(to_simplex_torch(x).numpy(), to_simplex(x.numpy()))


def test_target_smoothing_noise_is_clipped_before_the_simplex_map():
    shares = torch.full((2, 5, 4), 0.25)
    gen = torch.Generator().manual_seed(9)
    state = gen.get_state()
    out = smoothed_target_shares(shares, std=100.0, clip=0.1, gen=gen)
    gen.set_state(state)
    noise = torch.randn(shares.shape, generator=gen) * 100.0
    # Noise that large is clipped to ±0.1 in every component, so every share before the map is 0.15 or 0.35.
    expected = to_simplex_torch(shares + 0.1 * torch.sign(noise))
    torch.testing.assert_close(out, expected)
    assert not torch.allclose(out, shares)


# -- TD3 mechanics ------------------------------------------------------------------------------------
def test_critic_updates_reduce_the_td_loss_on_a_fixed_batch():
    t = team(k=3, policy_noise=0.0)  # no smoothing noise: the loss is a deterministic function of the nets
    batch = random_batch(3, 32, np.random.default_rng(2))
    before = t.critic_loss(batch).item()
    for _ in range(150):
        t.update(batch)
    after = t.critic_loss(batch).item()
    assert after < 0.2 * before, (before, after)


def test_actor_and_targets_update_only_every_policy_delay_critic_updates():
    t = team(k=2, policy_delay=2, tau=0.1)
    batch = random_batch(2, 32, np.random.default_rng(3))
    actor0, q1_0, target0 = params(t.actor), params(t.q1), params(t.q1_target)
    t.update(batch)
    assert same(params(t.actor), actor0) and same(params(t.q1_target), target0)
    assert not same(params(t.q1), q1_0)
    q1_after_2nd_critic_step = None
    t.update(batch)
    q1_after_2nd_critic_step = params(t.q1)
    assert not same(params(t.actor), actor0)
    # Polyak: target ← target + τ (online − target), with the online critic after its second step.
    for new, old, online in zip(params(t.q1_target), target0, q1_after_2nd_critic_step):
        torch.testing.assert_close(new, old + 0.1 * (online - old))


def test_cells_learn_independently_of_each_other():
    a, b = team(k=3, seed=5), team(k=3, seed=5)
    batch_a = random_batch(3, 32, np.random.default_rng(4))
    batch_b = tuple(x.clone() for x in batch_a)
    batch_b[2][1] = 1.0 - batch_b[2][1]  # cell 1 sees other rewards; cells 0 and 2 the same data
    for _ in range(4):
        a.update(batch_a)
        b.update(batch_b)
    for net in ("actor", "q1", "q2", "q1_target"):
        pa, pb = params(getattr(a, net)), params(getattr(b, net))
        assert all(torch.equal(x[0], y[0]) and torch.equal(x[2], y[2]) for x, y in zip(pa, pb)), net
        assert not all(torch.equal(x[1], y[1]) for x, y in zip(pa, pb)), net


# -- learning on a real world ----------------------------------------------------------------------------
def mean_reward(env, policy, steps: int, seed: int) -> float:
    obs, info = env.reset(seed=seed)
    total = 0.0
    for _ in range(steps):
        obs, rew, _, _, info = env.step({r: policy(obs[r]) for r in env.agents})
        total += rew["slice/cell0"]
        if not env.agents:
            obs, info = env.reset()
    return total / steps


def test_trained_policy_beats_random_and_equal_shares_on_a_1cell_world(tiny):
    env = slicing_parallel_env(tiny)
    try:
        cfg = TD3Config(exploration_steps=300, training_steps=700, evaluation_steps=100)
        result = train(env, cfg, seed=1, baseline=None)
        rng = np.random.default_rng(0)
        random = mean_reward(env, lambda o: rng.dirichlet(np.ones(4)), 200, seed=11)
        equal = mean_reward(env, lambda o: np.full(4, 0.25), 200, seed=11)
        trained = mean_reward(env, lambda o: result.agents.act({"slice/cell0": o}, "greedy")["slice/cell0"], 200, seed=11)
    finally:
        env.close()
    assert random < 0.2 and equal < 0.5, (random, equal)
    assert trained > 0.85, (trained, random, equal)
    assert result.summary()["agent_eval_mean"] > 0.85


def test_same_seed_gives_the_same_run_bit_for_bit(tiny):
    cfg = TD3Config(exploration_steps=30, training_steps=45, evaluation_steps=5)
    runs = []
    for seed in (7, 7, 8):
        env = slicing_parallel_env(tiny)
        try:
            runs.append(train(env, cfg, seed=seed, baseline=None))
        finally:
            env.close()
    a, b, c = runs
    np.testing.assert_array_equal(a.rewards, b.rewards)
    np.testing.assert_array_equal(a.critic_loss, b.critic_loss)
    assert same(params(a.agents.actor), params(b.agents.actor))
    assert not np.array_equal(a.rewards, c.rewards)


# -- checkpoints ------------------------------------------------------------------------------------------
def test_save_load_round_trip_gives_identical_actions_and_learning(tmp_path):
    t = team(k=3, seed=2)
    rng = np.random.default_rng(6)
    for _ in range(5):
        t.update(random_batch(3, 32, rng))
    t.save(tmp_path / "ck")
    back = CellAgents.load(tmp_path / "ck")
    obs = {r: rng.random(16) * OBS_HIGH for r in t.roles}
    want = t.act(obs, "greedy")
    got = back.act(obs, "greedy")
    for r in t.roles:
        np.testing.assert_array_equal(got[r], want[r])
    # One role alone (as a remote agent for that cell would load it) acts as it did in the team.
    solo = CellAgents.load(tmp_path / "ck", roles=["slice/cell2"])
    np.testing.assert_array_equal(solo.act({"slice/cell2": obs["slice/cell2"]}, "greedy")["slice/cell2"],
                                  want["slice/cell2"])
    # Optimiser moments and the update count came back too: the next update is the same.
    batch = random_batch(3, 32, rng)
    back.noise_gen.set_state(t.noise_gen.get_state())
    assert back.updates == t.updates
    t.update(batch)
    back.update(batch)
    assert same(params(back.actor), params(t.actor)) and same(params(back.q2), params(t.q2))


def test_load_names_missing_roles(tmp_path):
    team(k=2).save(tmp_path / "ck")
    with pytest.raises(ValueError, match="no checkpoint for slice/cell7"):
        CellAgents.load(tmp_path / "ck", roles=["slice/cell7"])
    with pytest.raises(FileNotFoundError, match="no meta.json"):
        CellAgents.load(tmp_path)


# -- command lines ---------------------------------------------------------------------------------------
def test_train_cli_writes_csv_png_summary_and_checkpoints(trained_run, tiny):
    rows = list(csv.DictReader(open(trained_run / "rewards.csv")))
    assert len(rows) == 60
    cfg = TD3Config().with_total(60)
    assert [r["phase"] for r in rows] == [cfg.phase(t) for t in range(60)]
    assert cfg.exploration_steps + cfg.training_steps + cfg.evaluation_steps == 60
    assert (trained_run / "rewards.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["steps"] == 60 and summary["seed"] == 4
    assert summary["agent_last_mean"] == pytest.approx(np.mean([float(r["agent_mean"]) for r in rows]), abs=1e-6)
    # The baseline column is the traffic-aware policy (shares ∝ offered demand) on the same world and seed.
    env = slicing_parallel_env(tiny)
    try:
        obs, info = env.reset(seed=4)
        expected = []
        for _ in range(60):
            acts = {r: np.asarray(info[r]["demand_bps"]) / np.sum(info[r]["demand_bps"]) for r in env.agents}
            obs, rew, _, _, info = env.step(acts)
            expected.append(rew["slice/cell0"])
            if not env.agents:
                obs, info = env.reset()
    finally:
        env.close()
    np.testing.assert_allclose([float(r["baseline_mean"]) for r in rows], expected, atol=1e-6)
    back = CellAgents.load(trained_run / "checkpoints")
    assert back.roles == ["slice/cell0"] and back.cfg == cfg


def test_run_cli_acts_over_the_wire_like_in_process(trained_run, tiny, tmp_path):
    ck = trained_run / "checkpoints"
    with launch_emulator(tiny, params=["duration=2.0"], wait_agents=1) as emu:
        code = td3.main(["run", "--endpoint", emu.endpoint, "--checkpoint", str(ck), "--out", str(tmp_path / "remote.csv"),
                         "--timeout", "30"])
    assert code == 0, emu.log()
    remote = [float(r["agent_mean"]) for r in csv.DictReader(open(tmp_path / "remote.csv"))]
    assert len(remote) == 19  # 20 epochs in 2 s, the last one ends the episode
    env = slicing_parallel_env(tiny, overrides={"duration": 2.0})
    try:
        local = td3.serve_remote(env, CellAgents.load(ck))
    finally:
        env.close()
    np.testing.assert_allclose(remote, local, atol=1e-6)


def test_run_cli_keeps_learning_online_and_saves(trained_run, tiny, tmp_path):
    ck = trained_run / "checkpoints"
    with launch_emulator(tiny, params=["duration=5.0"], wait_agents=1) as emu:
        code = td3.main(["run", "--endpoint", emu.endpoint, "--checkpoint", str(ck), "--learn",
                         "--save", str(tmp_path / "online"), "--timeout", "30"])
    assert code == 0, emu.log()
    before, after = CellAgents.load(ck), CellAgents.load(tmp_path / "online")
    # 49 steps in 5 s; with a batch of 32 the replay allows an update from the 32nd step on: 18 updates.
    assert after.updates - before.updates == 18
    assert not same(params(after.actor), params(before.actor))
    assert json.loads((tmp_path / "online" / "meta.json").read_text())["online_steps"] == 49


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys, tiny):
    assert td3.main(["run", "--checkpoint", str(tmp_path), "--endpoint", "ipc:///nonexistent"]) == 2
    assert "no meta.json" in capsys.readouterr().err
    assert td3.main(["train", "--param", "duration", "--quiet"]) == 2
    assert "PATH=VALUE" in capsys.readouterr().err
    assert td3.main(["train", "--gamma", "1.5", "--quiet"]) == 2
    assert "gamma must be in [0, 1), got 1.5" in capsys.readouterr().err
    assert td3.main(["train", "--param", "ran.num_prbs=[1", "--quiet"]) == 2
    assert "--param ran.num_prbs: cannot parse '[1' as YAML" in capsys.readouterr().err
    assert td3.main(["train", "--param", "ran.decision_period_s=-1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "ran.decision_period_s: Input should be greater than 0" in err and "Traceback" not in err
    assert td3.main(["train", "--scenario", str(tiny), "--baseline", "bogus", "--steps", "5", "--quiet",
                     "--out", str(tmp_path / "run")]) == 2
    assert "no baseline 'bogus' for kind 'slice_partition'; known: equal, traffic_aware" in capsys.readouterr().err


def test_config_flags_cover_every_hyperparameter():
    args = td3.build_parser().parse_args(["train", "--actor-hidden", "8", "4", "--gamma", "0.5", "--steps", "100"])
    cfg = td3._config_from_args(args)
    assert cfg.actor_hidden == (8, 4) and cfg.gamma == 0.5 and cfg.total_steps == 100
    assert dataclasses.replace(TD3Config()) == td3._config_from_args(td3.build_parser().parse_args(["train"]))


@pytest.mark.parametrize("module", ["td3.py", "vae.py", "transfer.py", "slicing_metrics.py", "experiments/jobs.py",
                                    "experiments/slicing_tl.py", "experiments/slicing_calibration.py"])
def test_agents_do_not_import_the_emulator(module):
    tree = ast.parse((Path(td3.__file__).parent / module).read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert names and not [n for n in names if n.split(".")[0] == "emulator"]


def test_train_cli_writes_the_paper_metrics_of_both_methods(trained_run):
    import pandas as pd

    kpis = pd.read_parquet(trained_run / "kpis.parquet")
    assert set(kpis["method"]) == {"td3", "traffic_aware"}
    rows = list(csv.DictReader(open(trained_run / "rewards.csv")))
    base = kpis[(kpis["method"] == "traffic_aware") & (kpis["slice"] == 0)].sort_values("step")
    assert len(base) == 60  # one cell: one row per step and slice
    np.testing.assert_allclose(base["reward"], [float(r["baseline_mean"]) for r in rows], atol=1e-6)
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["phase"] == "evaluation" and set(metrics["methods"]) == {"td3", "traffic_aware"}
    for name in ("ccdf_min_thr_sat.png", "cdf_max_delay.png"):
        assert (trained_run / name).read_bytes()[:4] == b"\x89PNG"


def test_continuous_world_never_resets(tmp_path):
    short = tiny_slicing(tmp_path / "short.yaml", duration=0.5)  # episodic: 4 steps per world
    env = slicing_parallel_env(short, overrides=td3.continuous_world())
    try:
        _, info = env.reset(seed=1)
        times = []
        for _ in range(12):
            _, _, term, trunc, info = env.step({r: np.full(4, 0.25) for r in env.agents})
            times.append(info["slice/cell0"]["time"])
            assert env.agents and not any(term.values()) and not any(trunc.values())
    finally:
        env.close()
    np.testing.assert_allclose(np.diff(times), 0.1)  # one world: time runs on past the file's duration
