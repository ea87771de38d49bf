"""The envs accept what RL libraries hand them: normalised action modes, render_mode, explicit
overrides, pickling, agent ids without `/`, flat observations, bundled scenarios from anywhere."""
from __future__ import annotations

import pickle
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from pettingzoo.test import parallel_api_test

from bridge.bundled import bundled_scenario, resolve_scenario
from bridge.envs import (SOFTMAX_SCALE, AffineActions, RoundedAssignment, SoftmaxShares, cell_env, make_adapter,
                         observation_space, offloading_env, offloading_parallel_env, slicing_parallel_env)
from bridge.wrappers import SafeAgentIds, safe_id
from emulator.errors import RanemuError

SHARES = {"kind": "slice_partition", "action_space": {"type": "box", "shape": [4], "low": 0.0, "high": 1.0}}
CORE = {"kind": "assignment", "action_space": {"type": "box", "shape": [6], "low": 0.0, "high": 2.0}}
SCORES = {"kind": "offloading", "action_space": {"type": "box", "shape": [3], "low": 0.0, "high": 1.0}}
SHORT = {"duration": 4}
MEC_SHORT = {"episode_steps": 3, "duration": 15.0}


# -- action modes ---------------------------------------------------------------------------------
def test_softmax_shares_are_the_softmax_of_three_x_and_zero_is_the_equal_split():
    a = make_adapter(SHARES, "normalized")
    assert isinstance(a, SoftmaxShares) and a.space() == spaces.Box(-1.0, 1.0, (4,), np.float32)
    np.testing.assert_allclose(a.to_point(np.zeros(4)), [0.25] * 4)
    x = np.array([1.0, -1.0, 0.0, 0.5])
    e = np.exp(3.0 * x)
    np.testing.assert_allclose(a.to_point(x), e / e.sum(), rtol=1e-12)
    # one slice at +1, the others at -1: 1 / (1 + 3 e^-6) = 99.26 %; out-of-range values are clipped
    assert a.to_point(np.array([5.0, -7.0, -1.0, -1.0]))[0] == pytest.approx(1 / (1 + 3 * np.exp(-2 * SOFTMAX_SCALE)))
    bad = np.array([np.nan, 0, 0, 0])
    assert a.to_point(bad) is bad  # the point's own reason reaches info["rejected"]


def test_rounded_assignment_splits_the_symmetric_box_into_equal_intervals():
    a = make_adapter(CORE, "normalized")
    assert isinstance(a, RoundedAssignment) and a.space() == spaces.Box(-1.0, 1.0, (6,), np.float32)
    # M = 2: three choices, each a third of [-1, 1]: [-1, -1/3) → 0, [-1/3, 1/3) → 1, [1/3, 1] → 2
    out = a.to_point(np.array([-1.0, -0.34, -0.33, 0.33, 0.34, 1.0]))
    assert out.tolist() == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]


def test_affine_actions_map_the_symmetric_box_onto_the_points_box():
    a = make_adapter(SCORES, "normalized")
    assert isinstance(a, AffineActions)
    np.testing.assert_allclose(a.to_point(np.array([-1.0, 0.0, 0.5])), [0.0, 0.5, 0.75])


def test_flat_observation_space_keeps_the_bounds_in_row_major_order():
    spec = {"type": "box", "shape": [2, 3], "low": -1.0, "high": 2.0}
    flat = observation_space(spec, "flat")
    assert flat == spaces.Box(-1.0, 2.0, (6,), np.float32)
    with pytest.raises(ValueError, match="'box' or 'flat'"):
        observation_space(spec, "image")


# -- the registered env as SB3 and gymnasium.make hand it arguments ----------------------------------
def test_gym_make_with_render_mode_gives_a_normalised_env_that_renders_an_rgb_frame():
    env = gymnasium.make("ranemu/SliceCell-v0", cell=2, overrides=SHORT, render_mode="rgb_array")
    assert env.render_mode == "rgb_array"
    assert env.action_space == spaces.Box(-1.0, 1.0, (4,), np.float32)
    env.reset(seed=0)
    env.step(np.array([1.0, -1.0, -1.0, -1.0], np.float32))
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[0] > 100 and frame.shape[1] > 100 and frame.std() > 0  # a picture, not a blank
    cp = env.unwrapped.emulation.control_points["slice/cell2"]
    assert cp.current_action[0] == pytest.approx(1 / (1 + 3 * np.exp(-6.0)))
    env.close()
    with pytest.raises(ValueError, match="render_mode 'human' is not supported"):
        cell_env(0, render_mode="human")


