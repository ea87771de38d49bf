"""Serving-cell selection: strongest cell at attach, A3-style hysteresis and time-to-trigger while moving."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def handover_kernel(
    rx_w: np.ndarray, serving: np.ndarray, candidate: np.ndarray, timer_s: np.ndarray,
    hysteresis_linear: float, ttt_s: float, dt_s: float,
) -> int:
    """Advance the handover state of every UE by dt_s; returns the number of handovers made.

    A UE's best neighbour becomes the candidate once it is stronger than the serving cell by the
    hysteresis; the candidate's timer starts at 0 then and grows by dt_s on each later update on
    which it is still best and qualifying, and the UE hands over when the timer reaches the
    time-to-trigger. Any update on which the
    condition fails, or a different cell becomes best, restarts the count. serving < 0 attaches
    the UE to the strongest cell at once.
    """
    n_ue, n_cell = rx_w.shape
    handovers = 0
    for u in range(n_ue):
        best = 0
        for c in range(1, n_cell):
            if rx_w[u, c] > rx_w[u, best]:
                best = c
        s = serving[u]
        if s < 0:
            serving[u] = best
            candidate[u] = -1
            timer_s[u] = 0.0
            continue
        if best != s and rx_w[u, best] > hysteresis_linear * rx_w[u, s]:
            if candidate[u] == best:
                timer_s[u] += dt_s
            else:
                # The condition is first seen now; TTT counts from here, so ttt_s = 0 hands over at once.
                candidate[u] = best
                timer_s[u] = 0.0
            if timer_s[u] >= ttt_s:
                serving[u] = best
                candidate[u] = -1
                timer_s[u] = 0.0
                handovers += 1
        else:
            candidate[u] = -1
            timer_s[u] = 0.0
    return handovers
