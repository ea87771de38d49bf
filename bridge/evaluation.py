"""Score a policy on a Gymnasium env against the env's built-in baselines, on the same seeds.

What the recipes in examples/ print after training: the mean reward per step of the trained
policy, of uniformly random actions in the agent's action space ("random-actions"; the env's
random baseline), and of each built-in baseline of
the control point's kind (bridge.policies), each over the same evaluation episodes (world seeds
`seed`, `seed + 1`, …), with a 95 % confidence interval over episodes (Student t).

Baselines answer in the point's own action space, so they run on an env built with
`actions="raw"`: `make_env(actions)` must build the same env for any action mode.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from bridge.policies import lookup, names
from emulator.control import Indication

Policy = Callable[[np.ndarray, dict], Any]

# Two-sided 97.5 % Student-t quantiles for n − 1 = 1 … 30 degrees of freedom; normal beyond.
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042]


@dataclass
class Score:
    """Mean reward per step over episodes, its 95 % CI half-width, and the per-episode means."""

    name: str
    mean: float
    ci95: float
    episodes: list[float]

    def line(self) -> str:
        return f"{self.name:<16} {self.mean:8.4f} ± {self.ci95:.4f}  ({len(self.episodes)} episodes)"


def score(name: str, per_episode: Sequence[float]) -> Score:
    """A Score from per-episode mean rewards (CI 0 for a single episode)."""
    x = np.asarray(per_episode, dtype=float)
    n = x.size
    half = 0.0
    if n > 1:
        t = _T975[n - 2] if n - 2 < len(_T975) else 1.96
        half = t * float(x.std(ddof=1)) / math.sqrt(n)
    return Score(name, float(x.mean()), half, x.tolist())


def run_episodes(env, policy: Policy, episodes: int, seed: int) -> list[float]:
    """Mean reward per step of each of `episodes` episodes (world seeds seed, seed + 1, …)."""
    out = []
    for e in range(episodes):
        obs, info = env.reset(seed=seed + e)
        total, steps = 0.0, 0
        while True:
            obs, r, term, trunc, info = env.step(policy(obs, info))
            total += float(r)
            steps += 1
            if term or trunc:
                break
        out.append(total / max(steps, 1))
    return out


def baseline_policy(env, name: str) -> Policy:
    """The built-in baseline `name` of the env's control point, as a policy of (obs, info) for an
    env with `actions="raw"` (the baselines read the indication's info, as in the emulator)."""
    d = getattr(env, "unwrapped", env).describe()  # gymnasium.make's wrappers do not forward describe()
    fn = lookup(d["kind"], name)
    point = d["name"]

    def act(obs: np.ndarray, info: dict) -> Any:
        return fn(Indication(point, int(info["step"]), float(info["time"]), obs, 0.0, False, False, info))

    return act


def random_policy(env, seed: int) -> Policy:
    """Uniform samples from the env's (agent-facing) action space, seeded."""
    space = env.action_space
    space.seed(seed)
    return lambda obs, info: space.sample()


def compare(make_env: Callable[[str], Any], trained: Policy | None, actions: str, episodes: int = 5,
            seed: int = 1000, baselines: Sequence[str] | None = None, trained_name: str = "trained"
            ) -> list[Score]:
    """Scores of `trained` (on `make_env(actions)`), random, and the point's baselines (on
    `make_env("raw")`), all on the same evaluation seeds. `baselines` default: all of the kind's."""
    out = []
    env = make_env(actions)
    try:
        if trained is not None:
            out.append(score(trained_name, run_episodes(env, trained, episodes, seed)))
        out.append(score("random-actions", run_episodes(env, random_policy(env, seed), episodes, seed)))
    finally:
        env.close()
    raw = make_env("raw")
    try:
        kind = getattr(raw, "unwrapped", raw).describe()["kind"]
        for name in (baselines if baselines is not None else names(kind)):
            out.append(score(name, run_episodes(raw, baseline_policy(raw, name), episodes, seed)))
    finally:
        raw.close()
    return out


def table(scores: Sequence[Score], title: str = "") -> str:
    """The scores as a plain-text table (mean reward per step, higher is better)."""
    head = f"{title}\n" if title else ""
    return head + "policy           reward/step (mean ± 95% CI; higher is better)\n" + "\n".join(s.line() for s in scores)
