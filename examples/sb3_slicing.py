"""Stable-Baselines3 PPO or TD3 on one cell's slice partition (`ranemu/SliceCell-v0`), unmodified SB3.

The env's defaults are what SB3 expects: a symmetric Box(-1, 1) action (softmax → shares), a
`render_mode` argument, scenario overrides in `overrides=`. After training, the deterministic policy
is scored against a random policy and the built-in baselines (equal split, traffic-aware) on the
same evaluation seeds (bridge.evaluation); TensorBoard logs go to --tensorboard.

    python examples/sb3_slicing.py --algo ppo --timesteps 20000      # the paper scenario, cell 0
    python examples/sb3_slicing.py --algo td3 --timesteps 5000
    python examples/sb3_slicing.py --quick                           # seconds: 3-cell quickstart world
    tensorboard --logdir runs/tensorboard

Needs the `rl` extra: pip install 'ranemu[rl]' (SB3, TensorBoard; torch comes with SB3).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym

import bridge.envs  # noqa: F401  (registers the ranemu/... ids)
from _worlds import QUICK_SLICING, SLICING
from bridge.evaluation import compare, table


@dataclass
class Args:
    algo: str = "ppo"  # ppo | td3
    timesteps: int = 20_000
    cell: int = 0
    scenario: str = SLICING
    overrides: dict[str, Any] = field(default_factory=lambda: {"episode_steps": 60})
    seed: int = 0
    eval_episodes: int = 5
    eval_seed: int = 1000
    tensorboard: str | None = "runs/tensorboard"
    # SB3 hyperparameters that differ from its defaults (short episodes, a slow env)
    n_steps: int = 256
    batch_size: int = 64
    learning_starts: int = 200
    gamma: float = 0.99
    learning_rate: float = 1e-3


QUICK = dict(overrides=QUICK_SLICING, timesteps=192, eval_episodes=1, n_steps=64, batch_size=32, learning_starts=32,
             tensorboard=None)


def make_env(args: Args, actions: str = "normalized") -> gym.Env:
    return gym.make("ranemu/SliceCell-v0", cell=args.cell, path=args.scenario, overrides=args.overrides,
                    actions=actions)


def train(args: Args):
    import torch
    from stable_baselines3 import PPO, TD3
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.noise import NormalActionNoise

    torch.set_num_threads(1)
    # The SB3 recipe as documented: an env id, env_kwargs, a vectorised env with a Monitor.
    venv = make_vec_env("ranemu/SliceCell-v0", n_envs=1, seed=args.seed,
                        env_kwargs=dict(cell=args.cell, path=args.scenario, overrides=args.overrides))
    common = dict(seed=args.seed, device="cpu", verbose=0, tensorboard_log=args.tensorboard)
    if args.algo == "ppo":
        model = PPO("MlpPolicy", venv, n_steps=args.n_steps, batch_size=args.batch_size, **common)
    elif args.algo == "td3":
        n = venv.action_space.shape[0]
        noise = NormalActionNoise(mean=torch.zeros(n).numpy(), sigma=0.2 * torch.ones(n).numpy())
        model = TD3("MlpPolicy", venv, action_noise=noise, learning_starts=args.learning_starts, gamma=args.gamma,
                    learning_rate=args.learning_rate,
                    batch_size=args.batch_size, **common)
    else:
        raise SystemExit(f"--algo must be ppo or td3, got {args.algo!r}")
    model.learn(total_timesteps=args.timesteps, tb_log_name=f"sb3-{args.algo}-slicing")
    venv.close()
    return model


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = Args()
    p.add_argument("--algo", choices=("ppo", "td3"), default=d.algo)
    p.add_argument("--timesteps", type=int, default=d.timesteps)
    p.add_argument("--cell", type=int, default=d.cell)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--eval-episodes", type=int, default=d.eval_episodes)
    p.add_argument("--tensorboard", default=d.tensorboard, help="TensorBoard log folder ('' for none)")
    p.add_argument("--quick", action="store_true", help="tiny world and budget (what the test runs)")
    p.add_argument("--json", action="store_true", help="print the scores as JSON too")
    a = p.parse_args(argv)
    args = Args(algo=a.algo, timesteps=a.timesteps, cell=a.cell, seed=a.seed, eval_episodes=a.eval_episodes,
                tensorboard=a.tensorboard or None)
    if a.quick:
        args = Args(**{**asdict(args), **QUICK, "algo": a.algo})
    model = train(args)
    scores = compare(lambda actions: make_env(args, actions),
                     lambda obs, info: model.predict(obs, deterministic=True)[0],
                     "normalized", episodes=args.eval_episodes, seed=args.eval_seed, trained_name=f"sb3-{args.algo}")
    print(table(scores, f"SB3 {args.algo.upper()} on {args.scenario} cell {args.cell}, {args.timesteps} steps, "
                        f"seed {args.seed}"))
    out = {s.name: {"mean": s.mean, "ci95": s.ci95} for s in scores}
    if a.json:
        print(json.dumps(out))
    return out


if __name__ == "__main__":
    try:
        main()
    except ModuleNotFoundError as exc:
        sys.exit(f"{exc.name} is missing: pip install 'ranemu[rl]'")
