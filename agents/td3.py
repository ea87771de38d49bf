"""Distributed TD3 for slice partitioning: one independent learner per cell, trained in-process or served over the wire.

    python -m agents.td3 train [--scenario scenarios/slicing-12cell.yaml] [--steps N] [--seed S]
                               [--out DIR] [--device cpu|cuda] [--param PATH=VALUE ...]
    python -m agents.td3 run --endpoint tcp://127.0.0.1:5555 --checkpoint DIR [--roles slice/cell0,...]
                             [--learn] [--save DIR]

The method is the coordinated distributed DRL of Hu et al. (papers/slicing-transfer-learning-madrl.txt,
§IV-A and §V.2): every cell k runs its own TD3 agent (Fujimoto et al., ICML 2018: twin critics,
target policy smoothing, delayed actor updates) on its own reward r_k = min over slices of
min(throughput / required, required delay / delay, 1). Coordination is in the observation: the env's
4N features are the 3N local ones (throughput, load, users per slice) followed by the N mean
per-slice loads of the neighbour cells (paper eq. 5), so the learners stay independent. The K
learners are computed together as ensembles (one batched matmul per layer); see `CellAgents` for why
that is still exactly K separate TD3 agents.

Simplex actions. The actor ends in a softmax, so its shares are on the simplex by construction, and
the critics are fed exactly the shares the cell applies. The alternative (a sigmoid Box action that
the env's adapter divides by its sum) gives N outputs for N − 1 degrees of freedom: every ray c·x maps
to one partition, and the critic would have to learn that invariance from data. Exploration noise
and target smoothing noise are added to the shares and mapped back with the adapter's own rule (clip
to [0, 1], divide by the sum, all-zero → equal split); the env's adapter then leaves the actions as
they are (x / sum(x) of a vector already summing to 1).

Inputs. The networks see observations scaled to [0, 1] by the observation space's bounds (the
paper does not say how it scaled them); raw inputs made the actor collapse onto a simplex vertex
(see `CellAgents._stack`).

Schedule (paper §V.2): `exploration_steps` of uniform random shares (Dirichlet(1), the simplex's
uniform law) that only fill the replay buffers (as CleanRL's `learning_starts`), `training_steps`
with Gaussian exploration and one TD3 update per cell per step, `evaluation_steps` of the
deterministic actors without learning. The
traffic-aware baseline (shares ∝ the cell's offered demand, built-in policy `traffic_aware`) runs on
the same env and seed for comparison; the run folder gets rewards.csv, rewards.png, summary.json and
checkpoints/ (torch state dicts, one file per cell, plus meta.json).

Reproducibility: one seed gives the world's seed (`env.reset(seed=)`), torch's initial weights
(`torch.manual_seed`), the exploration and replay-sampling numpy Generators and the target-smoothing
torch Generator; on CPU torch runs deterministic algorithms in `threads` threads, so a seed repeats a
run bit for bit.
"""
from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import yaml
from torch import nn

from bridge.client import Indication as WireIndication
from bridge.envs import SLICING_SCENARIO, PointsParallelEnv, RanemuError, slicing_parallel_env
from bridge.policies import lookup


