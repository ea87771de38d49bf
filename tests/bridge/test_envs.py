"""In-process envs: API conformance, equality with push-mode runs, rewards, episodes, seeds, adapters."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

from bridge.envs import (AssignmentActions, EmulationEnv, EmulationParallelEnv, SimplexActions, cell_env,
                         make_adapter, offloading_env, offloading_parallel_env, slicing_parallel_env)
from emulator.config import scenario_from_dict
from emulator.emulation import Emulation
from tests.emulator.world import TankWorld, ValvePoint, build

TARGET = 5.0  # TankWorld's level target


class NamedTank(TankWorld):
    """A second (third, ...) tank in the same world: own point name, inflow stream and period."""

    def __init__(self, emu, name: str, period: float):
        super().__init__(emu, period=period)
        self.rng = emu.streams.get(f"inflow/{name}")
        self.point = ValvePoint(self, f"{name}/valve")


def tanks(*spec):
    return [lambda emu, n=name, p=period: NamedTank(emu, n, p) for name, period in spec]


def scenario(**kw):
    data = {"name": "tank", "seed": 7, "duration": 2.0, "topology": {"layout": {"kind": "hex", "num_sites": 1}},
            "agents": {"policies": {"valve": "proportional"}}}
    data.update(kw)
    return scenario_from_dict(data)


def proportional(obs):
    """The same law as the point's built-in `proportional` policy, computed by the agent."""
    return np.clip(np.array([obs[0] / (2 * TARGET)]), 0, 1)


def push_trace(sc, subsystems):
    emu = Emulation(sc, subsystems=subsystems)
    emu.run()
    return emu.traces.table("tank").to_pandas()


def rollout(env, seed, actions):
    """Observations and rewards of one episode under a fixed action sequence."""
    obs, _ = env.reset(seed=seed)
    out = [obs]
    rewards = []
    for a in actions:
        obs, r, term, trunc, _ = env.step(a)
        out.append(obs)
        rewards.append(r)
        if term or trunc:
            break
    return np.concatenate(out), np.array(rewards)


# -- conformance --------------------------------------------------------------------------------
def test_gymnasium_check_env_passes():
    env = EmulationEnv(scenario(), "tank/valve", subsystems=[build])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker's warnings count as failures here
        check_env(env, skip_render_check=True)
    assert env.observation_space == spaces.Box(0.0, 1e9, (1,), np.float32)
    assert env.action_space == spaces.Box(0.0, 1.0, (1,), np.float32)
    env.close()


def test_pettingzoo_parallel_api_test_passes_with_one_agent_per_point():
    env = EmulationParallelEnv(scenario(), kind="valve", subsystems=tanks(("a", 0.1), ("b", 0.1), ("c", 0.1)))
    assert env.possible_agents == ["a/valve", "b/valve", "c/valve"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=100)
    assert env.action_space("b/valve") is env.action_space("b/valve")
    assert env.observation_space("b/valve") is env.observation_space("b/valve")
    env.close()


# -- the env drives the same world the emulator runs ----------------------------------------------
def test_env_with_the_policy_law_reproduces_the_push_mode_trace_bit_for_bit():
    subs = tanks(("a", 0.1), ("b", 0.1))
    pushed = push_trace(scenario(), subs)
    env = EmulationEnv(scenario(), "a/valve", subsystems=subs, keep_traces=True)
    obs, _ = env.reset()  # unseeded first reset: the scenario's own seed
    steps = 0
    while True:
        obs, _, term, trunc, _ = env.step(proportional(obs))
        steps += 1
        if term or trunc:
            break
    assert steps == 19  # 20 epochs in 2 s at 0.1 s; the last one is the final observation
    # b decided through its scenario policy the whole time; a through the agent's copy of it. The
    # run stops at a's last epoch, before b's epoch of the same instant was raised.
    pulled = env.emulation.traces.table("tank").to_pandas()
    assert len(pushed) == 40 and len(pulled) == 39
    pd.testing.assert_frame_equal(pushed.iloc[:39], pulled)
    env.close()


