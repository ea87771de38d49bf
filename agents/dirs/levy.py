"""Lévy-flight action refinement (paper §V-D, eqs. 19–28, Algorithm 4), the classic flight (eq. 23) and an ε-greedy refinement.

All three search over the integer offloading vector a ∈ {0..M}^N (0 = local, j + 1 = server j) and
keep the better of candidate and incumbent (greedy selection, eq. 28). The paper's solution vector
(eq. 24) also carries CPU shares f and powers p; here they are not searched: for a given a the
emulator's resource manager solves problem (13) exactly, and the fitness is Φ(a) under that
allocation — the emulator's own cost model (`bridge.mec_model.evaluate`), so a search's fitness and
the emulator's realised objective are one number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from bridge.mec_model import CostModel, evaluate

Fitness = Callable[[np.ndarray], float]


def fitness_of(model: CostModel) -> Fitness:
    """f(a) = Φ(a) (paper eq. 11) of one assignment (N,) under the epoch's cost model."""
    return lambda a: float(evaluate(model, a[None, :])[0])


def mantegna_sigma(beta: float) -> float:
    """σ_u of Mantegna's algorithm (paper eq. 22):
    σ_u = [Γ(1+β)·sin(πβ/2) / (Γ((1+β)/2)·β·2^((β−1)/2))]^(1/β). Raises ValueError outside 0 < β ≤ 2."""
    if not 0 < beta <= 2:
        raise ValueError(f"the Lévy index β must be in (0, 2], got {beta}")
    num = math.gamma(1 + beta) * math.sin(math.pi * beta / 2)
    den = math.gamma((1 + beta) / 2) * beta * 2 ** ((beta - 1) / 2)
    return (num / den) ** (1 / beta)


def levy_steps(rng: np.random.Generator, beta: float, size) -> np.ndarray:
    """Lévy-stable steps by Mantegna's algorithm: d = u/|v|^(1/β), u ~ N(0, σ_u²), v ~ N(0, 1)
    (paper eqs. 20–21). Heavy-tailed: P(|d| > x) ∝ x^(−β) for large x."""
    u = rng.normal(0.0, mantegna_sigma(beta), size)
    v = rng.normal(0.0, 1.0, size)
    return u / np.abs(v) ** (1.0 / beta)


def normalised_gain(gain: np.ndarray, a: np.ndarray) -> np.ndarray:
    """h_{i,a_i} / Σ_j h_ij per device (the right side of eq. 25), gain (N, M) linear.

    A local device has no channel in its decision; ours: it counts as 1/M, the share of an
    average server, so it is as stable as a device on an average link.
    """
    n, m = gain.shape
    share = gain[np.arange(n), np.maximum(a, 1) - 1] / gain.sum(axis=1)
    return np.where(a > 0, share, 1.0 / m)


@dataclass
class SearchResult:
    """Best assignment found, its fitness, and the incumbent's fitness after each iteration."""

    assignment: np.ndarray  # (N,) int
    fitness: float
    curve: np.ndarray  # (iterations + 1,): curve[0] is the start's fitness, non-increasing
    evaluations: int


def greedy_selection(fitness: Fitness, start: np.ndarray, propose: Callable[[int, np.ndarray], np.ndarray],
                     iterations: int) -> SearchResult:
    """Greedy selection (paper eq. 28) around a proposal rule: at iteration G = 1..iterations the
    candidate `propose(G, incumbent)` replaces the incumbent if its fitness is lower; a candidate
    equal to the incumbent is not evaluated again. Shared by the proposed, classic and ε-greedy searches."""
    x = np.asarray(start, dtype=np.int64).copy()
    fx = fitness(x)
    curve = np.empty(iterations + 1)
    curve[0] = fx
    evals = 1
    for g in range(1, iterations + 1):
        cand = propose(g, x)
        if not np.array_equal(cand, x):
            fc = fitness(cand)
            evals += 1
            if fc < fx:
                x, fx = cand, fc
        curve[g] = fx
    return SearchResult(x, fx, curve, evals)