@dataclass
class TD3Config:
    """Hyperparameters. Paper = Hu et al. §V.2; TD3 = Fujimoto et al. 2018 (values the paper omits)."""

    actor_hidden: tuple[int, ...] = (48, 24)      # paper: actor MLP (48, 24)
    critic_hidden: tuple[int, ...] = (64, 24)     # paper: critic MLP (64, 24)
    actor_lr: float = 5e-4                        # paper: 0.0005, Adam
    critic_lr: float = 1e-3                       # paper: 0.001, Adam
    batch_size: int = 32                          # paper
    gamma: float = 0.1                            # paper: the action mostly drives the next reward
    exploration_steps: int = 3000                 # paper: random actions, buffer filling only
    training_steps: int = 5500                    # paper
    evaluation_steps: int = 250                   # paper: deterministic actors, no learning
    tau: float = 0.005                            # TD3: target networks' Polyak rate
    policy_delay: int = 2                         # TD3: one actor update per two critic updates
    # TD3's noise scales (0.1 exploration, 0.2 smoothing, clip 0.5) are for actions in [-1, 1]; shares
    # live in [0, 1], so they are halved (CleanRL scales them by (high - low) / 2 the same way).
    exploration_noise: float = 0.05
    policy_noise: float = 0.1
    noise_clip: float = 0.25
    buffer_size: int = 100_000                    # ours: holds a whole paper run (8750 steps)
    threads: int = 1                              # torch CPU threads (one core; bit-repeatable)

    def __post_init__(self) -> None:
        checks = [("batch_size", self.batch_size >= 1, ">= 1"), ("gamma", 0.0 <= self.gamma < 1.0, "in [0, 1)"),
                  ("tau", 0.0 < self.tau <= 1.0, "in (0, 1]"), ("policy_delay", self.policy_delay >= 1, ">= 1"),
                  ("buffer_size", self.buffer_size >= self.batch_size, ">= batch_size"),
                  ("threads", self.threads >= 1, ">= 1"),
                  ("actor_lr", self.actor_lr > 0, "> 0"), ("critic_lr", self.critic_lr > 0, "> 0"),
                  ("actor_hidden", all(n >= 1 for n in self.actor_hidden), "positive sizes"),
                  ("critic_hidden", all(n >= 1 for n in self.critic_hidden), "positive sizes")]
        checks += [(name, getattr(self, name) >= 0, ">= 0") for name in
                   ("exploration_steps", "training_steps", "evaluation_steps", "exploration_noise", "policy_noise",
                    "noise_clip")]
        for name, ok, want in checks:
            if not ok:
                raise ValueError(f"{name} must be {want}, got {getattr(self, name)!r}")

    @property
    def total_steps(self) -> int:
        return self.exploration_steps + self.training_steps + self.evaluation_steps

    def with_total(self, steps: int) -> "TD3Config":
        """The three phases rescaled to `steps` in their configured proportions."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        total = self.total_steps
        explore = round(steps * self.exploration_steps / total)
        evaluate = round(steps * self.evaluation_steps / total)
        return dataclasses.replace(self, exploration_steps=explore, evaluation_steps=evaluate,
                                   training_steps=steps - explore - evaluate)

    def phase(self, step: int) -> str:
        if step < self.exploration_steps:
            return "exploration"
        if step < self.exploration_steps + self.training_steps:
            return "training"
        return "evaluation"


# -- networks: K independent members evaluated as one batched matmul ---------------------------------
class EnsembleLinear(nn.Module):
    """K independent linear layers, (K, B, in) → (K, B, out); member k's weights see only input k."""

    def __init__(self, k: int, n_in: int, n_out: int):
        super().__init__()
        # nn.Linear's default init, per member: U(−1/√in, 1/√in) for weights and biases.
        bound = 1.0 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(k, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(k, 1, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


def ensemble_mlp(k: int, sizes: Sequence[int]) -> nn.Sequential:
    """K MLPs with ReLU between layers (none after the last)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(EnsembleLinear(k, sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """(K, B, obs) → (K, B, N) slice shares on the simplex (softmax head), one policy per member."""

    def __init__(self, k: int, obs_dim: int, act_dim: int, hidden: Sequence[int]):
        super().__init__()
        self.net = ensemble_mlp(k, [obs_dim, *hidden, act_dim])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(obs), dim=-1)


class Critic(nn.Module):
    """(K, B, obs), (K, B, N) → (K, B) Q values, one critic per member."""

    def __init__(self, k: int, obs_dim: int, act_dim: int, hidden: Sequence[int]):
        super().__init__()
        self.net = ensemble_mlp(k, [obs_dim + act_dim, *hidden, 1])

    def forward(self, obs: torch.Tensor, shares: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, shares], dim=-1)).squeeze(-1)


# -- noise on the simplex (the env adapter's rule: clip to [0, 1], x / sum, all-zero → equal) ----------
def to_simplex(x: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    total = x.sum(axis=-1, keepdims=True)
    return np.where(total > 0.0, x / np.where(total > 0.0, total, 1.0), 1.0 / x.shape[-1])


def to_simplex_torch(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    total = x.sum(dim=-1, keepdim=True)
    return torch.where(total > 0.0, x / total.clamp_min(torch.finfo(x.dtype).tiny), 1.0 / x.shape[-1])


def smoothed_target_shares(shares: torch.Tensor, std: float, clip: float, gen: torch.Generator) -> torch.Tensor:
    """TD3 target policy smoothing on the simplex: clipped Gaussian noise, mapped back."""
    noise = torch.randn(shares.shape, generator=gen, device=shares.device, dtype=shares.dtype) * std
    return to_simplex_torch(shares + noise.clamp(-clip, clip))


# -- replay --------------------------------------------------------------------------------------
class ReplayBuffer:
    """One ring of transitions per member (obs, shares, reward, next obs, terminated), stacked (K, capacity, ·)."""

    def __init__(self, k: int, obs_dim: int, act_dim: int, capacity: int):
        self.obs = np.zeros((k, capacity, obs_dim), dtype=np.float32)
        self.act = np.zeros((k, capacity, act_dim), dtype=np.float32)
        self.rew = np.zeros((k, capacity), dtype=np.float32)
        self.next_obs = np.zeros((k, capacity, obs_dim), dtype=np.float32)
        self.term = np.zeros((k, capacity), dtype=np.float32)
        self.k, self.capacity, self.size, self.pos = k, capacity, 0, 0

    def add(self, obs, act, rew, next_obs, term) -> None:
        """One transition per member: arrays with leading dimension K."""
        i = self.pos
        self.obs[:, i], self.act[:, i], self.rew[:, i], self.next_obs[:, i], self.term[:, i] = obs, act, rew, next_obs, term
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    fields = ("obs", "act", "rew", "next_obs", "term")

    def member_arrays(self, i: int) -> dict[str, np.ndarray]:
        """Member i's stored transitions, oldest first: {field: (size, ·)} (copies)."""
        order = (np.arange(self.size) + (self.pos if self.size == self.capacity else 0)) % self.capacity
        return {f: getattr(self, f)[i, order].copy() for f in self.fields}

    def load_members(self, per_member: Sequence[Mapping[str, np.ndarray]]) -> None:
        """Replace the contents with one transition set per member (oldest first, equal counts).

        The newest `capacity` transitions are kept when a set is longer than the ring. Raises
        ValueError for a wrong member count, unequal counts or mismatched shapes.
        """
        if len(per_member) != self.k:
            raise ValueError(f"{len(per_member)} transition sets for {self.k} members")
        counts = {len(m["rew"]) for m in per_member}
        if len(counts) != 1:
            raise ValueError(f"members' transition counts differ: {sorted(counts)}")
        n = counts.pop()
        keep = min(n, self.capacity)
        for i, m in enumerate(per_member):
            for f in self.fields:
                a = np.asarray(m[f], dtype=np.float32)[n - keep:]
                target = getattr(self, f)
                if a.shape[1:] != target.shape[2:]:
                    raise ValueError(f"replay field {f}: shape {a.shape[1:]} does not fit {target.shape[2:]}")
                target[i, :keep] = a
        self.size, self.pos = keep, keep % self.capacity

    def sample(self, n: int, rng: np.random.Generator, device: torch.device) -> tuple[torch.Tensor, ...]:
        """n transitions per member, drawn independently for each member."""
        idx = rng.integers(0, self.size, size=(self.k, n))
        rows = np.arange(self.k)[:, None]
        return tuple(torch.as_tensor(a[rows, idx], device=device)
                     for a in (self.obs, self.act, self.rew, self.next_obs, self.term))


# -- the learners -----------------------------------------------------------------------------------
def file_name(role: str) -> str:
    """`slice/cell3` → `slice_cell3.pt`."""
    return role.replace("/", "_") + ".pt"


def replay_name(role: str) -> str:
    """`slice/cell3` → `slice_cell3.replay.npz`."""
    return role.replace("/", "_") + ".replay.npz"


def read_replay(folder: str | Path, role: str) -> dict[str, np.ndarray]:
    """The replay buffer of `role` saved in a checkpoint folder: {obs, act, rew, next_obs, term}, oldest first."""
    path = Path(folder) / replay_name(role)
    if not path.exists():
        raise FileNotFoundError(f"{folder}: no replay buffer for {role} (save the checkpoint with replay=True)")
    with np.load(path) as z:
        return {f: z[f] for f in ReplayBuffer.fields}


class CellAgents:
    """One TD3 learner per role (cell): actor, twin critics, target copies, optimiser state, replay.

    The K learners are stored as ensembles (one tensor per layer with a leading member axis), which
    makes a step of all K one batched computation. They stay exactly independent: member k's
    networks only ever see role k's observations, actions and rewards, its losses are summed with
    the others' (so its gradient is its own loss's), and Adam works element by element.
    """

    _nets = ("actor", "actor_target", "q1", "q2", "q1_target", "q2_target")
    _opts = ("actor_opt", "critic_opt")

    def __init__(self, roles: Sequence[str], obs_low: Sequence[float], obs_high: Sequence[float], act_dim: int,
                 cfg: TD3Config, seed: int, device: str | torch.device = "cpu"):
        """`obs_low`/`obs_high`: the observation space's bounds, which scale the networks' inputs to [0, 1]."""
        self.roles, self.cfg, self.seed = list(roles), cfg, int(seed)
        k = len(self.roles)
        self.obs_low = np.asarray(obs_low, dtype=np.float32).reshape(-1)
        self.obs_high = np.asarray(obs_high, dtype=np.float32).reshape(-1)
        if self.obs_low.shape != self.obs_high.shape or not np.all(np.isfinite(self.obs_high - self.obs_low)) \
                or np.any(self.obs_high <= self.obs_low):
            raise ValueError("observation bounds must be finite with high > low in every feature")
        self.obs_dim, self.act_dim = obs_dim, act_dim = self.obs_low.size, int(act_dim)
        self.device = torch.device(device)
        # Named streams from the seed: exploration, replay sampling, target smoothing.
        explore, sample, smooth = np.random.SeedSequence(self.seed).spawn(3)
        self.explore_rng = np.random.default_rng(explore)
        self.sample_rng = np.random.default_rng(sample)
        self.noise_gen = torch.Generator(device=self.device)
        self.noise_gen.manual_seed(int(smooth.generate_state(1, dtype=np.uint64)[0] >> 1))
        torch.manual_seed(self.seed)
        self.actor = Actor(k, obs_dim, act_dim, cfg.actor_hidden).to(self.device)
        self.q1 = Critic(k, obs_dim, act_dim, cfg.critic_hidden).to(self.device)
        self.q2 = Critic(k, obs_dim, act_dim, cfg.critic_hidden).to(self.device)
        self.actor_target = copy.deepcopy(self.actor)
        self.q1_target, self.q2_target = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr)
        self.critic_opt = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=cfg.critic_lr)
        self.buffer = ReplayBuffer(k, obs_dim, act_dim, cfg.buffer_size)
        self.updates = 0

    # -- acting
    def _stack(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Observations of all roles (K, obs_dim), scaled to [0, 1] by the space's bounds.

        Without the scaling, features up to 10 (throughput / requirement) make the hidden layers'
        activations large; Adam then moves the actor's logits far per step, the softmax saturates at a
        vertex of the simplex (one slice gets everything, the others starve, r_k = 0) and, saturated,
        the actor cannot come back: on both the 12-cell scenario and a 1-cell test world that is
        what raw inputs did within a few hundred steps.
        """
        missing = [r for r in self.roles if r not in obs]
        if missing:
            raise KeyError(f"no observation for {', '.join(missing)}")
        raw = np.stack([np.asarray(obs[r], dtype=np.float32).reshape(self.obs_dim) for r in self.roles])
        return (raw - self.obs_low) / (self.obs_high - self.obs_low)

    @torch.no_grad()
    def policy(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The deterministic shares (K, N) for the roles' raw observations, float64."""
        x = torch.as_tensor(self._stack(obs), device=self.device)
        return self.actor(x[:, None, :])[:, 0, :].double().cpu().numpy()

    def act(self, obs: Mapping[str, np.ndarray], mode: str) -> dict[str, np.ndarray]:
        """Shares per role: mode "random" (Dirichlet(1)), "noisy" (actor + Gaussian) or "greedy" (actor)."""
        k, n = len(self.roles), self.act_dim
        if mode == "random":
            shares = self.explore_rng.dirichlet(np.ones(n), size=k)
        elif mode == "noisy":
            shares = to_simplex(self.policy(obs) + self.explore_rng.normal(0.0, self.cfg.exploration_noise, (k, n)))
        elif mode == "greedy":
            shares = self.policy(obs)
        else:
            raise ValueError(f"mode must be random, noisy or greedy, got {mode!r}")
        return {r: shares[i] for i, r in enumerate(self.roles)}

    # -- learning
    def store(self, obs, actions, rewards, next_obs, terminated, infos) -> bool:
        """Add one step's transitions of all roles; False (nothing stored) if the world ended first."""
        if any("end" in infos.get(r, {}) for r in self.roles):
            return False  # no epoch followed the action: no reward was earned for it
        self.buffer.add(self._stack(obs), np.stack([actions[r] for r in self.roles]),
                        np.array([rewards[r] for r in self.roles]), self._stack(next_obs),
                        np.array([float(terminated[r]) for r in self.roles]))
        return True

    def critic_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Σ over members of both critics' mean squared TD errors against the clipped double-Q target."""
        obs, act, rew, next_obs, term = batch
        cfg = self.cfg
        with torch.no_grad():
            next_act = smoothed_target_shares(self.actor_target(next_obs), cfg.policy_noise, cfg.noise_clip,
                                              self.noise_gen)
            next_q = torch.min(self.q1_target(next_obs, next_act), self.q2_target(next_obs, next_act))
            target = rew + cfg.gamma * (1.0 - term) * next_q
        per_member = ((self.q1(obs, act) - target) ** 2).mean(dim=1) + ((self.q2(obs, act) - target) ** 2).mean(dim=1)
        return per_member.sum()

    def update(self, batch: tuple[torch.Tensor, ...]) -> dict[str, float]:
        """One TD3 step: critics every call; actor and Polyak targets every `policy_delay`-th call."""
        loss = self.critic_loss(batch)
        self.critic_opt.zero_grad()
        loss.backward()
        self.critic_opt.step()
        self.updates += 1
        k = len(self.roles)
        out = {"critic_loss": loss.item() / k}
        if self.updates % self.cfg.policy_delay == 0:
            obs = batch[0]
            actor_loss = -self.q1(obs, self.actor(obs)).mean(dim=1).sum()
            self.actor_opt.zero_grad()
            actor_loss.backward()
            self.actor_opt.step()
            with torch.no_grad():
                for net, target in ((self.actor, self.actor_target), (self.q1, self.q1_target),
                                    (self.q2, self.q2_target)):
                    for p, tp in zip(net.parameters(), target.parameters()):
                        tp.lerp_(p, self.cfg.tau)
            out["actor_loss"] = actor_loss.item() / k
        return out

    def learn(self) -> dict[str, float]:
        """One update of every member once the replay holds a batch; mean losses per member."""
        if self.buffer.size < self.cfg.batch_size:
            return {}
        return self.update(self.buffer.sample(self.cfg.batch_size, self.sample_rng, self.device))

    # -- checkpoints: one file per role, so a cell's agent can be loaded alone (or for another cell)
    def member_state(self, i: int) -> dict[str, Any]:
        """Role i's networks and optimiser moments as plain tensors without the member axis."""
        state: dict[str, Any] = {name: {k: v[i].clone() for k, v in getattr(self, name).state_dict().items()}
                                 for name in self._nets}
        for name in self._opts:
            opt_state = getattr(self, name).state_dict()["state"]
            state[name] = {str(p): {k: (v[i].clone() if k != "step" else v.clone()) for k, v in s.items()}
                           for p, s in opt_state.items()}
        state["updates"] = self.updates
        return state

    def load_members(self, states: Sequence[Mapping[str, Any]]) -> None:
        """Set all members from per-role states (in role order), e.g. read by `load`."""
        if len(states) != len(self.roles):
            raise ValueError(f"{len(states)} states for {len(self.roles)} roles")
        for name in self._nets:
            net = getattr(self, name)
            net.load_state_dict({k: torch.stack([s[name][k] for s in states]) for k in net.state_dict()})
        for name in self._opts:
            opt = getattr(self, name)
            full = opt.state_dict()
            per_param = states[0][name]
            # Adam's step count is shared by the members; checkpoints trained together agree on it.
            full["state"] = {int(p): {k: (torch.stack([s[name][p][k] for s in states]) if k != "step"
                                          else max((s[name][p][k] for s in states), key=float))
                                      for k in per_param[p]} for p in per_param}
            opt.load_state_dict(full)
        self.updates = max(int(s["updates"]) for s in states)

    def save(self, folder: str | Path, extra: Mapping[str, Any] | None = None, replay: bool = False) -> Path:
        """One state file per role, meta.json and, with `replay`, each role's replay buffer
        (`<role file>.replay.npz`, transitions oldest first) for instance transfer or resuming."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for i, r in enumerate(self.roles):
            torch.save(self.member_state(i), folder / file_name(r))
            if replay:
                np.savez_compressed(folder / replay_name(r), **self.buffer.member_arrays(i))
        meta = {"roles": self.roles, "obs_low": self.obs_low.tolist(), "obs_high": self.obs_high.tolist(),
                "act_dim": self.act_dim, "seed": self.seed,
                "config": dataclasses.asdict(self.cfg), **(extra or {})}
        (folder / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path, roles: Sequence[str] | None = None, device: str = "cpu",
             seed: int | None = None) -> "CellAgents":
        """The agents saved in `folder` (all, or `roles`) with networks, optimiser moments and update count.

        The replay buffers are restored when the checkpoint holds them for every role (saved with
        `replay=True`), else they start empty; exploration and sampling streams restart from `seed`
        (default: the training seed).
        """
        folder = Path(folder)
        meta_path = folder / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{folder}: no meta.json (not a checkpoint folder written by agents.td3)")
        meta = json.loads(meta_path.read_text())
        known = list(meta["roles"])
        roles = known if roles is None else list(roles)
        missing = [r for r in roles if r not in known]
        if missing:
            raise ValueError(f"{folder}: no checkpoint for {', '.join(missing)}; it holds {', '.join(known)}")
        fields = {f.name for f in dataclasses.fields(TD3Config)}
        raw = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items() if k in fields}
        team = cls(roles, meta["obs_low"], meta["obs_high"], int(meta["act_dim"]), TD3Config(**raw),
                   int(meta["seed"]) if seed is None else seed, device)
        team.load_members([torch.load(folder / file_name(r), map_location=team.device, weights_only=True)
                           for r in roles])
        if all((folder / replay_name(r)).exists() for r in roles):
            team.buffer.load_members([read_replay(folder, r) for r in roles])
        return team


# -- running the envs ------------------------------------------------------------------------------
def check_device(device: str) -> None:
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device}: this torch ({torch.__version__}) sees no CUDA device")


def configure_torch(cfg: TD3Config, device: str) -> None:
    """Threads and deterministic kernels (CPU) for bit-repeatable runs."""
    check_device(device)
    torch.set_num_threads(cfg.threads)
    if torch.device(device).type == "cpu":
        torch.use_deterministic_algorithms(True)


def env_spec(env: PointsParallelEnv) -> tuple[list[str], np.ndarray, np.ndarray, int]:
    """Roles, observation bounds (low, high) and action size of a parallel env whose agents share their spaces."""
    roles = list(env.possible_agents)
    obs_spaces = [env.observation_space(r) for r in roles]
    act_shapes = {env.action_space(r).shape for r in roles}
    first = obs_spaces[0]
    if len(act_shapes) != 1 or any(sp != first for sp in obs_spaces):
        raise ValueError("one TD3 team needs agents with equal observation and action spaces")
    return roles, first.low.reshape(-1), first.high.reshape(-1), int(np.prod(act_shapes.pop()))


def baseline_rewards(env: PointsParallelEnv, policy: str, steps: int, seed: int,
                     on_step: Callable[[int], None] | None = None,
                     on_info: Callable[[int, dict, dict], None] | None = None) -> np.ndarray:
    """(steps, agents) rewards of the built-in `policy` on `env` from `reset(seed)`, resetting at episode ends.

    `on_info(step, infos, rewards)` is called after every env step with its per-role infos."""
    roles = list(env.possible_agents)
    kinds = {r: env.describe(r)["kind"] for r in roles}
    try:
        fns = {r: lookup(kinds[r], policy) for r in roles}
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None  # the catalogue's message names the known policies
    out = np.zeros((steps, len(roles)))
    obs, info = env.reset(seed=seed)
    for t in range(steps):
        # The built-in policies are functions of an indication; the env's info carries the same fields.
        acts = {r: fns[r](WireIndication(r, info[r]["step"], info[r]["time"], obs[r], 0.0, False, False,
                                         info[r], math.inf, kinds[r])) for r in env.agents}
        obs, rew, _, _, info = env.step(acts)
        out[t] = [rew[r] for r in roles]
        if on_info is not None:
            on_info(t, info, rew)
        if not env.agents:
            obs, info = env.reset()
        if on_step:
            on_step(t)
    return out


@dataclass
class TrainResult:
    """What a training run produced: per-step rewards (steps × agents), losses, the trained team."""

    roles: list[str]
    rewards: np.ndarray
    baseline: np.ndarray | None
    phases: list[str]
    agents: CellAgents
    wall_s: float                 # the training loop (env steps, acting, learning)
    critic_loss: np.ndarray
    baseline_policy: str | None = None
    baseline_wall_s: float = 0.0

    def summary(self, window: int = 100) -> dict[str, Any]:
        w = min(window, len(self.rewards))
        ev = np.array([p == "evaluation" for p in self.phases])
        out = {"steps": len(self.rewards), "window": w, "train_wall_s": round(self.wall_s, 3),
               "baseline_wall_s": round(self.baseline_wall_s, 3),
               "agent_last_mean": float(self.rewards[-w:].mean()),
               "agent_eval_mean": float(self.rewards[ev].mean()) if ev.any() else None}
        if self.baseline is not None:
            out["baseline_last_mean"] = float(self.baseline[-w:].mean())
            out["baseline_eval_mean"] = float(self.baseline[ev].mean()) if ev.any() else None
        return out


def train(env: PointsParallelEnv, cfg: TD3Config, seed: int, device: str = "cpu", baseline: str | None = "traffic_aware",
          baseline_env: PointsParallelEnv | None = None, progress: Callable[[str, int, int, dict], None] | None = None,
          team: "CellAgents | None" = None, on_info: Callable[[int, str, dict, dict], None] | None = None,
          baseline_on_info: Callable[[int, str, dict, dict], None] | None = None) -> TrainResult:
    """Train one TD3 per agent of `env` for `cfg.total_steps` steps from `env.reset(seed)`.

    `baseline` (a built-in policy name, or None) runs on `baseline_env` (default: `env` itself, before
    training) from the same seed. `progress(stage, step, total, stats)` is called after every step;
    `on_info(step, phase, infos, rewards)` (and `baseline_on_info` for the baseline run) after
    every env step with the per-role infos, e.g. `slicing_metrics.KpiLog.add`. `team`: start from
    these agents (e.g. transferred ones) instead of freshly initialised ones.
    """
    configure_torch(cfg, device)
    roles, obs_low, obs_high, act_dim = env_spec(env)
    steps = cfg.total_steps
    phases = [cfg.phase(t) for t in range(steps)]
    base = None
    t0 = time.perf_counter()
    if baseline is not None:
        benv = baseline_env or env
        base = baseline_rewards(benv, baseline, steps, seed,
                                on_step=(lambda t: progress("baseline", t, steps, {})) if progress else None,
                                on_info=(lambda t, i, r: baseline_on_info(t, phases[t], i, r)) if baseline_on_info
                                else None)
    base_wall = time.perf_counter() - t0
    if team is None:
        team = CellAgents(roles, obs_low, obs_high, act_dim, cfg, seed, device)
    elif team.roles != roles:
        raise ValueError(f"the team is for {', '.join(team.roles)}; the env serves {', '.join(roles)}")
    rewards = np.zeros((steps, len(roles)))
    critic_loss = np.full(steps, np.nan)
    t0 = time.perf_counter()
    obs, _ = env.reset(seed=seed)
    for t in range(steps):
        phase = phases[t]
        mode = {"exploration": "random", "training": "noisy", "evaluation": "greedy"}[phase]
        actions = team.act(obs, mode)
        next_obs, rew, term, _, info = env.step(actions)
        rejected = {r: i["rejected"] for r, i in info.items() if "rejected" in i}
        if rejected:
            raise RuntimeError(f"step {t}: the env rejected shares: {rejected}")
        rewards[t] = [rew[r] for r in roles]
        if on_info is not None:
            on_info(t, phase, info, rew)
        if phase != "evaluation":
            team.store(obs, actions, rew, next_obs, term, info)
        if phase == "training":
            critic_loss[t] = team.learn().get("critic_loss", np.nan)
        obs = next_obs
        if not env.agents:
            obs, _ = env.reset()
        if progress:
            progress(phase, t, steps, {"reward": rewards[t].mean()})
    return TrainResult(roles, rewards, base, phases, team, time.perf_counter() - t0, critic_loss, baseline, base_wall)


def continuous_world() -> dict[str, Any]:
    """Scenario overrides for one world for the whole run: no episode cut and a horizon (10^7 s of
    simulated time, 115 days) that no training run reaches, so the env never resets the world."""
    return {"duration": 1e7, "episode_steps": None}


def rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    c = np.cumsum(np.insert(np.asarray(x, dtype=float), 0, 0.0))
    n = np.minimum(np.arange(1, len(x) + 1), window)
    return (c[1:] - c[np.arange(1, len(x) + 1) - n]) / n


def write_outputs(result: TrainResult, out: Path, meta: Mapping[str, Any], window: int = 100,
                  replay: bool = False) -> dict[str, Any]:
    """rewards.csv, rewards.png, summary.json and checkpoints/ (with replay buffers if `replay`) into `out`;
    returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    agent_mean = result.rewards.mean(axis=1)
    base_mean = result.baseline.mean(axis=1) if result.baseline is not None else None
    with open(out / "rewards.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "phase", "agent_mean", "agent_min_cell", "baseline_mean", "baseline_min_cell",
                    "critic_loss"])
        for t in range(len(agent_mean)):
            w.writerow([t, result.phases[t], f"{agent_mean[t]:.6f}", f"{result.rewards[t].min():.6f}",
                        "" if base_mean is None else f"{base_mean[t]:.6f}",
                        "" if base_mean is None else f"{result.baseline[t].min():.6f}",
                        "" if np.isnan(result.critic_loss[t]) else f"{result.critic_loss[t]:.6g}"])
    summary = {**result.summary(window), **meta}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    result.agents.save(out / "checkpoints", extra=meta, replay=replay)
    plot_rewards(result, out / "rewards.png", window)
    return summary