def test_keyword_overrides_still_work_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="overrides=\\{...\\}"):
        env = cell_env(0, duration=3)
    assert env.emulation.scenario.duration == 3
    env.close()


def test_a_fresh_env_pickles_and_the_copy_repeats_the_originals_episode():
    env = cell_env(1, overrides=SHORT)
    env.reset(seed=4)  # a built world (SimPy generators) must not stop pickling
    clone = pickle.loads(pickle.dumps(env))
    assert clone.point == "slice/cell1" and clone.action_space == env.action_space
    actions = [np.array(a, np.float32) for a in ([1, 0, 0, -1], [0, 0.5, -0.5, 0], [-1, -1, 1, 1])]
    runs = []
    for e in (env, clone):
        obs, _ = e.reset(seed=9)
        seq = [obs]
        for a in actions:
            seq.append(e.step(a)[0])
        runs.append(np.stack(seq))
        e.close()
    np.testing.assert_array_equal(runs[0], runs[1])


# -- PettingZoo / RLlib side ------------------------------------------------------------------------
def test_safe_agent_ids_pass_the_parallel_api_test_and_map_back_to_roles():
    env = SafeAgentIds(slicing_parallel_env(actions="normalized", overrides=SHORT))
    assert env.possible_agents == [f"slice_cell{k}" for k in range(12)]
    assert all("/" not in a for a in env.possible_agents) and env.role("slice_cell7") == "slice/cell7"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parallel_api_test(env, num_cycles=10)
    obs, _ = env.reset(seed=1)
    _, rew, _, _, _ = env.step({a: env.action_space(a).sample() for a in env.agents})
    assert set(rew) == set(env.possible_agents)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.possible_agents == env.possible_agents
    env.close()
    assert safe_id("mec/server0") == "mec_server0"


def test_mec_envs_offer_flat_observations_and_a_rounding_continuous_action_mode():
    env = offloading_env(actions="normalized", observations="flat", overrides=MEC_SHORT, render_mode="rgb_array")
    d, m = 30, 2
    assert env.observation_space.shape == (d * (3 * m + 2),)
    assert env.action_space == spaces.Box(-1.0, 1.0, (d,), np.float32)
    obs, _ = env.reset(seed=3)
    assert obs.shape == env.observation_space.shape and env.observation_space.contains(obs)
    x = np.linspace(-1, 1, d).astype(np.float32)  # fractional actions: all valid, none refused
    _, _, _, _, info = env.step(x)
    assert "rejected" not in info
    applied = env.emulation.control_points["mec/core"].current_action
    assert applied.tolist() == np.minimum(np.floor((x.astype(np.float64) + 1) / 2 * 3), 2).tolist()
    frame = env.render()  # the MEC map: devices linked to the servers they offload to
    assert frame.dtype == np.uint8 and frame.shape[2] == 3 and frame.std() > 0
    env.close()
    par = offloading_parallel_env(observations="flat", overrides=MEC_SHORT)
    assert all(len(par.observation_space(a).shape) == 1 for a in par.possible_agents)
    par.close()


# -- bundled scenarios ------------------------------------------------------------------------------
def test_bundled_scenarios_resolve_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert bundled_scenario("slicing-12cell").name == "slicing-12cell.yaml"
    assert resolve_scenario("scenarios/mec-dirs.yaml").is_file()
    assert resolve_scenario("mine.yaml") == tmp_path.joinpath("mine.yaml").relative_to(tmp_path)
    with pytest.raises(RanemuError, match="bundled: .*slicing-12cell.yaml"):
        bundled_scenario("nosuch")


def test_supersuit_runs_pickled_fresh_envs_in_worker_processes():
    ss = pytest.importorskip("supersuit", reason="needs the rl extra: pip install -e '.[rl]' -c constraints.txt")
    pytest.importorskip("stable_baselines3", reason="needs the rl extra: pip install -e '.[rl]' -c constraints.txt")
    env = SafeAgentIds(slicing_parallel_env(actions="normalized", overrides={"duration": 3}))
    venv = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(env), 2, num_cpus=2, base_class="stable_baselines3")
    try:
        obs = venv.reset()
        assert obs.shape == (24, 16)  # 2 copies x 12 cells, each built from the pickled constructor call
        _, rew, _, _ = venv.step(np.zeros((24, 4), np.float32))
        assert rew.shape == (24,) and np.all((rew >= 0) & (rew <= 1))
    finally:
        venv.close()
