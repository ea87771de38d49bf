"""The standard DRL baselines of the paper's Table III — DDPG and an actor-critic (A2C) — from Stable-Baselines3.

Why SB3: both algorithms are maintained, tested implementations there; hand-written copies would add
code to review and bugs to doubt (the project prefers a well-kept library outside the emulator core).

Same state, same reward as DIRS: the core MEC point (`mec/core`, one decision per IoTD), observing
only the channel gains h (the `gain_db` columns, N·M values, standardised by gymnasium's
NormalizeObservation) and rewarded with 1/Φ (scaled by a constant so the learners see rewards near
1; the optimal policy is unchanged and reported rewards are unscaled). A2C picks one of M + 1 options
per IoTD (MultiDiscrete, the env's assignment adapter); DDPG's continuous action x ∈ [−1, 1]^N maps to
the assignment ⌊(x + 1)/2·(M + 1)⌋ (clipped to M).
"""
from __future__ import annotations

import time
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from agents.dirs.world import PAPER_SCENARIO
from bridge.envs import _scenario, offloading_env

REWARD_SCALE = 1.0 / 0.0348  # Table III's DIRS reward ↦ 1


class GainsOnly(gymnasium.ObservationWrapper):
    """(N, 3M + 2) core observation → the N·M gains in dB, flattened (the paper's state h)."""

    def __init__(self, env: gymnasium.Env, num_servers: int):
        super().__init__(env)
        self.m = num_servers
        n = env.observation_space.shape[0]
        self.observation_space = spaces.Box(-300.0, 0.0, (n * num_servers,), np.float32)

    def observation(self, obs):
        return np.asarray(obs, dtype=np.float32)[:, : self.m].reshape(-1)


class ContinuousAssignment(gymnasium.ActionWrapper):
    """Box(−1, 1, (N,)) → assignment in {0..M}^N for the raw core point (DDPG needs a Box)."""

    def __init__(self, env: gymnasium.Env, num_servers: int):
        super().__init__(env)
        self.m = num_servers
        self.action_space = spaces.Box(-1.0, 1.0, env.action_space.shape, np.float32)

    def action(self, act):
        a = np.floor((np.asarray(act, dtype=np.float64) + 1.0) / 2.0 * (self.m + 1))
        return np.clip(a, 0, self.m)


class RecordOutcome(gymnasium.Wrapper):
    """Keeps the unscaled realised reward 1/Φ of every step; scales the reward the learner sees."""

    def __init__(self, env: gymnasium.Env, scale: float):
        super().__init__(env)
        self.scale = scale
        self.rewards: list[float] = []

    def step(self, action):
        obs, r, term, trunc, info = self.env.step(action)
        self.rewards.append(float(r))
        return obs, float(r) * self.scale, term, trunc, info


def make_env(algo: str, seed: int, steps: int, scenario: str = PAPER_SCENARIO,
             overrides: dict[str, Any] | None = None) -> tuple[gymnasium.Env, RecordOutcome]:
    """The wrapped core env for `algo` ("ddpg" | "a2c"), one placement (`seed`), long enough for `steps`."""
    ov = dict(overrides or {})
    sc = _scenario(scenario, ov)
    m = len(sc.topology.mec.servers) if sc.mec.num_servers is None else sc.mec.num_servers
    ov.update({"duration": sc.mec.decision_period_s * (steps + 2), "episode_steps": None,
               "output.report": False, "output.traces": False})
    env = offloading_env(scenario, actions="raw" if algo == "ddpg" else "adapted", overrides=ov)
    rec = RecordOutcome(env, REWARD_SCALE)
    wrapped: gymnasium.Env = GainsOnly(rec, m)
    if algo == "ddpg":
        wrapped = ContinuousAssignment(wrapped, m)
    wrapped = gymnasium.wrappers.NormalizeObservation(wrapped)
    return wrapped, rec


def train_and_evaluate(algo: str, seed: int, steps: int, eval_epochs: int, scenario: str = PAPER_SCENARIO,
                       overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train `algo` for `steps` epochs of one placement, then act greedily for `eval_epochs` more.

    Returns training time (s), mean inference time per epoch (s), the training reward curve and
    the mean realised reward 1/Φ over the evaluation epochs.
    """
    import torch
    from stable_baselines3 import A2C, DDPG
    from stable_baselines3.common.noise import NormalActionNoise

    torch.set_num_threads(1)
    env, rec = make_env(algo, seed, steps + eval_epochs + 1, scenario, overrides)
    t0 = time.perf_counter()
    if algo == "ddpg":
        n = env.action_space.shape[0]
        # SB3 defaults otherwise; the paper's replay size and minibatch (§VI-A) where they apply.
        model = DDPG("MlpPolicy", env, buffer_size=1024, batch_size=256, learning_starts=min(100, steps // 2),
                     action_noise=NormalActionNoise(np.zeros(n), 0.2 * np.ones(n)), seed=seed, device="cpu",
                     verbose=0)
    elif algo == "a2c":
        model = A2C("MlpPolicy", env, seed=seed, device="cpu", verbose=0)
    else:
        raise ValueError(f"unknown baseline {algo!r} (ddpg, a2c)")
    model.learn(total_timesteps=int(steps))
    train_s = time.perf_counter() - t0
    train_rewards = list(rec.rewards)
    vec = model.get_env()
    obs = model._last_obs  # the learner's current observation: evaluation continues the same world
    infer = []
    for _ in range(eval_epochs):
        t1 = time.perf_counter()
        action, _ = model.predict(obs, deterministic=True)
        infer.append(time.perf_counter() - t1)
        obs, _, _, _ = vec.step(action)
    ev = np.array(rec.rewards[len(train_rewards):])
    env.close()
    return {"algo": algo, "seed": seed, "steps": steps, "train_s": train_s, "inference_s": float(np.mean(infer)),
            "train_reward": train_rewards, "reward_eval": float(ev.mean()) if ev.size else float("nan"),
            "phi_eval": float(np.mean(1.0 / ev)) if ev.size else float("nan")}