def plot_rewards(result: TrainResult, path: Path, window: int = 100) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.arange(len(result.rewards))
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=120)
    agent = result.rewards.mean(axis=1)
    ax.plot(steps, agent, color="tab:blue", alpha=0.2, lw=0.6)
    ax.plot(steps, rolling_mean(agent, window), color="tab:blue", lw=1.6, label=f"TD3 (mean over cells, {window}-step mean)")
    if result.baseline is not None:
        base = result.baseline.mean(axis=1)
        ax.plot(steps, base, color="tab:orange", alpha=0.2, lw=0.6)
        ax.plot(steps, rolling_mean(base, window), color="tab:orange", lw=1.6, label=f"{result.baseline_policy} baseline (same seed, {window}-step mean)")
    start = 0
    for name in ("exploration", "training", "evaluation"):
        n = sum(p == name for p in result.phases)
        if n:
            ax.axvspan(start, start + n, color={"exploration": "0.92", "training": "white", "evaluation": "0.85"}[name],
                       zorder=0)
            ax.text(start + n / 2, 1.02, name, ha="center", va="bottom", fontsize=8, transform=ax.get_xaxis_transform())
        start += n
    ax.set_xlabel("decision step")
    ax.set_ylabel("reward r_k (min slice satisfaction)")
    ax.set_ylim(0.0, 1.05)
    ax.set_xlim(0, max(1, len(steps) - 1))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# -- remote agent ----------------------------------------------------------------------------------
