"""Imitation acceleration (paper §V-B, Algorithm 2): demonstrations from small-β Lévy searches, pre-training on eq. 15.

Demonstrations are (h, a*) pairs: the epoch's channel state and the assignment a Lévy flight search
with a small β (long jumps, more global) finds from an all-local start. Pre-training minimises, for
every agent j, L_1(θ_j) = L_D(θ_j) + λ1·||θ_j||₂ (eq. 15): the binary cross-entropy between agent j's
scores and the demonstration's "device i goes to server j" labels, plus the L2 norm of its weights.
Accuracy is the share of devices whose max-vote decision equals the demonstration's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from agents.dirs.config import DirsConfig
from agents.dirs.levy import fitness_of, levy_search
from agents.dirs.networks import Ensemble, l2_norms, targets
from agents.dirs.world import MecWorld, scores_for
from bridge.mec_model import max_vote


@dataclass
class Demonstrations:
    """K demonstrations: states (K, M, N) in dB, assignments (K, N), their objective Φ (K,)."""

    gain_db: np.ndarray
    assignment: np.ndarray
    objective: np.ndarray

    def __len__(self) -> int:
        return int(self.assignment.shape[0])

    def take(self, idx) -> "Demonstrations":
        return Demonstrations(self.gain_db[idx], self.assignment[idx], self.objective[idx])


def make_demonstrations(world: MecWorld, count: int, cfg: DirsConfig, rng: np.random.Generator,
                        progress=None) -> Demonstrations:
    """`count` epochs of `world`, each solved by a Lévy search with β = cfg.demo_beta from all-local;
    the demonstrated assignment is applied, so the world moves on one epoch per demonstration."""
    gains, acts, objs = [], [], []
    m = world.num_servers
    for _ in range(count):
        ep = world.epoch
        res = levy_search(fitness_of(ep.model), ep.gain, np.zeros(ep.gain.shape[0], dtype=np.int64), rng,
                          beta=cfg.demo_beta, threshold=cfg.threshold, iterations=cfg.demo_iterations)
        gains.append(ep.gain_db)
        acts.append(res.assignment)
        objs.append(res.fitness)
        world.step(scores_for(res.assignment, m))
        if progress is not None:
            progress()
    return Demonstrations(np.array(gains), np.array(acts, dtype=np.int64), np.array(objs))


def bce_per_sample(ens: Ensemble, gain_db: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B, M): cross-entropy of agent j on sample b, averaged over devices (eq. 15's L_D, eq. 18's L_A)."""
    logits = ens.logits(gain_db)
    return F.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(dim=2)


def demo_loss(ens: Ensemble, gain_db: torch.Tensor, labels: torch.Tensor, lambda1: float,
              use_l2: bool = True) -> torch.Tensor:
    """Σ_j L_1(θ_j) = Σ_j [L_D(θ_j) + λ1·||θ_j||₂] (eq. 15); without the L2 term when `use_l2` is False."""
    loss = bce_per_sample(ens, gain_db, labels).mean(dim=0).sum()
    if use_l2:
        loss = loss + lambda1 * l2_norms(ens).sum()
    return loss


def pretrain(ens: Ensemble, demos: Demonstrations, cfg: DirsConfig, seed: int, steps: int | None = None,
             use_l2: bool = True, optimizer: torch.optim.Optimizer | None = None) -> list[float]:
    """Algorithm 2: `steps` (default T_D) Adam updates on minibatches of K demonstrations; returns
    the loss per update. Sets the input standardisation from the demonstrations' states first."""
    torch.set_num_threads(cfg.threads)
    ens.fit_input(demos.gain_db)
    opt = optimizer or torch.optim.Adam(ens.parameters(), lr=cfg.learning_rate)
    x = torch.as_tensor(demos.gain_db, dtype=torch.float32)
    y = torch.as_tensor(targets(demos.assignment, ens.num_servers))
    gen = np.random.default_rng(seed)
    k = min(cfg.batch_size, len(demos))
    history = []
    for _ in range(cfg.pretrain_steps if steps is None else steps):
        idx = torch.as_tensor(gen.choice(len(demos), size=k, replace=False))
        loss = demo_loss(ens, x[idx], y[idx], cfg.lambda1, use_l2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history


def accuracy(ens: Ensemble, demos: Demonstrations) -> float:
    """Share of (demonstration, device) pairs whose max-vote decision equals the demonstration's."""
    with torch.no_grad():
        s = ens(torch.as_tensor(demos.gain_db, dtype=torch.float32)).double().numpy()
    hits = [np.mean(max_vote(s[k]) == demos.assignment[k]) for k in range(len(demos))]
    return float(np.mean(hits)) if hits else float("nan")
