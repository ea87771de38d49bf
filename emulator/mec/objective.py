"""The objective Φ of offloading assignments, vectorized over many candidates, and its exhaustive minimum.

With the resource manager's allocation and no queueing, Φ of an assignment a ∈ {0..M}^N splits into
    Σ_{a_i = 0} L_i  +  Σ_{a_i = j > 0} U_ij  +  Σ_j S_j(a)
L_i: local cost of device i's tasks; U_ij: upload + backhaul cost to server j at the manager's power;
S_j: server j's execution term, φ_T·(Σ_{i on j} s_i)²/F_j with s_i = Σ √F over device i's tasks for
the √F split ("sqrt"), or φ_T·n_j·Σ_{i on j} F_i/F_j for the equal split ("equal", n_j tasks on j).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CostModel:
    """Per-device cost terms of one decision epoch (what the exhaustive search and baselines need)."""

    local_cost: np.ndarray  # (N,) L_i
    offload_cost: np.ndarray  # (N, M) U_ij
    sqrt_cycles: np.ndarray  # (N,) s_i = Σ √F over the device's tasks
    cycles: np.ndarray  # (N,) Σ F over the device's tasks
    tasks: np.ndarray  # (N,) number of tasks of the device this epoch
    server_cpu_hz: np.ndarray  # (M,)
    phi_t: float
    exec_model: str  # "sqrt" | "equal"

    @property
    def num_devices(self) -> int:
        return int(self.local_cost.shape[0])

    @property
    def num_servers(self) -> int:
        return int(self.server_cpu_hz.shape[0])


def evaluate(model: CostModel, assignments) -> np.ndarray:
    """Φ of each assignment row, (A, N) ints in 0..M → (A,)."""
    a = np.atleast_2d(np.asarray(assignments, dtype=np.int64))
    n, m = model.num_devices, model.num_servers
    if a.shape[1] != n:
        raise ValueError(f"assignments have {a.shape[1]} devices, the cost model {n}")
    if a.size and (a.min() < 0 or a.max() > m):
        raise ValueError(f"assignment values must be in 0..{m}")
    table = np.concatenate([model.local_cost[:, None], model.offload_cost], axis=1)  # (N, M+1)
    total = table[np.arange(n)[None, :], a].sum(axis=1)
    for j in range(m):
        on = a == j + 1
        if model.exec_model == "sqrt":
            total += model.phi_t * (on @ model.sqrt_cycles) ** 2 / model.server_cpu_hz[j]
        elif model.exec_model == "equal":
            total += model.phi_t * (on @ model.tasks) * (on @ model.cycles) / model.server_cpu_hz[j]
        else:
            raise ValueError(f"unknown execution model {model.exec_model!r}")
    return total


def search_space(num_devices: int, num_servers: int) -> int:
    """(M+1)^N, the number of assignments an exhaustive search visits."""
    return (num_servers + 1) ** num_devices


def exhaustive_optimum(model: CostModel, max_evals: int = 1_000_000, chunk: int = 1 << 16) -> tuple[np.ndarray, float]:
    """The assignment minimising Φ over all (M+1)^N candidates; refuses above `max_evals`.

    Devices without a task this epoch do not enlarge the search (they stay local, cost 0).
    Ties go to the candidate enumerated first (base-(M+1) order, device 0 least significant).
    """
    active = np.flatnonzero(model.tasks > 0)
    n, m = active.size, model.num_servers
    space = search_space(n, m)
    if space > max_evals:
        raise ValueError(
            f"exhaustive search over (M+1)^N = {m + 1}^{n} = {float(space):.3g} assignments exceeds the limit "
            f"{max_evals:g} (mec.optimal_max_evals); use fewer devices or servers"
        )
    sub = CostModel(
        model.local_cost[active], model.offload_cost[active], model.sqrt_cycles[active], model.cycles[active],
        model.tasks[active], model.server_cpu_hz, model.phi_t, model.exec_model,
    )
    powers = (m + 1) ** np.arange(n, dtype=np.int64)
    best_val, best_idx = np.inf, 0
    for start in range(0, space, chunk):
        idx = np.arange(start, min(space, start + chunk), dtype=np.int64)
        digits = (idx[:, None] // powers[None, :]) % (m + 1)
        vals = evaluate(sub, digits) if n else np.zeros(idx.size)
        k = int(np.argmin(vals))
        if vals[k] < best_val:
            best_val, best_idx = float(vals[k]), int(idx[k])
    out = np.zeros(model.num_devices, dtype=np.int64)
    out[active] = (best_idx // powers) % (m + 1)
    return out, best_val


def max_vote(scores) -> np.ndarray:
    """Ensemble decision from per-server scores (M, N) in [0, 1] (paper V-C(5)).

    Each device goes to the server with the highest score (ties: the lower index), or stays local
    (0) when every score is below 0.5. Returns (N,) ints, 0 = local, j + 1 = server j.
    """
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2:
        raise ValueError(f"scores must be (servers, devices), got shape {s.shape}")
    if s.shape[0] == 0:
        return np.zeros(s.shape[1], dtype=np.int64)
    best = np.argmax(s, axis=0)
    top = s[best, np.arange(s.shape[1])]
    return np.where(top >= 0.5, best + 1, 0).astype(np.int64)


def trim_to_capacity(assignment, cycles, local_cpu_hz, server_cpu_hz) -> np.ndarray:
    """Send the most demanding devices of an over-full server home until it fits (paper VI-C baselines).

    A server counts as full when its devices' local CPU rates add up to more than its capacity:
    beyond that point the average device would run slower remotely than at home.
    """
    a = np.array(assignment, dtype=np.int64)
    cycles = np.asarray(cycles, dtype=float)
    need = np.asarray(local_cpu_hz, dtype=float)
    for j, cap in enumerate(np.asarray(server_cpu_hz, dtype=float)):
        members = np.flatnonzero(a == j + 1)
        if need[members].sum() <= cap:
            continue
        # Keep the least demanding devices while they fit; stable order keeps ties deterministic.
        order = members[np.argsort(cycles[members], kind="stable")]
        fits = np.cumsum(need[order]) <= cap
        a[order[~fits]] = 0
    return a
