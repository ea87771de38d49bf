"""Inter-agent similarity by a VAE over default-action (state, reward) samples (Hu et al. §IV-B, eqs. 6, 7, 9, 10).

Samples. Every candidate cell contributes samples x = [s, r] collected while it plays the same
default action a' (equal split unless configured): s is the slice-partition observation (4N
features: per-slice throughput/requirement, load, active users/group size, neighbour load — the
paper's s_k = [s'_k, c_k], §IV-A) scaled to [0, 1] by the observation space's bounds (as the TD3
networks see it), r the reward in [0, 1]. So x ∈ R^(4N+1) = R^17 for N = 4.

Input size. The paper's text (§V.4) says "the original sample x ∈ R^7". That cannot be [s, r] for
N = 4 (4N + 1 = 17, or 3N + 1 = 13 without the neighbour features); R^7 fits neither and is
presumably an OCR or typesetting loss. We use the full 4N + 1 = 17: the neighbour loads are what
the coordinated agents condition on (eq. 5), and the encoder's first layer (64 units) is much wider
than 17 anyway. The architecture is the paper's: encoder 64-24-(μ, log σ²) with latent size 4,
decoder 4-24-64-(4N+1), ReLU between layers (§V.4: "(64, 24, 4) and (4, 24, 64)").

Loss (eq. 6): L = ||x − x̂||² + α · KL(N(μ, diag σ²) || N(0, I)), averaged over the batch. The paper
does not give α; we use α = 0.01 (`VaeConfig.alpha`): a small weight keeps reconstruction accurate
and — as the paper reports for its VAE — drives the posterior variances towards 0, the premise of
Lemma 1. With α = 1 the KL term pulls every μ to 0 and the cells become indistinguishable.

Distance (eq. 7 with Lemma 1, eq. 9): for equal small diagonal variances, KL between two samples'
posteriors is proportional to ||μ_n − μ_m||², so eq. 7 becomes P_ik = mean over pairs (n ∈ X_i,
m ∈ X_k) of ||μ_n − μ_m||², computed in closed form as ||μ̄_i − μ̄_k||² + tr Cov_i + tr Cov_k
(population covariances; exact, without the N_i·N_k pairs). As printed, eq. 7 is not a distance:
P_kk = 2 tr Cov_k > 0, and a source with a narrow latent cloud looks closer to every target. We
therefore use D_ik = P_ik − (P_ii + P_kk) / 2 = ||μ̄_i − μ̄_k||² (the squared distance of the agents'
mean latent features): 0 for identical sample sets, growing with a shift of one set, and ordering
sources like P_ik when all agents' spreads are equal. Both matrices are written (`pairwise` = P);
eq. 10 picks the source i ≠ k with the smallest D_ik.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn


@dataclass
class VaeConfig:
    """Paper §V.4 architecture; training values are ours (the paper gives none)."""

    encoder_hidden: tuple[int, ...] = (64, 24)    # paper: encoder (64, 24, 4)
    latent: int = 4                               # paper: z ∈ R^4
    decoder_hidden: tuple[int, ...] = (24, 64)    # paper: decoder (4, 24, 64)
    alpha: float = 0.01                           # ours: KL weight of eq. 6 (see module docstring)
    lr: float = 1e-3                              # ours: Adam
    epochs: int = 200                             # ours: passes over the union of the samples
    batch_size: int = 128                         # ours
    seed: int = 0

    def __post_init__(self) -> None:
        if self.latent < 1 or self.epochs < 1 or self.batch_size < 1 or self.alpha < 0 or self.lr <= 0:
            raise ValueError(f"invalid VaeConfig: {self}")


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Vae(nn.Module):
    """x (B, D) → (x̂, μ, log σ²), each (B, D) / (B, L) / (B, L)."""

    def __init__(self, dim: int, cfg: VaeConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = nn.Sequential(_mlp([dim, *cfg.encoder_hidden]), nn.ReLU())
        self.mu = nn.Linear(cfg.encoder_hidden[-1], cfg.latent)
        self.logvar = nn.Linear(cfg.encoder_hidden[-1], cfg.latent)
        self.decoder = _mlp([cfg.latent, *cfg.decoder_hidden, dim])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.mu(h), self.logvar(h)

    def forward(self, x: torch.Tensor, gen: torch.Generator | None = None):
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=gen, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar


def vae_loss(x, x_hat, mu, logvar, alpha: float) -> torch.Tensor:
    """Eq. 6 averaged over the batch: Σ_d (x − x̂)² + α · KL(N(μ, σ²) || N(0, I)) (closed form)."""
    rec = ((x - x_hat) ** 2).sum(dim=1)
    kl = 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar).sum(dim=1)
    return (rec + alpha * kl).mean()


def train_vae(samples: Mapping[str, np.ndarray], cfg: VaeConfig = VaeConfig()) -> tuple[Vae, list[float]]:
    """One VAE on the union of all agents' samples ({agent: (n_i, D)}); returns it and the loss per epoch."""
    arrays = [np.asarray(v, dtype=np.float32) for v in samples.values()]
    dims = {a.shape[1] for a in arrays if a.ndim == 2}
    if len(dims) != 1 or any(a.ndim != 2 or len(a) == 0 for a in arrays):
        raise ValueError("samples must be non-empty (n_i, D) arrays with one common D")
    x = torch.as_tensor(np.concatenate(arrays))
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    vae = Vae(x.shape[1], cfg)
    opt = torch.optim.Adam(vae.parameters(), lr=cfg.lr)
    losses = []
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), cfg.batch_size):
            xb = x[perm[i:i + cfg.batch_size]]
            x_hat, mu, logvar = vae(xb, gen)
            loss = vae_loss(xb, x_hat, mu, logvar, cfg.alpha)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        losses.append(total / len(x))
    return vae, losses