def test_parallel_env_gathers_points_of_one_instant_and_matches_push_mode():
    subs = tanks(("a", 0.1), ("b", 0.1))
    pushed = push_trace(scenario(), subs)
    env = EmulationParallelEnv(scenario(), kind="valve", subsystems=subs, keep_traces=True)
    obs, infos = env.reset(seed=7)
    assert set(obs) == {"a/valve", "b/valve"} and infos["a/valve"]["step"] == 0
    while env.agents:
        obs, rew, term, trunc, infos = env.step({p: proportional(o) for p, o in obs.items()})
        assert infos["a/valve"]["time"] == infos["b/valve"]["time"]
    assert all(trunc.values()) and not any(term.values())
    pd.testing.assert_frame_equal(pushed, env.emulation.traces.table("tank").to_pandas())
    env.close()


def test_step_reward_is_the_next_epochs_reward_and_observation_its_level():
    env = EmulationEnv(scenario(), "tank/valve", subsystems=[build], keep_traces=True)
    obs, _ = env.reset(seed=11)
    rewards, levels = [], [obs[0]]
    for a in np.linspace(0.0, 1.0, 19):
        obs, r, term, trunc, info = env.step(np.array([a], np.float32))
        rewards.append(r)
        levels.append(obs[0])
        assert trunc == (info["step"] == 19) and not term
    trace = env.emulation.traces.table("tank").to_pandas()
    np.testing.assert_array_equal(trace["reward"].to_numpy()[1:], rewards)
    np.testing.assert_array_equal(np.float32(trace["level"].to_numpy()), levels)
    np.testing.assert_allclose(rewards, -np.abs(trace["level"].to_numpy()[1:] - TARGET))
    # The valve column shows each action in force over the period after it was taken.
    np.testing.assert_allclose(trace["valve"].to_numpy()[1:], np.float32(np.linspace(0.0, 1.0, 19)))
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(np.array([0.5], np.float32))
    env.close()


def test_episode_steps_truncate_each_episode_and_reset_rebuilds_the_world():
    env = EmulationEnv(scenario(episode_steps=5), "tank/valve", subsystems=[build])
    first, _ = env.reset(seed=5)
    flags = []
    for _ in range(4):
        _, _, term, trunc, _ = env.step(np.array([0.5], np.float32))
        flags.append((term, trunc))
    assert flags == [(False, False)] * 3 + [(False, True)]
    again, info = env.reset(seed=5)
    assert again == first and info["time"] == pytest.approx(0.1)  # a fresh world at t = 0
    # keep_traces=False: only the current episode's rows are held
    assert env.emulation.traces.table("tank").rows == 1
    env.close()


def test_other_points_decide_by_policy_between_the_agents_epochs():
    # The agent's point decides every 0.2 s, the other every 0.1 s: half of the other's epochs
    # fall between two env steps and must be answered by its policy.
    env = EmulationEnv(scenario(), "slow/valve", subsystems=tanks(("slow", 0.2), ("fast", 0.1)))
    env.reset(seed=1)
    steps = 0
    while True:
        _, _, term, trunc, _ = env.step(np.array([0.3], np.float32))
        steps += 1
        if term or trunc:
            break
    cps = env.emulation.control_points
    assert steps == 9
    # fast's epochs at 0.1 … 1.9 s were all answered by its policy (its 2.0 s epoch comes after the
    # episode's final observation, slow's epoch at 2.0 s).
    assert cps["fast/valve"].counters["applied"] == 19 and cps["fast/valve"].counters["fallbacks"] == 0
    assert cps["slow/valve"].counters["applied"] == 9 and cps["slow/valve"].current_action[0] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="decide together"):
        EmulationParallelEnv(scenario(), kind="valve", subsystems=tanks(("slow", 0.2), ("fast", 0.1))).possible_agents
    env.close()


