"""Online ensemble training (paper §V-C, Algorithms 1 and 3): Lévy-refined actions into a prioritized replay, L = L_1 + λ2·L_A.

Per decision epoch t (Algorithm 1, online stages, and Algorithm 3):
1. every agent j scores the IoTDs from its own state h_j; the emulator's max vote gives a^e (the
   action applied: the online inference stage);
2. a Lévy flight search (Algorithm 4) refines a^e into a* on the epoch's objective (with
   `use_levy=False`, the ε-greedy refinement instead);
3. (h, a*) is appended to the replay buffer D (demonstrations stay; agent data overwrites the
   oldest agent data once D is full);
4. every δ epochs, one Adam update of all agents on a minibatch drawn with priority
   P_i = w_i^η / Σ_k w_k^η, w_i = |Δd_i| + ε (ε_D for demonstrations, ε_A for agent data; eq. 16),
   |Δd_i| the sample's loss averaged over the agents at its last draw (new samples: the largest
   priority so far, as in prioritized replay); the loss is L_1 on demonstrations (eq. 15) plus λ2·L_A
   on agent data (eqs. 17–18).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from agents.dirs.config import DirsConfig
from agents.dirs.imitation import Demonstrations, bce_per_sample
from agents.dirs.levy import egreedy_search, fitness_of, levy_search
from agents.dirs.networks import Ensemble, l2_norms, targets
from agents.dirs.world import MecWorld
from bridge.mec_model import max_vote


class PrioritizedReplay:
    """Replay buffer D of (h (M, N) dB, labels (M, N)) with demonstration and agent slots (eq. 16)."""

    def __init__(self, capacity: int, num_servers: int, num_devices: int, cfg: DirsConfig, seed: int):
        self.capacity = capacity
        self.gain_db = np.zeros((capacity, num_servers, num_devices), dtype=np.float32)
        self.labels = np.zeros((capacity, num_servers, num_devices), dtype=np.float32)
        self.is_demo = np.zeros(capacity, dtype=bool)
        self.delta = np.zeros(capacity)
        self.size = 0
        self.demos = 0
        self._next = 0
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)

    def add_demonstrations(self, demos: Demonstrations) -> None:
        k = len(demos)
        if self.size or k >= self.capacity:
            raise ValueError(f"demonstrations go first and must leave room: {k} for a buffer of {self.capacity}")
        self.gain_db[:k] = demos.gain_db
        self.labels[:k] = targets(demos.assignment, self.gain_db.shape[1])
        self.is_demo[:k] = True
        self.delta[:k] = 1.0
        self.size = self.demos = self._next = k

    def add(self, gain_db: np.ndarray, assignment: np.ndarray) -> None:
        k = self._next
        self.gain_db[k] = gain_db
        self.labels[k] = targets(assignment[None, :], self.gain_db.shape[1])[0]
        self.delta[k] = self.delta[: self.size].max() if self.size else 1.0
        self.size = max(self.size, k + 1)
        self._next = k + 1 if k + 1 < self.capacity else self.demos  # demonstrations are kept

    def probabilities(self) -> np.ndarray:
        eps = np.where(self.is_demo[: self.size], self.cfg.eps_demo, self.cfg.eps_agent)
        w = (np.abs(self.delta[: self.size]) + eps) ** self.cfg.priority_exponent
        return w / w.sum()

    def sample(self, k: int) -> np.ndarray:
        return self.rng.choice(self.size, size=k, replace=True, p=self.probabilities())


@dataclass
class TrainResult:
    """What one training run produced, per epoch and per update."""

    ensemble: Ensemble
    reward: list[float] = field(default_factory=list)  # realised 1/Φ of the applied ensemble action
    objective: list[float] = field(default_factory=list)  # realised Φ of the applied action
    mean_time_s: list[float] = field(default_factory=list)
    mean_energy_j: list[float] = field(default_factory=list)
    refined: list[float] = field(default_factory=list)  # Φ of the refined a*
    planned: list[float] = field(default_factory=list)  # Φ of a^e under the cost model (= realised)
    losses: list[list[float]] = field(default_factory=list)  # per update, one loss per agent
    pretrain_loss: list[float] = field(default_factory=list)
    train_s: float = 0.0


def update(ens: Ensemble, opt: torch.optim.Optimizer, buf: PrioritizedReplay, cfg: DirsConfig) -> list[float]:
    """One minibatch update of all agents on L = L_1 + λ2·L_A; refreshes the drawn samples' priorities."""
    k = min(cfg.batch_size, buf.size)
    idx = buf.sample(k)
    x = torch.as_tensor(buf.gain_db[idx])
    y = torch.as_tensor(buf.labels[idx])
    demo = torch.as_tensor(buf.is_demo[idx])
    per = bce_per_sample(ens, x, y)  # (B, M)
    n_demo, n_agent = int(demo.sum()), int((~demo).sum())
    per_agent = torch.zeros(ens.num_servers)
    if n_demo:
        per_agent = per_agent + per[demo].mean(dim=0) + cfg.lambda1 * l2_norms(ens)
    if n_agent:
        per_agent = per_agent + cfg.lambda2 * per[~demo].mean(dim=0)
    loss = per_agent.sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    buf.delta[idx] = per.detach().mean(dim=1).double().numpy()
    return [float(v) for v in per_agent.detach()]


def train(world: MecWorld, cfg: DirsConfig, seed: int, demos: Demonstrations | None = None,
          ensemble: Ensemble | None = None, progress=None) -> TrainResult:
    """Algorithm 1's online stages for `cfg.steps` epochs of `world`.

    With `demos` (imitation acceleration): the agents are pre-trained on them (Algorithm 2) and
    they stay in the buffer. `ensemble` may be given pre-trained already (then `demos` only fill
    the buffer). Seeds torch and the search/replay generators from `seed`.
    """
    from agents.dirs.imitation import pretrain

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 1])
    n, m = world.epoch.gain_db.shape[1], world.num_servers
    t0 = time.perf_counter()
    ens = ensemble or Ensemble(n, m, cfg.hidden)
    opt = torch.optim.Adam(ens.parameters(), lr=cfg.learning_rate)
    result = TrainResult(ens)
    buf = PrioritizedReplay(cfg.buffer_size, m, n, cfg, seed)
    if demos is not None and len(demos):
        if ensemble is None:
            result.pretrain_loss = pretrain(ens, demos, cfg, seed, optimizer=opt)
        buf.add_demonstrations(demos)
    elif ensemble is None:
        ens.fit_input(world.epoch.gain_db[None])
    for t in range(cfg.steps):
        ep = world.epoch
        scores = ens.scores(ep.gain_db)
        a_e = max_vote(scores)
        fit = fitness_of(ep.model)
        if cfg.use_levy:
            res = levy_search(fit, ep.gain, a_e, rng, cfg.beta, cfg.threshold, cfg.iterations)
        else:
            res = egreedy_search(fit, m, a_e, rng, cfg.explore_eps, cfg.iterations)
        buf.add(ep.gain_db, res.assignment)
        out = world.step(scores)
        result.reward.append(out["reward"])
        result.objective.append(out["objective"])
        result.mean_time_s.append(out["mean_time_s"])
        result.mean_energy_j.append(out["mean_energy_j"])
        result.refined.append(res.fitness)
        result.planned.append(float(res.curve[0]))
        if (t + 1) % cfg.train_interval == 0:
            result.losses.append(update(ens, opt, buf, cfg))
        if progress is not None:
            progress()
    result.train_s = time.perf_counter() - t0
    return result
