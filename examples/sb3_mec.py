"""Stable-Baselines3 PPO on MEC task offloading (`ranemu/MecOffloading-v0`), compared with the baselines.

The core MEC decides, per IoT device, local execution or one of the MEC servers: a MultiDiscrete
action, which SB3's PPO takes as it is. The observation is flattened (`observations="flat"`) for the
MlpPolicy. After training, the deterministic policy is scored against random assignments and the
built-in baselines (local, random, greedy; optimal where exhaustive search is feasible) on the same
evaluation seeds; TensorBoard logs go to --tensorboard. (For TD3/SAC: `actions="normalized"` gives a Box(-1, 1) that rounds to choices.)

    python examples/sb3_mec.py --timesteps 20000
    python examples/sb3_mec.py --quick

Needs the `rl` extra: pip install 'ranemu[rl]'.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

import bridge.envs  # noqa: F401  (registers the ranemu/... ids)
from _worlds import MEC, QUICK_MEC
from bridge.evaluation import compare, table


@dataclass
class Args:
    timesteps: int = 20_000
    scenario: str = MEC
    overrides: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    eval_episodes: int = 5
    eval_seed: int = 1000
    tensorboard: str | None = "runs/tensorboard"
    n_steps: int = 200
    batch_size: int = 50


QUICK = dict(overrides=QUICK_MEC, timesteps=200, eval_episodes=3, n_steps=50, batch_size=25, tensorboard=None)


def make_env(args: Args, actions: str = "adapted") -> gym.Env:
    return gym.make("ranemu/MecOffloading-v0", path=args.scenario, overrides=args.overrides, actions=actions,
                    observations="flat")


def baselines(args: Args) -> list[str]:
    """local, random, greedy, and the exhaustive optimum where (M + 1)^N assignments are few enough
    for it (mec.optimal_max_evals; 30 devices and 2 servers are 3^30: too many)."""
    env = make_env(args)
    _, info = env.reset(seed=args.eval_seed)
    choices = float(np.prod(env.action_space.nvec.astype(float)))
    env.close()
    return ["local", "random", "greedy"] + (["optimal"] if choices <= float(info["optimal_max_evals"]) else [])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = Args()
    p.add_argument("--timesteps", type=int, default=d.timesteps)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--eval-episodes", type=int, default=d.eval_episodes)
    p.add_argument("--tensorboard", default=d.tensorboard, help="TensorBoard log folder ('' for none)")
    p.add_argument("--quick", action="store_true", help="tiny world and budget (what the test runs)")
    a = p.parse_args(argv)
    args = Args(timesteps=a.timesteps, seed=a.seed, eval_episodes=a.eval_episodes, tensorboard=a.tensorboard or None)
    if a.quick:
        args = Args(**{**asdict(args), **QUICK})

    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    venv = make_vec_env("ranemu/MecOffloading-v0", n_envs=1, seed=args.seed,
                        env_kwargs=dict(path=args.scenario, overrides=args.overrides, observations="flat"))
    model = PPO("MlpPolicy", venv, n_steps=args.n_steps, batch_size=args.batch_size, seed=args.seed, device="cpu",
                verbose=0, tensorboard_log=args.tensorboard)
    model.learn(total_timesteps=args.timesteps, tb_log_name="sb3-ppo-mec")
    venv.close()
    scores = compare(lambda actions: make_env(args, actions),
                     lambda obs, info: model.predict(obs, deterministic=True)[0],
                     "adapted", episodes=args.eval_episodes, seed=args.eval_seed, trained_name="sb3-ppo",
                     baselines=baselines(args))
    print(table(scores, f"SB3 PPO on {args.scenario} (core MEC), {args.timesteps} steps, seed {args.seed}"))
    return {s.name: {"mean": s.mean, "ci95": s.ci95} for s in scores}


if __name__ == "__main__":
    try:
        main()
    except ModuleNotFoundError as exc:
        sys.exit(f"{exc.name} is missing: pip install 'ranemu[rl]'")
