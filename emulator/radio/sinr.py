"""Thermal noise and downlink SINR on the serving cell with activity-weighted interference (njit kernels)."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# ITU-R P.372 / TR 36.942: thermal noise density kT at 290 K.
THERMAL_NOISE_DBM_PER_HZ = -174.0


def thermal_noise_w(bandwidth_hz: float, noise_figure_db: float) -> float:
    """Noise power [W] in `bandwidth_hz` at the receiver: −174 dBm/Hz + 10 log B + NF (−112.45 dBm per PRB at NF 9 dB)."""
    if bandwidth_hz <= 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth_hz} Hz")
    dbm = THERMAL_NOISE_DBM_PER_HZ + 10.0 * math.log10(bandwidth_hz) + noise_figure_db
    return 10.0 ** ((dbm - 30.0) / 10.0)


@njit(cache=True)
def sinr_kernel(rx_w: np.ndarray, serving: np.ndarray, activity: np.ndarray, noise_w: float, out: np.ndarray) -> None:
    """out[u] = S / (Σ_{c ≠ serving} activity[c]·rx_w[u, c] + noise_w), S = rx_w[u, serving[u]] (linear).

    rx_w is (n_ue, n_cell) received power per PRB [W]; activity (n_cell,) the fraction of PRBs
    each cell transmits on, in [0, 1]. A serving index < 0 (detached UE) gives 0.
    """
    n_ue, n_cell = rx_w.shape
    for u in range(n_ue):
        s = serving[u]
        if s < 0:
            out[u] = 0.0
            continue
        interference = 0.0
        for c in range(n_cell):
            if c != s:
                interference += activity[c] * rx_w[u, c]
        denom = interference + noise_w
        out[u] = rx_w[u, s] / denom if denom > 0.0 else np.inf
