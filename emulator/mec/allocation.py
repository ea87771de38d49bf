"""Local resource manager of an MEC server (paper problem 13): CPU shares and transmit powers per task.

Given the assignment, problem 13 separates. The CPU part — minimise Σ φ_T·F_i/f_i subject to
Σ f_i ≤ F_max — has the Lagrange condition φ_T·F_i/f_i² = λ, so f_i ∝ √F_i:
    f_i = F_max·√F_i / Σ_k √F_k,   Σ_i T_i = (Σ_i √F_i)² / F_max.
The power part is one problem per device: minimise g(p) = (φ_T + φ_E·p)·D / r(p) over 0 < p ≤ P_max
with r(p) = B·log2(1 + a·p), a = h/σ². g is quasi-convex (a positive affine function over a
positive concave one), and g'(p) has the sign of
    H(p) = φ_E·[(1 + a·p)·ln(1 + a·p) − a·p] − a·φ_T,
which is increasing and convex (H' = φ_E·a·ln(1 + a·p) > 0, H'' > 0) with H(0) = −a·φ_T < 0. So the
optimum is P_max when H(P_max) ≤ 0, else the unique root of H, which Newton's method started at
P_max reaches monotonically from the right (vectorized over all links at once).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np


def cpu_split(cycles, capacity_hz: float) -> np.ndarray:
    """Optimal CPU rates f_i = F_max·√F_i/Σ√F_k for tasks sharing one server (closed form)."""
    root = np.sqrt(np.asarray(cycles, dtype=float))
    total = root.sum()
    if root.size == 0:
        return root
    if total <= 0:
        return np.full(root.shape, capacity_hz / root.size)
    return capacity_hz * root / total


def cpu_split_total_time(cycles, capacity_hz: float) -> float:
    """Σ_i F_i/f_i under the optimal split: (Σ √F_i)² / F_max."""
    return float(np.sqrt(np.asarray(cycles, dtype=float)).sum() ** 2 / capacity_hz)


def _psi(x: np.ndarray) -> np.ndarray:
    """(1 + x)·ln(1 + x) − x without the cancellation of the direct form at small x."""
    small = x < 1e-4
    xs = np.where(small, x, 0.0)
    series = xs**2 / 2 - xs**3 / 6 + xs**4 / 12
    xl = np.where(small, 1.0, x)
    direct = (1.0 + xl) * np.log1p(xl) - xl
    return np.where(small, series, direct)


def optimal_tx_power(snr_per_w, phi_t: float, phi_e: float, p_max: float, rtol: float = 1e-12,
                     max_iter: int = 200) -> np.ndarray:
    """argmin over 0 < p ≤ P_max of (φ_T + φ_E·p)/log(1 + a·p), elementwise over a = h/σ² [1/W]."""
    a_in = np.asarray(snr_per_w, dtype=float)
    a = a_in.reshape(-1)
    if phi_t <= 0:
        raise ValueError("phi_t must be positive: with energy alone the optimal power tends to 0")
    p = np.full(a.shape, float(p_max))
    if phi_e == 0:
        return p.reshape(a_in.shape)  # time alone: more power is always faster

    def h(pw):
        return phi_e * _psi(a * pw) - a * phi_t

    active = h(p) > 0
    for _ in range(max_iter):
        if not active.any():
            break
        pa, aa = p[active], a[active]
        step = (phi_e * _psi(aa * pa) - aa * phi_t) / (phi_e * aa * np.log1p(aa * pa))
        p[active] = np.maximum(pa - step, 0.0)
        done = np.abs(step) <= rtol * p_max
        idx = np.flatnonzero(active)
        active[idx[done]] = False
    return p.reshape(a_in.shape)


def upload_cost(bits, bandwidth_hz: float, snr_per_w, power_w, phi_t: float, phi_e: float) -> np.ndarray:
    """φ_T·D/r + φ_E·p·D/r for an upload at power p."""
    rate = bandwidth_hz * np.log1p(np.asarray(snr_per_w, dtype=float) * power_w) / np.log(2.0)
    t = np.asarray(bits, dtype=float) / rate
    return phi_t * t + phi_e * np.asarray(power_w, dtype=float) * t


@dataclass(frozen=True)
class Batch:
    """One decision epoch's tasks as arrays (index k = task), with what an allocation needs."""

    device: np.ndarray  # (K,) int, owning device
    target: np.ndarray  # (K,) int, 0 = local, j + 1 = MEC server j
    cycles: np.ndarray  # (K,) F, cycles
    bits: np.ndarray  # (K,) D, bit
    snr_per_w: np.ndarray  # (K,) h/σ² of the radio link the task's upload uses, 1/W
    server_cpu_hz: np.ndarray  # (M,) F_max per server
    p_max: float
    phi_t: float
    phi_e: float


