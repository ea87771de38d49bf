"""Per-period slice KPIs, satisfaction, the paper's cell reward, neighbour load and observations.

Definitions (per cell k, slice n, decision period of T_p seconds):
- throughput φ: bits delivered to the slice's UEs / their busy time, where a UE is busy in a TTI
  in which it had data at the TTI start, until its last bit (fraction of the TTI) or the whole TTI
  if data remains. This is the 3GPP "scheduled IP throughput" (TS 36.314 §4.1.6: volume over the
  time with data buffered, summed over UEs) — the rate a user sees while it has traffic, which is
  what a requirement in Mbit/s constrains, independent of how much it asks for.
- delay d: mean over packets completed in the period of (completion − arrival). If none completed
  but packets wait, the mean age of the UEs' oldest queued packets (a lower bound); NaN if idle.
- load l: PRB-time used by the slice / PRB-time of the cell (both over the period), in [0, 1];
  a slice's load is its share of the cell's transmissions, which is what couples interference.
- active users u: time average of the slice's active UEs served by the cell.
- satisfaction = min(φ/φ*, d*/d, 1); a term with no traffic (NaN) counts as met.
- reward r_k = min over slices of the satisfaction (paper eq. 2).
- neighbour load c_k = mean of l_j over the cell's neighbours j (paper eq. 5).
"""
from __future__ import annotations

import numpy as np

# Observation features are clipped into [0, OBS_HIGH].
OBS_HIGH = 10.0


def period_kpis(acc: dict[str, np.ndarray], user_ttis: np.ndarray, n_tti: int, tti_s: float, num_prbs: int,
                hol_age_s: np.ndarray) -> dict[str, np.ndarray]:
    """(C, N) arrays of throughput_bps, delay_s, load, active_users, drops, packets, offered_bps."""
    with np.errstate(invalid="ignore", divide="ignore"):
        thr = np.where(acc["busy"] > 0, acc["bits"] / np.where(acc["busy"] > 0, acc["busy"], 1.0), np.nan)
        delay = np.where(acc["pkts"] > 0, acc["delay"] / np.maximum(acc["pkts"], 1.0), hol_age_s)
    period = n_tti * tti_s
    return {
        "throughput_bps": thr,
        "delay_s": delay,
        "load": acc["used"] / (num_prbs * n_tti),
        "active_users": user_ttis / n_tti,
        "drops": acc["drops"].copy(),
        "packets": acc["pkts"].copy(),
        "offered_bps": acc["offered"] / period,
        "prb_alloc": acc["alloc"] / n_tti,
    }


def satisfaction(throughput_bps, delay_s, req_throughput_bps, req_delay_s) -> np.ndarray:
    """min(φ/φ*, d*/d, 1) elementwise; NaN throughput or delay (no traffic) makes that term 1."""
    thr = np.asarray(throughput_bps, dtype=float)
    dly = np.asarray(delay_s, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(np.isnan(thr), 1.0, np.minimum(thr / req_throughput_bps, 1.0))
        d = np.where(np.isnan(dly), 1.0, np.minimum(req_delay_s / np.maximum(dly, 1e-12), 1.0))
    return np.minimum(t, d)


def cell_reward(sat: np.ndarray) -> np.ndarray:
    """Paper eq. 2: the minimum satisfaction over slices (last axis)."""
    return np.min(sat, axis=-1)


def neighbour_load(load: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Paper eq. 5: (C, N) mean per-slice load of each cell's neighbours (zeros for a cell without any)."""
    nb = np.asarray(neighbours, dtype=float)
    count = nb.sum(axis=1, keepdims=True)
    return (nb @ load) / np.maximum(count, 1.0)


def observations(throughput_bps, load, active_users, nbr_load, req_throughput_bps, group_size) -> np.ndarray:
    """(C, 4N) float32: [φ/φ*, l, u/group size, neighbour l], clipped to [0, OBS_HIGH].

    Throughput is relative to the cell's requirement (1 = just met) so cells with different
    requirements see comparable numbers; a slice without traffic reads 0 (its user count says why).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        thr = np.nan_to_num(np.asarray(throughput_bps) / req_throughput_bps, nan=0.0)
        users = np.asarray(active_users) / np.maximum(np.asarray(group_size, dtype=float), 1.0)
    obs = np.concatenate((thr, load, users, nbr_load), axis=1)
    return np.clip(obs, 0.0, OBS_HIGH).astype(np.float32)
