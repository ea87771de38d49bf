"""The DIRS agents' networks: one DNN per MEC server over its own channel state, combined by max vote (paper §V-C).

Agent j maps h_j = (h_1j, …, h_Nj) (dB, standardised) through fully-connected layers of 30, 80, 60
and 30 ReLU units (§VI-A; the activation is ours, the paper names none) to N sigmoid outputs,
π_j(h_j | θ_j) ∈ [0, 1]^N: agent j's score for each IoTD offloading to server j. The M agents are
separate networks (separate parameters, separate inputs) kept in one module so they train together.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bridge.mec_model import max_vote


def mlp(n_in: int, hidden: tuple[int, ...], n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    prev = n_in
    for width in hidden:
        layers += [nn.Linear(prev, width), nn.ReLU()]
        prev = width
    layers.append(nn.Linear(prev, n_out))
    return nn.Sequential(*layers)


class Ensemble(nn.Module):
    """M agents, agent j: π_j(h_j) ∈ [0, 1]^N (eq. 14 per agent).

    Inputs are gains in dB standardised by (x − mean)/scale, one pair per agent, fixed once from
    data (`fit_input`) and stored with the weights.
    """

    def __init__(self, num_devices: int, num_servers: int, hidden: tuple[int, ...] = (30, 80, 60, 30)):
        super().__init__()
        self.num_devices, self.num_servers, self.hidden = num_devices, num_servers, tuple(hidden)
        self.agents = nn.ModuleList([mlp(num_devices, self.hidden, num_devices) for _ in range(num_servers)])
        self.register_buffer("in_mean", torch.zeros(num_servers))
        self.register_buffer("in_scale", torch.ones(num_servers))

    def fit_input(self, gain_db: np.ndarray) -> None:
        """Standardise with the mean and std of gains (K, M, N) in dB."""
        g = np.asarray(gain_db, dtype=np.float64)
        self.in_mean.copy_(torch.as_tensor(g.mean(axis=(0, 2)), dtype=torch.float32))
        self.in_scale.copy_(torch.as_tensor(np.maximum(g.std(axis=(0, 2)), 1e-3), dtype=torch.float32))

    def logits(self, gain_db: torch.Tensor) -> torch.Tensor:
        """(B, M, N) gains in dB → (B, M, N) logits; agent j sees only row j."""
        x = (gain_db - self.in_mean[None, :, None]) / self.in_scale[None, :, None]
        return torch.stack([net(x[:, j]) for j, net in enumerate(self.agents)], dim=1)

    def forward(self, gain_db: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(gain_db))

    def agent_scores(self, j: int, gain_db_j: np.ndarray) -> np.ndarray:
        """Agent j alone (decentralised inference): its state (N,) in dB → scores (N,) in [0, 1]."""
        with torch.no_grad():
            x = (torch.as_tensor(gain_db_j, dtype=torch.float32) - self.in_mean[j]) / self.in_scale[j]
            return torch.sigmoid(self.agents[j](x[None, :]))[0].double().numpy()

    def scores(self, gain_db: np.ndarray) -> np.ndarray:
        """(M, N) dB → (M, N) scores, no gradient."""
        with torch.no_grad():
            return self(torch.as_tensor(gain_db, dtype=torch.float32)[None])[0].double().numpy()

    def decide(self, gain_db: np.ndarray) -> np.ndarray:
        """The ensemble decision a^e (N,) by the emulator's max vote over the agents' scores."""
        return max_vote(self.scores(gain_db))


def targets(assignments: np.ndarray, num_servers: int) -> np.ndarray:
    """(K, N) assignments → (K, M, N) binary labels: a_ij = 1 where device i goes to server j (eq. 4)."""
    a = np.asarray(assignments, dtype=np.int64)
    return (a[:, None, :] == np.arange(1, num_servers + 1)[None, :, None]).astype(np.float32)


def l2_norms(ens: Ensemble) -> torch.Tensor:
    """(M,) ||θ_j||₂ of each agent's weights and biases (paper eq. 15's L_L2, one per agent)."""
    return torch.stack([torch.sqrt(sum((p**2).sum() for p in net.parameters())) for net in ens.agents])