def levy_search(fitness: Fitness, gain: np.ndarray, start: np.ndarray, rng: np.random.Generator,
                beta: float = 1.5, threshold: float = 0.5, iterations: int = 100) -> SearchResult:
    """The proposed Lévy flight search (Algorithm 4), from the ensemble decision `start`.

    Each iteration G = 1..G_max, with γ = 2 − 2G/G_max (eq. 26) and fresh Lévy steps d per device:
    h-mutation (eq. 25): device i takes a uniform random choice in {0..M} if γ·d_i > h̃_i
    (its normalised gain to its current server); Lévy crossover (eq. 27): the candidate takes the
    mutant's entry where γ·d'_i > th (a second, independent step), else the incumbent's; greedy
    selection (eq. 28): the candidate replaces the incumbent if its fitness is lower.
    """
    m = gain.shape[1]
    n = np.asarray(start).size
    # All draws up front (same law, fewer calls): mutation and crossover steps, random choices.
    d = levy_steps(rng, beta, (iterations, 2, n))
    choice = rng.integers(0, m + 1, (iterations, n))
    share = gain / gain.sum(axis=1, keepdims=True)
    rows = np.arange(n)

    def propose(g: int, x: np.ndarray) -> np.ndarray:
        gamma = 2.0 - 2.0 * g / iterations
        h_norm = np.where(x > 0, share[rows, np.maximum(x, 1) - 1], 1.0 / m)  # = normalised_gain(gain, x)
        mutant = np.where(gamma * d[g - 1, 0] > h_norm, choice[g - 1], x)
        return np.where(gamma * d[g - 1, 1] > threshold, mutant, x)

    return greedy_selection(fitness, start, propose, iterations)


def classic_levy_search(fitness: Fitness, num_servers: int, start: np.ndarray, rng: np.random.Generator,
                        beta: float = 1.5, iterations: int = 100, scale: float = 1.0) -> SearchResult:
    """The classic Lévy flight (eq. 23) for comparison (paper Fig. 7): x(G) = x(G−1) + η·d on every
    entry, rounded and clipped to {0..M} (the integer decision the paper notes it lacks), with the
    same greedy selection; no channel information."""
    d = levy_steps(rng, beta, (iterations, np.asarray(start).size))
    return greedy_selection(fitness, start, lambda g, x: np.clip(np.rint(x + scale * d[g - 1]), 0, num_servers)
                            .astype(np.int64), iterations)


def egreedy_search(fitness: Fitness, num_servers: int, start: np.ndarray, rng: np.random.Generator,
                   eps: float = 0.1, iterations: int = 100) -> SearchResult:
    """The "traditional" exploration the paper contrasts with (§V-D, ε-greedy), used for the
    "DIRS without Lévy flight" ablation: each candidate reassigns every device of `start` uniformly
    with probability ε; the best candidate seen (greedy selection) is kept."""
    x0 = np.asarray(start, dtype=np.int64).copy()
    flips = rng.random((iterations, x0.size)) < eps
    choice = rng.integers(0, num_servers + 1, (iterations, x0.size))
    return greedy_selection(fitness, x0, lambda g, x: np.where(flips[g - 1], choice[g - 1], x0), iterations)


def descent(model: CostModel, start: np.ndarray, max_rounds: int = 200) -> SearchResult:
    """Best-improvement 1-opt descent: each round evaluates every single-device change (N·(M+1)
    candidates in one vectorized call) and takes the best, until none improves. Our near-optimal
    reference at sizes the exhaustive search refuses (calibration, gaps at N = 30)."""
    x = np.asarray(start, dtype=np.int64).copy()
    n, m = x.size, model.num_servers
    fx = float(evaluate(model, x[None, :])[0])
    curve = [fx]
    evals = 1
    rows = np.repeat(x[None, :], n * (m + 1), axis=0)
    dev = np.repeat(np.arange(n), m + 1)
    opt = np.tile(np.arange(m + 1), n)
    for _ in range(max_rounds):
        cand = rows.copy()
        cand[np.arange(cand.shape[0]), dev] = opt
        vals = evaluate(model, cand)
        evals += cand.shape[0]
        k = int(np.argmin(vals))
        if not vals[k] < fx - 1e-12 * max(1.0, abs(fx)):
            break
        x, fx = cand[k].copy(), float(vals[k])
        rows[:] = x
        curve.append(fx)
    return SearchResult(x, fx, np.array(curve), evals)
