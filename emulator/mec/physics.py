"""MEC physics as pure array functions: channel gain, uplink rate, execution and transfer time, energy."""
from __future__ import annotations

import numpy as np


def channel_gain(distance_m, fading, ref_gain: float, ref_distance_m: float = 1.0) -> np.ndarray:
    """h = β0·l·(d0/d)² (paper eq. 3, β0 at d0). Raises for links shorter than d0, where β0 has no meaning."""
    d = np.asarray(distance_m, dtype=float)
    if np.any(d < ref_distance_m):
        raise ValueError(
            f"link distance {float(d.min()):.3g} m is below the reference distance {ref_distance_m:g} m of the channel model"
        )
    return ref_gain * np.asarray(fading, dtype=float) * (ref_distance_m / d) ** 2


def uplink_rate(bandwidth_hz: float, power_w, gain, noise_power_w: float) -> np.ndarray:
    """r = B·log2(1 + p·h/σ²) in bit/s (paper eq. 2), σ² a noise power in W over B."""
    snr = np.asarray(power_w, dtype=float) * np.asarray(gain, dtype=float) / noise_power_w
    return bandwidth_hz * np.log1p(snr) / np.log(2.0)


def local_time(cycles, local_cpu_hz) -> np.ndarray:
    """T = F/f_i0 (paper eq. 8, local term)."""
    return np.asarray(cycles, dtype=float) / np.asarray(local_cpu_hz, dtype=float)


def local_energy(cycles, local_cpu_hz, kappa: float, nu: float) -> np.ndarray:
    """E = p_E·F/f_i0 with p_E = κ·f_i0^ν (paper eq. 9 and after eq. 7)."""
    f = np.asarray(local_cpu_hz, dtype=float)
    return kappa * f**nu * np.asarray(cycles, dtype=float) / f


def transfer_time(bits, rate_bps) -> np.ndarray:
    """T = D/r."""
    return np.asarray(bits, dtype=float) / np.asarray(rate_bps, dtype=float)


def backhaul_time(bits, latency_s, capacity_bps) -> np.ndarray:
    """Σ per-hop latency (each hop once) + D / bottleneck capacity: a pipelined (cut-through) path."""
    return np.asarray(latency_s, dtype=float) + np.asarray(bits, dtype=float) / np.asarray(capacity_bps, dtype=float)


def weighted_cost(time_s, energy_j, phi_t: float, phi_e: float) -> np.ndarray:
    """Φ_i = φ_T·T_i + φ_E·E_i (paper eq. 10); the objective is its sum over tasks."""
    return phi_t * np.asarray(time_s, dtype=float) + phi_e * np.asarray(energy_j, dtype=float)