@torch.no_grad()
def latent_means(vae: Vae, samples: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """μ of every sample, per agent: {agent: (n_i, L)}."""
    return {k: vae.encode(torch.as_tensor(np.asarray(v, dtype=np.float32)))[0].numpy().astype(np.float64)
            for k, v in samples.items()}


def pairwise_mean_sq(a: np.ndarray, b: np.ndarray) -> float:
    """mean over n ∈ a, m ∈ b of ||a_n − b_m||² (eq. 7 under Lemma 1), in closed form.

    = ||ā − b̄||² + tr Cov(a) + tr Cov(b) with population covariances; exact, O((n + m)·L).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + a.var(0).sum() + b.var(0).sum())


def pairwise_matrix(means: Mapping[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """(agents, P) with P[i, k] = eq. 7 under Lemma 1: the mean squared latent distance over sample pairs."""
    names = list(means)
    return names, np.array([[pairwise_mean_sq(means[i], means[k]) for k in names] for i in names])


def distance_matrix(means: Mapping[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """(agents, D) with D[i, k] = P_ik − (P_ii + P_kk)/2 = ||μ̄_i − μ̄_k||² (symmetric, zero diagonal, ≥ 0)."""
    names, p = pairwise_matrix(means)
    own = np.diag(p)
    return names, np.maximum(p - 0.5 * (own[:, None] + own[None, :]), 0.0)


def choose_source(names: Sequence[str], d: np.ndarray, target: str, candidates: Sequence[str] | None = None,
                  most_similar: bool = True) -> str:
    """Eq. 10: the candidate source i ≠ target with the smallest D_ik (or the largest, `most_similar=False`)."""
    k = names.index(target)
    pool = [n for n in (candidates if candidates is not None else names) if n != target]
    if not pool:
        raise ValueError(f"no candidate source other than {target}")
    vals = [d[names.index(n), k] for n in pool]
    return pool[int(np.argmin(vals) if most_similar else np.argmax(vals))]


def similarity(samples: Mapping[str, np.ndarray], cfg: VaeConfig = VaeConfig()) -> dict:
    """Train the VAE on the union and return {names, distance (K, K), losses, sigma_mean, config}."""
    vae, losses = train_vae(samples, cfg)
    means = latent_means(vae, samples)
    names, d = distance_matrix(means)
    _, p = pairwise_matrix(means)
    with torch.no_grad():
        x = torch.as_tensor(np.concatenate([np.asarray(v, np.float32) for v in samples.values()]))
        sigma = torch.exp(0.5 * vae.encode(x)[1]).mean().item()
    return {"names": names, "distance": d, "pairwise": p, "losses": losses, "sigma_mean": sigma,
            "config": dataclasses.asdict(cfg)}


def write_similarity(result: dict, out: Path, labels: Sequence[str] | None = None) -> list[Path]:
    """distance.csv (D), distance_pairwise.csv (eq. 7 as printed) and distance.png (heatmap of D) into `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(labels or result["names"])
    d = np.asarray(result["distance"])
    pd.DataFrame(d, index=names, columns=names).to_csv(out / "distance.csv", float_format="%.6g")
    if "pairwise" in result:
        pd.DataFrame(np.asarray(result["pairwise"]), index=names, columns=names).to_csv(
            out / "distance_pairwise.csv", float_format="%.6g")
    fig, ax = plt.subplots(figsize=(6.4, 5.4), dpi=110)
    im = ax.imshow(d, cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("target agent k")
    ax.set_ylabel("source agent i")
    ax.set_title("Inter-agent distance D_ik (VAE latent means, eq. 7 / Lemma 1)")
    fig.colorbar(im, ax=ax, label="D_ik = ||mean latent μ_i − mean latent μ_k||²")
    fig.tight_layout()
    fig.savefig(out / "distance.png")
    plt.close(fig)
    return [out / "distance.csv", out / "distance.png"]
