"""Train SB3 PPO against a running emulator over ZeroMQ (`RemoteEnv`), as an O&M agent would attach.

Start the emulator yourself and attach:

    ranemu run scenarios/slicing-12cell.yaml --wait-agents 1 --deadline-ms 60000 \
        --param agents.endpoint=tcp://127.0.0.1:5555
    python examples/remote_sb3_ppo.py --endpoint tcp://127.0.0.1:5555 --timesteps 5000

or let the script start one (`bridge.remote.launch_emulator`): `python examples/remote_sb3_ppo.py`.

Deadline advice: in lockstep mode the emulator waits `agents.deadline_ms` (default 1000 ms) for each
answer, then falls back to the point's default action. PPO pauses for gradient updates between
rollouts (seconds), so give it a generous deadline (`--deadline-ms 60000`) or its first actions
after each update arrive stale (`info["rejected"]` says "stale: ..."). The remote env has the same
spaces as the in-process `cell_env` with `actions="normalized"`; the trained policy is scored
in-process on the same scenario against random actions and the built-in baselines.

Needs the `rl` extra: pip install 'ranemu[rl]'.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from _worlds import QUICK_SLICING, SLICING
from bridge.envs import cell_env
from bridge.evaluation import compare, table
from bridge.remote import RemoteEnv, launch_emulator

DEADLINE_MS = 60_000


def train(endpoint: str, role: str, timesteps: int, seed: int, n_steps: int, tensorboard: str | None):
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.monitor import Monitor

    torch.set_num_threads(1)
    env = Monitor(RemoteEnv(endpoint, role, actions="normalized", timeout_s=120.0))
    try:
        model = PPO("MlpPolicy", env, n_steps=n_steps, batch_size=min(64, n_steps), seed=seed, device="cpu",
                    verbose=0, tensorboard_log=tensorboard)
        model.learn(total_timesteps=timesteps, tb_log_name="sb3-ppo-remote")
    finally:
        env.close()
    return model


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--endpoint", help="a running emulator's agent endpoint (default: start one here)")
    p.add_argument("--cell", type=int, default=0)
    p.add_argument("--timesteps", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-episodes", type=int, default=3)
    p.add_argument("--tensorboard", default="runs/tensorboard", help="TensorBoard log folder ('' for none)")
    p.add_argument("--quick", action="store_true", help="tiny world and budget (what the test runs)")
    a = p.parse_args(argv)
    overrides = QUICK_SLICING if a.quick else {"episode_steps": 60}
    timesteps, n_steps, episodes = (64, 32, 1) if a.quick else (a.timesteps, 256, a.eval_episodes)
    role = f"slice/cell{a.cell}"
    tb = None if a.quick else (a.tensorboard or None)
    if a.endpoint:
        model = train(a.endpoint, role, timesteps, a.seed, n_steps, tb)
    else:
        params = [f"agents.deadline_ms={DEADLINE_MS}", "output.report=false"]
        params += [f"{k}={_yaml(v)}" for k, v in overrides.items()]
        with launch_emulator(SLICING, params, wait_agents=1) as em:
            model = train(em.endpoint, role, timesteps, a.seed, n_steps, tb)
        if em.process.returncode not in (0, None):
            raise SystemExit(f"the emulator failed:\n{em.log_text[-2000:]}")
    scores = compare(lambda actions: cell_env(a.cell, SLICING, actions=actions, overrides=overrides),
                     lambda obs, info: model.predict(obs, deterministic=True)[0], "normalized",
                     episodes=episodes, seed=1000, trained_name="sb3-ppo-remote")
    print(table(scores, f"SB3 PPO trained over ZeroMQ on {SLICING} {role}, {timesteps} steps, seed {a.seed} "
                        "(scored in-process)"))
    return {s.name: {"mean": s.mean, "ci95": s.ci95} for s in scores}


def _yaml(value: Any) -> str:
    import json

    return json.dumps(value)  # JSON is YAML: what --param PATH=VALUE parses


if __name__ == "__main__":
    try:
        main()
    except ModuleNotFoundError as exc:
        sys.exit(f"{exc.name} is missing: pip install 'ranemu[rl]'")
