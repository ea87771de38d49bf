"""CleanRL-style single-file PPO (continuous actions) on `ranemu/SliceCell-v0`.

One readable file, hyperparameters in one dataclass at the top, Gymnasium's vector env and
wrappers, TensorBoard logging — the shape of CleanRL's ppo_continuous_action.py, written for this
env (nothing copied). The env's default action space is already the symmetric Box(-1, 1) PPO
assumes. Afterwards the deterministic policy (the Gaussian's mean) is compared with random actions
and the built-in baselines on the same seeds.

    python examples/cleanrl_ppo_slicing.py --total-timesteps 20000
    python examples/cleanrl_ppo_slicing.py --quick
    tensorboard --logdir runs/tensorboard

Needs torch and TensorBoard: pip install 'ranemu[agents,rl]'.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

import bridge.envs  # noqa: F401  (registers the ranemu/... ids)
from _worlds import QUICK_SLICING, SLICING
from bridge.evaluation import compare, table


@dataclass
class Args:
    seed: int = 1
    cell: int = 0
    scenario: str = SLICING
    overrides: dict[str, Any] = field(default_factory=lambda: {"episode_steps": 60})
    total_timesteps: int = 20_000
    learning_rate: float = 3e-4
    num_envs: int = 1
    num_steps: int = 256  # rollout length per env
    gamma: float = 0.99
    gae_lambda: float = 0.95
    num_minibatches: int = 4
    update_epochs: int = 10
    clip_coef: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    eval_episodes: int = 5
    eval_seed: int = 1000
    tensorboard: str | None = "runs/tensorboard"


QUICK = dict(overrides=QUICK_SLICING, total_timesteps=192, num_steps=64, update_epochs=4, eval_episodes=1,
             tensorboard=None)


def make_env(args: Args, actions: str = "normalized"):
    def thunk():
        env = gym.make("ranemu/SliceCell-v0", cell=args.cell, path=args.scenario, overrides=args.overrides,
                       actions=actions)
        env = gym.wrappers.RecordEpisodeStatistics(env)
        return gym.wrappers.ClipAction(env)
    return thunk


def build_agent(obs_dim: int, act_dim: int):
    import torch
    from torch import nn

    def layer(i, o, std=np.sqrt(2)):
        lin = nn.Linear(i, o)
        nn.init.orthogonal_(lin.weight, std)
        nn.init.constant_(lin.bias, 0.0)
        return lin

    class Agent(nn.Module):
        def __init__(self):
            super().__init__()
            self.critic = nn.Sequential(layer(obs_dim, 64), nn.Tanh(), layer(64, 64), nn.Tanh(), layer(64, 1, 1.0))
            self.actor_mean = nn.Sequential(layer(obs_dim, 64), nn.Tanh(), layer(64, 64), nn.Tanh(),
                                            layer(64, act_dim, 0.01))
            self.actor_logstd = nn.Parameter(torch.zeros(1, act_dim))

        def value(self, x):
            return self.critic(x)

        def act(self, x, action=None):
            mean = self.actor_mean(x)
            dist = torch.distributions.Normal(mean, self.actor_logstd.expand_as(mean).exp())
            if action is None:
                action = dist.sample()
            return action, dist.log_prob(action).sum(1), dist.entropy().sum(1), self.critic(x)

    return Agent()


def train(args: Args):
    import torch
    from torch import optim

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    writer = None
    if args.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(f"{args.tensorboard}/cleanrl-ppo-slicing-{args.seed}-{int(time.time())}")
        writer.add_text("hyperparameters", "\n".join(f"|{k}|{v}|" for k, v in asdict(args).items()))
    envs = gym.vector.SyncVectorEnv([make_env(args) for _ in range(args.num_envs)])
    obs_dim, act_dim = envs.single_observation_space.shape[0], envs.single_action_space.shape[0]
    agent = build_agent(obs_dim, act_dim)
    opt = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    n, e = args.num_steps, args.num_envs
    batch = n * e
    mb = batch // args.num_minibatches
    obs_b = torch.zeros((n, e, obs_dim))
    act_b = torch.zeros((n, e, act_dim))
    logp_b, rew_b, done_b, val_b = (torch.zeros((n, e)) for _ in range(4))
    next_obs, _ = envs.reset(seed=args.seed)
    next_obs = torch.as_tensor(next_obs, dtype=torch.float32)
    next_done = torch.zeros(e)
    step = 0
    for update in range(max(1, args.total_timesteps // batch)):
        for t in range(n):
            step += e
            obs_b[t], done_b[t] = next_obs, next_done
            with torch.no_grad():
                action, logp, _, value = agent.act(next_obs)
            act_b[t], logp_b[t], val_b[t] = action, logp, value.flatten()
            o, r, term, trunc, info = envs.step(action.numpy())
            rew_b[t] = torch.as_tensor(r, dtype=torch.float32)
            next_obs = torch.as_tensor(o, dtype=torch.float32)
            next_done = torch.as_tensor(np.logical_or(term, trunc), dtype=torch.float32)
            if writer is not None and "episode" in info:
                for i in np.flatnonzero(info.get("_episode", [])):
                    writer.add_scalar("charts/episodic_return", info["episode"]["r"][i], step)
        with torch.no_grad():  # GAE (truncation treated as an end, as CleanRL does)
            next_value = agent.value(next_obs).flatten()
            adv = torch.zeros_like(rew_b)
            last = torch.zeros(e)
            for t in reversed(range(n)):
                nonterminal = 1.0 - (next_done if t == n - 1 else done_b[t + 1])
                nv = next_value if t == n - 1 else val_b[t + 1]
                delta = rew_b[t] + args.gamma * nv * nonterminal - val_b[t]
                last = delta + args.gamma * args.gae_lambda * nonterminal * last
                adv[t] = last
            ret = adv + val_b
        b_obs, b_act = obs_b.reshape(batch, obs_dim), act_b.reshape(batch, act_dim)
        b_logp, b_adv, b_ret = logp_b.reshape(-1), adv.reshape(-1), ret.reshape(-1)
        idx = np.arange(batch)
        for _ in range(args.update_epochs):
            np.random.shuffle(idx)
            for s in range(0, batch, mb):
                j = idx[s:s + mb]
                _, logp, ent, v = agent.act(b_obs[j], b_act[j])
                ratio = (logp - b_logp[j]).exp()
                a = b_adv[j]
                a = (a - a.mean()) / (a.std() + 1e-8)
                pg = torch.max(-a * ratio, -a * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
                v_loss = 0.5 * ((v.flatten() - b_ret[j]) ** 2).mean()
                loss = pg - args.ent_coef * ent.mean() + args.vf_coef * v_loss
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                opt.step()
        if writer is not None:
            writer.add_scalar("losses/value_loss", v_loss.item(), step)
            writer.add_scalar("losses/policy_loss", pg.item(), step)
            writer.add_scalar("charts/mean_reward", rew_b.mean().item(), step)
    envs.close()
    if writer is not None:
        writer.close()
    return agent


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = Args()
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--total-timesteps", type=int, default=d.total_timesteps)
    p.add_argument("--eval-episodes", type=int, default=d.eval_episodes)
    p.add_argument("--tensorboard", default=d.tensorboard, help="TensorBoard log folder ('' for none)")
    p.add_argument("--quick", action="store_true", help="tiny world and budget (what the test runs)")
    a = p.parse_args(argv)
    args = Args(seed=a.seed, total_timesteps=a.total_timesteps, eval_episodes=a.eval_episodes,
                tensorboard=a.tensorboard or None)
    if a.quick:
        args = Args(**{**asdict(args), **QUICK})
    import torch

    agent = train(args)

    def policy(obs, info):
        with torch.no_grad():
            return agent.actor_mean(torch.as_tensor(obs, dtype=torch.float32)[None]).numpy()[0].clip(-1, 1)

    scores = compare(lambda actions: make_env(args, actions)(), policy, "normalized", episodes=args.eval_episodes,
                     seed=args.eval_seed, trained_name="cleanrl-ppo")
    print(table(scores, f"CleanRL-style PPO on {args.scenario} cell {args.cell}, {args.total_timesteps} steps, "
                        f"seed {args.seed}"))
    return {s.name: {"mean": s.mean, "ci95": s.ci95} for s in scores}


if __name__ == "__main__":
    try:
        main()
    except ModuleNotFoundError as exc:
        sys.exit(f"{exc.name} is missing: pip install 'ranemu[agents,rl]'")
