"""RLlib multi-agent PPO on the slicing parallel env: one policy shared by all cells, or one per cell.

The PettingZoo parallel env goes to RLlib through its own `ParallelPettingZooEnv` wrapper, with
`actions="normalized"` (Box(-1, 1) → softmax shares) and `SafeAgentIds` (RLlib refuses `/` in
policy ids: `slice/cell4` → `slice_cell4`). After training, the deterministic policies (the
Gaussians' means) run every cell and are compared with random actions and the built-in baselines
(mean reward per cell and step, same seeds). RLlib writes TensorBoard-readable results under
~/ray_results.

Rollouts scale over Ray: `--env-runners N` samples in N Ray worker processes (0: in the driver), on
a private local Ray by default or on a cluster with `--address auto|HOST:PORT` (or RAY_ADDRESS; see
docs/cluster.md). Each env runner builds its own env from the installed ranemu (the bundled
scenario, no shared files: no run folder, no traces kept); its world seed is derived from
(--seed, worker_index, vector_index), so runners sample different worlds and a rerun repeats them.

    python examples/rllib_ppo_slicing.py --policies shared --iterations 20
    python examples/rllib_ppo_slicing.py --policies per-cell --iterations 20
    python examples/rllib_ppo_slicing.py --quick
    python examples/rllib_ppo_slicing.py --address auto --env-runners 8 --iterations 50

Needs the `rllib` extra: pip install 'ranemu[rllib,agents]' (ray[rllib] pins gymnasium 1.2.2,
which the project's constraints use).
"""
from __future__ import annotations

import argparse
import sys
import time
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


def world_seed(seed: int, worker_index: int, vector_index: int) -> int:
    """The scenario seed of one env: distinct per (seed, env runner, sub-env), the same on every rerun."""
    state = np.random.SeedSequence([seed, worker_index, vector_index]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))  # the scenario's seed field takes 0 … 2**63 − 1


class RunnerEnv(SafeAgentIds):
    """The env of one env runner: its world seeded by `world_seed`, and the env steps it took counted.

    RLlib resets each runner's env once with seed=config.seed + worker_index; that reset seed is
    dropped here, so the first episode runs the scenario seed (world_seed) and the following ones
    draw their worlds from the env's generator seeded by it (bridge.envs module docs)."""

    def __init__(self, env, worker_index: int, vector_index: int):
        super().__init__(env)
        self.worker_index, self.vector_index = worker_index, vector_index
        self.env_steps = 0

    def reset(self, seed: int | None = None, options: dict | None = None):
        return super().reset(seed=None, options=options)

    def step(self, actions):
        self.env_steps += 1
        return super().step(actions)


def env_creator(config):
    """RLlib's env creator: `config` is its EnvContext (the env_config plus worker_index, vector_index).

    Runs in each env runner's process (on any node): builds the env there from the scenario name,
    with no run folder and no kept traces, so nothing is written and no file is shared."""
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    worker, vector = int(getattr(config, "worker_index", 0)), int(getattr(config, "vector_index", 0))
    overrides = {**config["overrides"], "seed": world_seed(config["seed"], worker, vector)}
    par = slicing_parallel_env(config["scenario"], actions="normalized", overrides=overrides,
                               render_mode=None, run_dir=None, keep_traces=False)
    return ParallelPettingZooEnv(RunnerEnv(par, worker, vector))


def build(args: Args, env_runners: int = 0):
    from ray import cloudpickle
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.tune.registry import register_env

    # The env creator and the policy mapping travel to the env runners by value: the workers import
    # ranemu (bridge) from their installed package, but not this script, which is not a package.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    register_env(ENV_NAME, env_creator)
    env_config = {"scenario": args.scenario, "overrides": args.overrides, "seed": args.seed}
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
              .env_runners(num_env_runners=env_runners, num_envs_per_env_runner=1)
              .training(train_batch_size=args.train_batch_size, minibatch_size=args.minibatch_size,
                        num_epochs=args.num_epochs)
              .multi_agent(policies=policies, policy_mapping_fn=mapping)
              .debugging(seed=args.seed))
    return config.build_algo(), agents, mapping


def sampled_steps(algo, env_runners: int) -> dict[int, int]:
    """Env steps each env runner took (by worker index; 0 is the driver's own runner)."""
    counts = algo.env_runner_group.foreach_env_runner(
        lambda r: (r.worker_index, sum(e.unwrapped.par_env.env_steps for e in r.env.envs)),
        local_env_runner=env_runners == 0)
    return {int(w): int(n) for w, n in counts}


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
    """Train, evaluate, print the table. Returns the scores by name ({"mean", "ci95"}) and, under
    "sampling", the env steps per env runner (worker index → steps), the training wall time and the
    env steps per second."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = Args()
    p.add_argument("--policies", choices=("shared", "per-cell"), default=d.policies)
    p.add_argument("--iterations", type=int, default=d.iterations)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--env-runners", type=int, default=0, metavar="N",
                   help="Ray worker processes that sample (0: sample in the driver)")
    p.add_argument("--address", metavar="auto|HOST:PORT", default=None,
                   help="Ray cluster to join (default: $RAY_ADDRESS, else a private local Ray with "
                        "max(1, N) CPUs)")
    p.add_argument("--quick", action="store_true", help="tiny world and budget (what the test runs)")
    a = p.parse_args(argv)
    if a.env_runners < 0:
        raise SystemExit(f"--env-runners must be >= 0, got {a.env_runners}")
    args = Args(policies=a.policies, iterations=a.iterations, seed=a.seed)
    if a.quick:
        args = Args(**{**asdict(args), **QUICK})
    import ray

    from bridge.evaluation import table
    from bridge.jobs import JobError, _ray_precheck, ray_init

    try:
        _ray_precheck(a.address)  # an unreachable address fails in seconds, not after Ray's retries
        started = ray_init(a.address, max(1, a.env_runners))
    except JobError as exc:
        raise SystemExit(f"rllib_ppo_slicing: {exc}") from None
    try:
        algo, agents, mapping = build(args, a.env_runners)
        t0 = time.perf_counter()
        for it in range(args.iterations):
            result = algo.train()
            ret = result.get("env_runners", {}).get("episode_return_mean", float("nan"))
            print(f"iteration {it + 1}/{args.iterations}: episode return mean {ret:.3f} (sum over cells)")
        wall = time.perf_counter() - t0
        steps = sampled_steps(algo, a.env_runners)
        scores = evaluate(algo, args, mapping)
        algo.stop()
    finally:
        if started:
            ray.shutdown()
    total = sum(steps.values())
    print(f"sampling: {total} env steps in {wall:.1f} s of training ({total / wall:.1f} env steps/s); "
          f"per env runner: {', '.join(f'{w}: {n}' for w, n in sorted(steps.items()))}")
    print(table(scores, f"RLlib PPO ({args.policies} policy) on {args.scenario}, {args.iterations} iterations, "
                        f"seed {args.seed}; reward per cell and step"))
    out: dict[str, Any] = {s.name: {"mean": s.mean, "ci95": s.ci95} for s in scores}
    out["sampling"] = {"env_steps": steps, "wall_s": wall, "env_steps_per_s": total / wall}
    return out


if __name__ == "__main__":
    try:
        main()
    except ModuleNotFoundError as exc:
        sys.exit(f"{exc.name} is missing: pip install 'ranemu[rllib,agents]'")