def serve_remote(env: PointsParallelEnv, team: CellAgents, learn: bool = False, episodes: int = 1,
                 seed: int | None = None, on_step: Callable[[int, float], None] | None = None) -> np.ndarray:
    """Act (and with `learn`, keep training) on `env` for `episodes` episodes; per-step mean rewards.

    Stops early when the emulator ends the run (its BYE surfaces as an episode end with `info["end"]`,
    then as ServerBye on the next reset).
    """
    from bridge.client import ServerBye

    if sorted(env.possible_agents) != sorted(team.roles):
        raise ValueError(f"the env serves {', '.join(env.possible_agents)}; the agents are for {', '.join(team.roles)}")
    _, low, high, act_dim = env_spec(env)
    if not (np.array_equal(low, team.obs_low) and np.array_equal(high, team.obs_high) and act_dim == team.act_dim):
        raise ValueError(f"the env's spaces ({low.size} observations in [{low.min():g}, {high.max():g}], {act_dim} "
                         f"actions) differ from the agents' ({team.obs_dim} in [{team.obs_low.min():g}, "
                         f"{team.obs_high.max():g}], {team.act_dim})")
    out: list[float] = []
    ended = False
    for ep in range(episodes):
        try:
            obs, _ = env.reset(seed=seed if ep == 0 else None)
        except ServerBye:
            break
        while env.agents:
            actions = team.act(obs, "noisy" if learn else "greedy")
            next_obs, rew, term, _, info = env.step(actions)
            ended = any("end" in i for i in info.values())
            if not ended:
                out.append(float(np.mean([rew[r] for r in actions])))
                if on_step:
                    on_step(len(out) - 1, out[-1])
            if learn:
                team.store(obs, actions, rew, next_obs, term, info)
                team.learn()
            obs = next_obs
        if ended:
            break
    return np.asarray(out)


