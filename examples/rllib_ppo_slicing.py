"""RLlib multi-agent PPO on the slicing parallel env: one policy shared by all cells, or one per cell.

The PettingZoo parallel env goes to RLlib through its own `ParallelPettingZooEnv` wrapper, with
`actions="normalized"` (Box(-1, 1) → softmax shares) and `SafeAgentIds` (RLlib refuses `/` in
policy ids: `slice/cell4` → `slice_cell4`). After training, the deterministic policies (the
Gaussians' means) run every cell and are compared with random actions and the built-in baselines
(mean reward per cell and step, same seeds). RLlib writes TensorBoard-readable results under
~/ray_results (or --storage).

    python examples/rllib_ppo_slicing.py --policies shared --iterations 20
    python examples/rllib_ppo_slicing.py --policies per-cell --iterations 20
    python examples/rllib_ppo_slicing.py --quick

Needs the `rllib` extra: pip install 'ranemu[rllib,agents]' (ray[rllib] pins gymnasium 1.2.2,
which the project's constraints use).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from _worlds import QUICK_SLICING, SLICING
from bridge.envs import slicing_parallel_env
from bridge.wrappers import SafeAgentIds

ENV_NAME = "ranemu_slicing_parallel"


@dataclass
class Args:
    policies: str = "shared"  # shared | per-cell
    iterations: int = 20
    scenario: str = SLICING
    overrides: dict[str, Any] = field(default_factory=lambda: {"episode_steps": 60})
    seed: int = 0
    train_batch_size: int = 1440  # agent steps per iteration (12 cells × 120 env steps)
    minibatch_size: int = 240
    num_epochs: int = 5
    eval_episodes: int = 3
    eval_seed: int = 1000


QUICK = dict(overrides=QUICK_SLICING, iterations=1, train_batch_size=114, minibatch_size=57, num_epochs=2,
             eval_episodes=2)


def env_creator(config: dict):
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    par = slicing_parallel_env(config["scenario"], actions="normalized", overrides=config["overrides"])
    return ParallelPettingZooEnv(SafeAgentIds(par))


def build(args: Args):
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.tune.registry import register_env

    register_env(ENV_NAME, env_creator)
    env_config = {"scenario": args.scenario, "overrides": args.overrides}
    probe = SafeAgentIds(slicing_parallel_env(args.scenario, actions="normalized", overrides=args.overrides))
    agents = list(probe.possible_agents)
    probe.close()
    if args.policies == "shared":
        policies, mapping = {"shared"}, (lambda agent_id, episode, **kw: "shared")
    elif args.policies == "per-cell":
        policies, mapping = set(agents), (lambda agent_id, episode, **kw: agent_id)
    else:
        raise SystemExit(f"--policies must be shared or per-cell, got {args.policies!r}")
    config = (PPOConfig()
              .environment(ENV_NAME, env_config=env_config)
              .framework("torch")
              .env_runners(num_env_runners=0)
              .training(train_batch_size=args.train_batch_size, minibatch_size=args.minibatch_size,
                        num_epochs=args.num_epochs)
              .multi_agent(policies=policies, policy_mapping_fn=mapping)
              .debugging(seed=args.seed))
    return config.build_algo(), agents, mapping


def evaluate(algo, args: Args, mapping) -> dict[str, Any]:
    import torch

    from bridge.evaluation import score
    from bridge.policies import lookup
    from emulator.control import Indication

    def run(env, act):
        out = []
        for e in range(args.eval_episodes):
            obs, info = env.reset(seed=args.eval_seed + e)
            total, steps = 0.0, 0
            while env.agents:
                obs, rew, _, _, info = env.step({a: act(a, obs[a], info[a]) for a in env.agents})
                total += float(np.mean(list(rew.values())))
                steps += 1
            out.append(total / max(steps, 1))
        return out

    modules = {}

    def trained(agent, obs, info):
        pid = mapping(agent, None)
        if pid not in modules:
            modules[pid] = algo.get_module(pid)
        with torch.no_grad():
            out = modules[pid].forward_inference({"obs": torch.as_tensor(obs, dtype=torch.float32)[None]})
        mean = out["action_dist_inputs"][0].numpy()
        return np.clip(mean[: mean.size // 2], -1.0, 1.0)  # (mean, log std) of a diagonal Gaussian

    env = SafeAgentIds(slicing_parallel_env(args.scenario, actions="normalized", overrides=args.overrides))
    spaces = {a: env.action_space(a) for a in env.possible_agents}
    for i, s in enumerate(spaces.values()):
        s.seed(args.eval_seed + i)
    scores = [score(f"rllib-ppo-{args.policies}", run(env, trained)),
              score("random-actions", run(env, lambda a, o, i: spaces[a].sample()))]
    env.close()
    raw = SafeAgentIds(slicing_parallel_env(args.scenario, actions="raw", overrides=args.overrides))
    for name in ("equal", "traffic_aware"):
        fn = lookup("slice_partition", name)
        scores.append(score(name, run(raw, lambda a, o, i, fn=fn: fn(
            Indication(raw.role(a), int(i["step"]), float(i["time"]), o, 0.0, False, False, i)))))
    raw.close()
    return scores


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = Args()
    p.add_argument("--policies", choices=("shared", "per-cell"), default=d.policies)
    p.add_argument("--iterations", type=int, default=d.iterations)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--quick", action="store_true", help="tiny world and budget (what the test runs)")
    a = p.parse_args(argv)
    args = Args(policies=a.policies, iterations=a.iterations, seed=a.seed)
    if a.quick:
        args = Args(**{**asdict(args), **QUICK})
    import ray

    from bridge.evaluation import table

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        algo, agents, mapping = build(args)
        for it in range(args.iterations):
            result = algo.train()
            ret = result.get("env_runners", {}).get("episode_return_mean", float("nan"))
            print(f"iteration {it + 1}/{args.iterations}: episode return mean {ret:.3f} (sum over cells)")
        scores = evaluate(algo, args, mapping)
        algo.stop()
    finally:
        ray.shutdown()
    print(table(scores, f"RLlib PPO ({args.policies} policy) on {args.scenario}, {args.iterations} iterations, "
                        f"seed {args.seed}; reward per cell and step"))
    return {s.name: {"mean": s.mean, "ci95": s.ci95} for s in scores}


if __name__ == "__main__":
    try:
        main()
    except ModuleNotFoundError as exc:
        sys.exit(f"{exc.name} is missing: pip install 'ranemu[rllib,agents]'")