# -- seeds --------------------------------------------------------------------------------------
def test_seeded_resets_repeat_and_unseeded_ones_follow_the_seed_sequence():
    env = EmulationEnv(scenario(), "tank/valve", subsystems=[build])
    actions = [np.array([a], np.float32) for a in np.random.default_rng(0).uniform(0, 1, 19)]
    obs3, rew3 = rollout(env, 3, actions)
    obs3b, rew3b = rollout(env, 3, actions)
    np.testing.assert_array_equal(obs3, obs3b)
    np.testing.assert_array_equal(rew3, rew3b)
    obs4, _ = rollout(env, 4, actions)
    assert not np.array_equal(obs3, obs4)

    env.reset(seed=3)
    next1, _ = env.reset()
    next2, _ = env.reset()
    env.reset(seed=3)
    assert env.reset()[0] == next1 and env.reset()[0] == next2  # the same sequence of worlds
    assert len({float(obs3[0]), float(next1[0]), float(next2[0])}) == 3  # ... of different worlds

    fresh = EmulationEnv(scenario(), "tank/valve", subsystems=[build])
    assert fresh.reset()[0] == env.reset(seed=7)[0]  # unseeded first reset = the scenario seed
    env.close()
    fresh.close()


# -- actions ------------------------------------------------------------------------------------
def test_raw_actions_are_checked_by_the_point_and_rejections_reported():
    env = EmulationEnv(scenario(), "tank/valve", subsystems=[build], actions="raw")
    env.reset(seed=2)
    _, _, _, _, info = env.step(np.array([0.7]))
    assert "rejected" not in info
    for bad, reason in (([0.25], "forbidden"), ([1.5], "outside"), ([0.1, 0.2], "shape")):
        _, _, _, _, info = env.step(np.array(bad))
        assert reason in info["rejected"]
    cp = env.emulation.control_points["tank/valve"]
    assert cp.current_action[0] == 0.7 and cp.counters["invalid"] == 3 and cp.counters["applied"] == 1
    env.close()


def test_simplex_adapter_maps_any_box_sample_onto_shares():
    point = {"kind": "slice_partition", "action_space": {"type": "box", "shape": [4], "low": 0.0, "high": 1.0}}
    adapter = make_adapter(point, "adapted")
    assert isinstance(adapter, SimplexActions)
    assert adapter.space() == spaces.Box(0.0, 1.0, (4,), np.float32)
    np.testing.assert_allclose(adapter.to_point(np.array([1, 3, 0, 4], np.float32)), [0.125, 0.375, 0, 0.5])
    np.testing.assert_array_equal(adapter.to_point(np.zeros(4, np.float32)), [0.25] * 4)
    space = adapter.space()
    space.seed(0)
    for _ in range(100):
        shares = adapter.to_point(space.sample())
        assert shares.sum() == pytest.approx(1.0, abs=1e-12) and np.all(shares >= 0)
    # What it cannot map goes to the point unchanged, so the point's reason reaches the agent.
    bad = np.array([np.nan, 1, 1, 1])
    assert adapter.to_point(bad) is bad
    neg = np.array([-0.5, 1, 1, 1])
    assert adapter.to_point(neg) is neg
    raw = make_adapter(point, "raw")
    assert type(raw).__name__ == "ActionAdapter" and raw.to_point(neg) is neg
    with pytest.raises(ValueError, match="'normalized', 'adapted', 'raw'"):
        make_adapter(point, "clipped")


def test_unknown_points_and_kinds_are_clear_errors():
    with pytest.raises(ValueError, match="unknown control point.*tank/valve"):
        EmulationEnv(scenario(), "tank/nozzle", subsystems=[build]).action_space
    with pytest.raises(ValueError, match="no control point of kind 'slice_partition'; kinds here: valve"):
        EmulationParallelEnv(scenario(), kind="slice_partition", subsystems=[build]).possible_agents


def test_assignment_adapter_is_multidiscrete_over_local_and_each_server():
    point = {"kind": "assignment", "action_space": {"type": "box", "shape": [5], "low": 0.0, "high": 2.0}}
    adapter = make_adapter(point, "adapted")
    assert isinstance(adapter, AssignmentActions)
    assert adapter.space() == spaces.MultiDiscrete([3] * 5)
    out = adapter.to_point(np.array([0, 1, 2, 2, 0]))
    assert out.dtype == np.float64 and out.tolist() == [0.0, 1.0, 2.0, 2.0, 0.0]
    frac = np.array([0.5, 1, 2, 2, 0])
    assert adapter.to_point(frac) is frac
    with pytest.raises(ValueError, match="integer high"):
        make_adapter({"kind": "assignment", "action_space": {"shape": [5], "low": 0.0, "high": 1.5}}, "adapted")