# -- command line ------------------------------------------------------------------------------------
def parse_params(values: Sequence[str]) -> dict[str, Any]:
    """`PATH=VALUE` scenario overrides; values are YAML (`3`, `0.5`, `[1, 2]`, `{kind: constant}`)."""
    out = {}
    for v in values:
        if "=" not in v:
            raise ValueError(f"--param needs PATH=VALUE, got {v!r}")
        key, raw = v.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ValueError(f"--param {key.strip()}: cannot parse {raw!r} as YAML") from None
    return out


def _config_flags(ap: argparse.ArgumentParser) -> None:
    group = ap.add_argument_group("hyperparameters (defaults: paper §V.2, TD3 paper)")
    for f in dataclasses.fields(TD3Config):
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if isinstance(default, tuple):
            group.add_argument(flag, type=int, nargs="+", default=None, metavar="N", help=f"default {list(default)}")
        else:
            group.add_argument(flag, type=type(default), default=None, help=f"default {default}")


def _config_from_args(args: argparse.Namespace) -> TD3Config:
    changes = {}
    for f in dataclasses.fields(TD3Config):
        v = getattr(args, f.name)
        if v is not None:
            changes[f.name] = tuple(v) if isinstance(f.default, tuple) else v
    cfg = dataclasses.replace(TD3Config(), **changes)
    return cfg.with_total(args.steps) if args.steps is not None else cfg