@dataclass(frozen=True)
class Allocation:
    """CPU rate and transmit power per task (local tasks: their device's CPU and 0 W)."""

    cpu_hz: np.ndarray  # (K,) server rate f_ij for offloaded tasks; NaN for local ones (device CPU)
    tx_power_w: np.ndarray  # (K,) 0 for local tasks


class ResourceManager(Protocol):
    """What the MEC subsystem needs from a resource manager (pluggable via `mec.resource_manager`).

    `exec_model` tells the exhaustive search how server time scales with the assignment:
    "sqrt" (optimal split), "equal" (equal split) or None (unknown: exhaustive search refuses).
    """

    name: str
    exec_model: str | None

    def tx_power(self, snr_per_w: np.ndarray, phi_t: float, phi_e: float, p_max: float) -> np.ndarray: ...

    def allocate(self, batch: Batch) -> Allocation: ...


class OptimalResourceManager:
    """Problem 13 solved exactly: √F CPU split and the per-device optimal transmit power."""

    name = "optimal"
    exec_model = "sqrt"

    def tx_power(self, snr_per_w, phi_t, phi_e, p_max):
        return optimal_tx_power(snr_per_w, phi_t, phi_e, p_max)

    def allocate(self, batch: Batch) -> Allocation:
        cpu = np.full(batch.target.shape, np.nan)
        for j, cap in enumerate(batch.server_cpu_hz):
            on = batch.target == j + 1
            if on.any():
                cpu[on] = cpu_split(batch.cycles[on], float(cap))
        off = batch.target > 0
        p = np.zeros(batch.target.shape)
        p[off] = self.tx_power(batch.snr_per_w[off], batch.phi_t, batch.phi_e, batch.p_max)
        return Allocation(cpu, p)


class EqualResourceManager:
    """The naive manager: equal CPU shares, full transmit power (a reference for problem 13's gain)."""

    name = "equal"
    exec_model = "equal"

    def tx_power(self, snr_per_w, phi_t, phi_e, p_max):
        return np.full(np.shape(snr_per_w), float(p_max))

    def allocate(self, batch: Batch) -> Allocation:
        cpu = np.full(batch.target.shape, np.nan)
        for j, cap in enumerate(batch.server_cpu_hz):
            on = batch.target == j + 1
            n = int(on.sum())
            if n:
                cpu[on] = float(cap) / n
        off = batch.target > 0
        p = np.where(off, float(batch.p_max), 0.0)
        return Allocation(cpu, p)


BUILTIN = {"optimal": OptimalResourceManager, "equal": EqualResourceManager}


def load_resource_manager(spec: str) -> ResourceManager:
    """"optimal", "equal", or "package.module:factory" (a zero-argument callable returning a manager)."""
    if spec in BUILTIN:
        return BUILTIN[spec]()
    if ":" not in spec:
        raise ValueError(f"unknown resource manager {spec!r}; use optimal, equal or package.module:factory")
    mod_name, attr = spec.split(":", 1)
    try:
        factory = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load resource manager {spec!r}: {exc}") from None
    rm = factory()
    for need in ("allocate", "tx_power"):
        if not callable(getattr(rm, need, None)):
            raise ValueError(f"resource manager {spec!r} has no {need}() method")
    if not hasattr(rm, "exec_model"):
        rm.exec_model = None
    if not hasattr(rm, "name"):
        rm.name = spec
    return rm