# -- the paper scenarios ------------------------------------------------------------------------
def test_cell_env_on_the_slicing_scenario_passes_check_env_and_adapted_shares_always_apply():
    env = cell_env(3, actions="adapted", overrides={"duration": 6})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)
    assert env.action_space == spaces.Box(0.0, 1.0, (4,), np.float32)
    env.reset(seed=1)
    env.action_space.seed(1)
    for _ in range(5):
        action = env.action_space.sample()
        _, _, _, trunc, info = env.step(action)
        assert "rejected" not in info
        in_force = env.emulation.control_points["slice/cell3"].current_action
        np.testing.assert_allclose(in_force, action / action.sum(), rtol=1e-6)
    cps = env.emulation.control_points
    assert trunc and cps["slice/cell3"].counters["invalid"] == 0
    # epochs at 1 … 6 s: the other cells answered the first five by their traffic-aware policy
    assert cps["slice/cell0"].counters["applied"] == 5 and cps["slice/cell0"].counters["fallbacks"] == 0
    env.close()


def test_cell_env_seeded_episodes_repeat_exactly():
    env = cell_env(0, overrides={"duration": 4})
    actions = [np.array(a, np.float32) for a in ([1, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], [0, 0, 0, 0])]
    a_obs, a_rew = rollout(env, 4, actions)
    b_obs, b_rew = rollout(env, 4, actions)
    c_obs, _ = rollout(env, 5, actions)
    np.testing.assert_array_equal(a_obs, b_obs)
    np.testing.assert_array_equal(a_rew, b_rew)
    assert not np.array_equal(a_obs, c_obs)
    env.close()


def test_registered_cell_env_passes_check_env_with_its_spec_determinism_checks():
    import gymnasium

    env = gymnasium.make("ranemu/SliceCell-v0", cell=5, overrides={"duration": 4})
    assert env.spec is not None and not env.spec.nondeterministic
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # With a spec the checker also compares seeded observations and makes/closes a second env.
        check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.point == "slice/cell5"
    env.close()


def test_raw_shares_that_do_not_sum_to_one_are_rejected_with_the_points_reason():
    env = cell_env(0, actions="raw", overrides={"duration": 4})
    env.reset(seed=2)
    _, _, _, _, info = env.step(np.full(4, 0.5, np.float32))
    assert "shares sum to 2" in info["rejected"]
    assert env.emulation.control_points["slice/cell0"].current_action.tolist() == [0.25] * 4  # default kept
    env.close()


def test_slicing_parallel_env_passes_parallel_api_test_with_one_agent_per_cell():
    env = slicing_parallel_env(overrides={"duration": 4})
    assert env.possible_agents == [f"slice/cell{k}" for k in range(12)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=50)
    env.close()


def test_offloading_env_passes_check_env():
    env = offloading_env(overrides={"episode_steps": 4, "duration": 20.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=True)
    env.close()


def test_offloading_env_applies_the_chosen_servers():
    env = offloading_env(overrides={"episode_steps": 4, "duration": 20.0})
    assert env.action_space == spaces.MultiDiscrete([3] * 30)  # local, server 0, server 1 per device
    env.reset(seed=1)
    choice = np.array([0, 1, 2] * 10)
    _, _, _, _, info = env.step(choice)
    assert "rejected" not in info
    assert env.emulation.control_points["mec/core"].current_action.tolist() == choice.astype(float).tolist()
    env.close()


def test_offloading_parallel_env_serves_one_agent_per_server():
    env = offloading_parallel_env(overrides={"episode_steps": 4, "duration": 20.0})
    assert env.possible_agents == ["mec/server0", "mec/server1"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=50)
    env.close()