class _Bar:
    """A rich progress bar per stage (baseline, training) with the running mean reward."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.progress = None
        self.tasks: dict[str, Any] = {}
        self.recent: list[float] = []

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("[bold]{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn())
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def __call__(self, stage: str, step: int, total: int, stats: dict) -> None:
        if self.progress is None:
            return
        key = "baseline" if stage == "baseline" else "td3"
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(key, total=total, info="")
        info = ""
        if "reward" in stats:
            self.recent = (self.recent + [stats["reward"]])[-100:]
            info = f"{stage:<11} reward(100) {np.mean(self.recent):.3f}"
        self.progress.update(self.tasks[key], completed=step + 1, info=info)


def cmd_train(args: argparse.Namespace) -> int:
    from agents.slicing_metrics import KpiLog, write_metrics

    cfg = _config_from_args(args)
    overrides = parse_params(args.param or [])
    if args.world == "continuous":
        overrides = {**overrides, **continuous_world()}
    env = slicing_parallel_env(args.scenario, overrides=overrides)
    out = Path(args.out) if args.out else Path("runs") / f"td3-{Path(args.scenario).stem}-s{args.seed}-{datetime.now():%Y%m%d-%H%M%S}"
    learner_log, baseline_log = KpiLog("td3", args.seed), KpiLog(args.baseline, args.seed)
    try:
        with _Bar(not args.quiet) as bar:
            result = train(env, cfg, args.seed, args.device, baseline=None if args.baseline == "none" else args.baseline,
                           progress=bar, on_info=learner_log.add, baseline_on_info=baseline_log.add)
    finally:
        env.close()
    meta = {"scenario": str(args.scenario), "params": overrides, "seed": args.seed, "device": args.device,
            "baseline_policy": args.baseline, "world": args.world,
            "train_steps_per_s": round(cfg.total_steps / result.wall_s, 2)}
    summary = write_outputs(result, out, meta, replay=args.save_replay)
    kpis = pd.concat([f for f in (learner_log.frame(), baseline_log.frame()) if len(f)], ignore_index=True)
    metrics = write_metrics(kpis, out, phase="evaluation" if cfg.evaluation_steps else None)
    for method, m in metrics["methods"].items():
        p = m["pooled"]
        print(f"{method}: P(min throughput satisfaction < 0.95) = {p['p_thr_sat_below_095']:.3f}, mean "
              f"{p['mean_min_thr_sat']:.3f}; max per-slice delay mean {p['mean_max_delay_ms']:.2f} ms "
              f"({metrics['phase'] or 'all'} steps)")
    w = summary["window"]
    line = f"TD3 mean reward over the last {w} steps: {summary['agent_last_mean']:.4f}"
    if result.baseline is not None:
        line += f"; {args.baseline} baseline, same seed: {summary['baseline_last_mean']:.4f}"
    print(line)
    print(f"run folder: {out}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bridge.client import BridgeError, Rejected
    from bridge.remote import RemoteParallelEnv

    roles = [r.strip() for arg in args.roles or [] for r in arg.split(",") if r.strip()] or None
    check_device(args.device)
    team = CellAgents.load(args.checkpoint, roles, args.device)
    configure_torch(team.cfg, args.device)
    try:
        env = RemoteParallelEnv(args.endpoint, team.roles, name=args.name, timeout_s=args.timeout)
    except Rejected as exc:
        print(f"agents.td3: refused by the emulator: {exc}", file=sys.stderr)
        return 2
    except (BridgeError, TimeoutError) as exc:
        print(f"agents.td3: {exc}", file=sys.stderr)
        return 1
    try:
        rewards = serve_remote(env, team, learn=args.learn, episodes=args.episodes, seed=args.seed)
    except (BridgeError, TimeoutError) as exc:
        print(f"agents.td3: {exc}", file=sys.stderr)
        return 1
    finally:
        env.close()
    if args.save:
        team.save(args.save, extra={"continued_from": str(args.checkpoint), "online_steps": len(rewards)})
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["step", "agent_mean"])
            w.writerows([t, f"{r:.6f}"] for t, r in enumerate(rewards))
    mean = f"{rewards.mean():.4f}" if len(rewards) else "n/a"
    print(f"served {len(team.roles)} role(s) for {len(rewards)} steps; mean reward {mean}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m agents.td3", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("train", help="train one TD3 per cell in-process and compare with the baseline")
    sp.add_argument("--scenario", default=SLICING_SCENARIO)
    sp.add_argument("--param", action="append", metavar="PATH=VALUE", help="scenario override (repeatable)")
    sp.add_argument("--steps", type=int, default=None,
                    help="total steps, split like the paper's 3000/5500/250 (default: the phase flags, 8750)")
    sp.add_argument("--seed", type=int, default=1)
    sp.add_argument("--out", default=None, help="run folder (default: runs/td3-SCENARIO-sSEED-TIME)")
    sp.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    sp.add_argument("--baseline", default="traffic_aware", help="built-in policy to compare with, or 'none'")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.add_argument("--world", default="episodic", choices=["episodic", "continuous"],
                    help="episodic: a new world every scenario duration; continuous: one world for the whole run "
                         "(as the paper trains)")
    sp.add_argument("--save-replay", action="store_true", help="write the replay buffers into the checkpoints")
    _config_flags(sp)
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("run", help="serve trained actors as a remote agent process")
    sp.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    sp.add_argument("--checkpoint", required=True, help="checkpoints folder of a training run")
    sp.add_argument("--roles", action="append", metavar="ROLE[,ROLE...]", help="subset of the checkpoint's roles")
    sp.add_argument("--learn", action="store_true", help="keep learning online (Gaussian exploration, TD3 updates)")
    sp.add_argument("--save", default=None, help="folder for the agents after online learning")
    sp.add_argument("--episodes", type=int, default=1)
    sp.add_argument("--seed", type=int, default=None, help="world seed of the first reset (default: the emulator's)")
    sp.add_argument("--out", default=None, help="CSV of per-step mean rewards")
    sp.add_argument("--name", default="td3")
    sp.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the emulator's answers")
    sp.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    sp.set_defaults(func=cmd_run)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, RanemuError) as exc:
        print(f"agents.td3: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
