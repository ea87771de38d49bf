"""SuperSuit's PettingZoo → SB3 recipe on the 12-cell slicing parallel env: one PPO shared by all cells.

`pettingzoo_env_to_vec_env_v1` turns the parallel env (one agent per cell) into a vector env with
one slot per cell; `concat_vec_envs_v1` stacks copies of it (in subprocesses with
`num_cpus > 0`: the env pickles as a fresh env). The env is built with `actions="normalized"` —
Box(-1, 1) → softmax shares, which PPO's Gaussian needs — and `SafeAgentIds` (ids without `/`).
Afterwards the shared policy runs every cell and is compared with random actions and the
built-in baselines on all cells at once (mean reward per cell and step).

    python examples/supersuit_slicing.py --timesteps 50000
    python examples/supersuit_slicing.py --quick

Needs the `rl` extra: pip install 'ranemu[rl]' (SuperSuit, SB3, TensorBoard).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from _worlds import QUICK_SLICING, SLICING
from bridge.envs import slicing_parallel_env
from bridge.evaluation import Score, score, table
from bridge.policies import lookup
from bridge.wrappers import SafeAgentIds
from emulator.control import Indication


@dataclass
class Args:
    timesteps: int = 50_000
    scenario: str = SLICING
    overrides: dict[str, Any] = field(default_factory=lambda: {"episode_steps": 60})
    copies: int = 1  # stacked copies of the 12-cell env (concat_vec_envs_v1)
    num_cpus: int = 0  # subprocesses for the copies (0: all in this process)
    seed: int = 0
    eval_episodes: int = 3
    eval_seed: int = 1000
    tensorboard: str | None = "runs/tensorboard"
    n_steps: int = 64  # per vector slot: a PPO batch holds n_steps × cells × copies transitions
    batch_size: int = 256


QUICK = dict(overrides=QUICK_SLICING, timesteps=288, eval_episodes=1, n_steps=32, batch_size=96, tensorboard=None)


def make_env(args: Args, actions: str = "normalized") -> SafeAgentIds:
    return SafeAgentIds(slicing_parallel_env(args.scenario, actions=actions, overrides=args.overrides))


def episodes(env: SafeAgentIds, act: Callable[[str, np.ndarray, dict], Any], n: int, seed: int) -> list[float]:
    """Mean reward per cell and step of `n` episodes from world seeds seed, seed + 1, …"""
    out = []
    for e in range(n):
        obs, info = env.reset(seed=seed + e)
        total, steps = 0.0, 0
        while env.agents:
            obs, rew, _, _, info = env.step({a: act(a, obs[a], info[a]) for a in env.agents})
            total += float(np.mean(list(rew.values())))
            steps += 1
        out.append(total / max(steps, 1))
    return out


def evaluate(args: Args, policy: Callable[[np.ndarray], Any] | None) -> list[Score]:
    out = []
    env = make_env(args)
    rng_space = {a: env.action_space(a) for a in env.possible_agents}
    for i, s in enumerate(rng_space.values()):
        s.seed(args.eval_seed + i)
    if policy is not None:
        out.append(score("sb3-ppo-shared", episodes(env, lambda a, o, i: policy(o), args.eval_episodes, args.eval_seed)))
    out.append(score("random-actions", episodes(env, lambda a, o, i: rng_space[a].sample(), args.eval_episodes,
                                                args.eval_seed)))
    env.close()
    raw = make_env(args, "raw")
    for name in ("equal", "traffic_aware"):
        fn = lookup("slice_partition", name)

        def act(a, o, i, fn=fn):
            return fn(Indication(raw.role(a), int(i["step"]), float(i["time"]), o, 0.0, False, False, i))

        out.append(score(name, episodes(raw, act, args.eval_episodes, args.eval_seed)))
    raw.close()
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = Args()
    p.add_argument("--timesteps", type=int, default=d.timesteps)
    p.add_argument("--copies", type=int, default=d.copies)
    p.add_argument("--num-cpus", type=int, default=d.num_cpus)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--tensorboard", default=d.tensorboard, help="TensorBoard log folder ('' for none)")
    p.add_argument("--quick", action="store_true", help="tiny world and budget (what the test runs)")
    a = p.parse_args(argv)
    args = Args(timesteps=a.timesteps, copies=a.copies, num_cpus=a.num_cpus, seed=a.seed,
                tensorboard=a.tensorboard or None)
    if a.quick:
        args = Args(**{**asdict(args), **QUICK})

    import supersuit as ss
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import set_random_seed

    torch.set_num_threads(1)
    venv = ss.pettingzoo_env_to_vec_env_v1(make_env(args))
    venv = ss.concat_vec_envs_v1(venv, args.copies, num_cpus=args.num_cpus, base_class="stable_baselines3")
    # SuperSuit's SB3 wrapper has no VecEnv.seed(), so PPO(seed=) would fail: seed torch/numpy here;
    # the worlds are seeded by the scenario seed (the env's first reset) and draws from it after.
    set_random_seed(args.seed)
    model = PPO("MlpPolicy", venv, n_steps=args.n_steps, batch_size=args.batch_size, device="cpu",
                verbose=0, tensorboard_log=args.tensorboard)
    model.learn(total_timesteps=args.timesteps, tb_log_name="supersuit-ppo-slicing")
    venv.close()
    scores = evaluate(args, lambda obs: model.predict(obs, deterministic=True)[0])
    print(table(scores, f"SuperSuit + SB3 PPO (one policy shared by all cells) on {args.scenario}, "
                        f"{args.timesteps} steps, seed {args.seed}; reward per cell and step"))
    return {s.name: {"mean": s.mean, "ci95": s.ci95} for s in scores}


if __name__ == "__main__":
    try:
        main()
    except ModuleNotFoundError as exc:
        sys.exit(f"{exc.name} is missing: pip install 'ranemu[rl]'")
