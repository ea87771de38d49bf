"""Per-TTI PRB scheduling of every cell (numba kernel over struct-of-arrays state).

One call of `run_ttis` advances all cells by a run of TTIs. In each TTI and cell:

1. Arrivals whose eligible TTI (the first TTI starting at or after the arrival time) has come
   join their UE's FIFO queue; a full queue drops the packet.
2. Each backlogged UE's bits per PRB come from the link mapping of its SINR, where interference
   is every other cell's received power weighted by that cell's PRB activity in the previous TTI
   (load coupling). The value is the UE's channel-quality report: refreshed on the UE's report
   TTIs (every `cqi_period` TTIs, UEs staggered by index; TS 36.213 §7.2.2 periodic CQI) if the
   activity changed since, and at once after the gains changed (UEs moved). cqi_period = 1 is the
   exact per-TTI coupling; larger periods model report delay and save the SINR work (the
   dominant cost of a loaded TTI).
3. Slice budgets (integer PRBs, see `prb_budgets`) are filled with PRBs capped at each UE's need
   (ceil(backlog / bits per PRB)): round robin = integer water-filling (equal PRBs, the odd ones
   to UEs in a rotating order), proportional fair = greedy on bits-per-PRB / average throughput.
   Work-conserving mode pools PRBs that slices cannot use and fills the cell's still-unmet UEs.
4. PRBs still free after that are spread over the UEs already scheduled in the same slice (same
   cell under work-conserving sharing): they carry no extra bits, they only let the UE's bits
   arrive earlier within the TTI (see delay below).
5. Delivery is fluid within the TTI: a UE with n PRBs receives its C = n·bpp bits at a constant
   rate over the TTI, so the packet whose last bit is at position b ≤ C completes at
   t_start + (b / C)·TTI. Packet delay = completion − arrival (arrival is continuous). A UE that
   empties its queue occupies its PRBs only until its last bit: PRB-time used = delivered / bpp.
   Cell activity for the next TTI = PRB-time used / number of PRBs.

Why fluid within the TTI: with "delivered at the end of the TTI" every packet waits for the next
TTI boundary (mean ½ TTI) plus a whole TTI, so the mean delay can never drop below 1.5 ms and
the paper's 1 ms requirements could not be met by any partition. The fluid position keeps delay
continuous in the resources a UE gets, so shares move delay as well as throughput.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from emulator.radio.link import MAPPING_SHANNON, efficiency_scalar, shannon_efficiency_scalar

RR = 0
PF = 1
DISCIPLINES = {"rr": RR, "pf": PF}

# PF metric denominator floor [bit/TTI]: a UE never served yet gets a large but finite priority.
PF_MIN_AVERAGE_BITS = 1e-3
# Relative slack when testing whether a packet fits into the remaining capacity of a TTI.
FIT_RTOL = 1e-12


def prb_budgets(shares: np.ndarray, num_prbs: int) -> np.ndarray:
    """Integer PRB budgets per slice from shares (…, N) summing to 1, by largest remainder (Hamilton).

    Each slice gets floor(share·num_prbs); the PRBs left go one each to the slices with the
    largest fractional parts (ties: lower slice index), so every row sums to exactly num_prbs
    and no slice is more than one PRB away from its exact quota.
    """
    shares = np.asarray(shares, dtype=np.float64)
    quota = shares * num_prbs
    # 1e-9 absorbs float error such as 0.29 × 100 = 28.999999999999996.
    base = np.floor(quota + 1e-9).astype(np.int64)
    base = np.minimum(base, num_prbs)
    frac = quota - base
    left = num_prbs - base.sum(axis=-1, keepdims=True)
    # Stable sort on −frac keeps lower slice indices first among equal fractions.
    order = np.argsort(-frac, axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(shares.shape[-1]) + np.zeros_like(order), axis=-1)
    return base + (rank < left).astype(np.int64)


@njit(cache=True, inline="always", error_model="numpy")
def ue_bits_per_prb(rx_w, u, s, activity, noise_w, mapping, alpha, sinr_min, max_eff, cqi_thr, cqi_eff, scale):
    """Bits one PRB carries for UE u served by cell s: the radio module's SINR (serving power over
    activity-weighted interference plus noise, as `emulator.radio.sinr.sinr_kernel`) through its
    link mapping (`emulator.radio.link`) × PRB bandwidth × TTI.

    The Shannon mapping is called through its scalar form directly: passing the CQI tables to a
    non-inlined function costs more than the whole SINR computation. Inlined (as the other
    helpers here) because a call that passes arrays costs ~30 ns of reference counting.
    """
    total = 0.0
    for c in range(rx_w.shape[1]):
        total += activity[c] * rx_w[u, c]
    interference = total - activity[s] * rx_w[u, s]
    if interference < 0.0:  # cancellation when the serving term dominates
        interference = 0.0
    sinr = rx_w[u, s] / (interference + noise_w)
    if mapping == MAPPING_SHANNON:
        eff = shannon_efficiency_scalar(sinr, alpha, sinr_min, max_eff)
    else:
        eff = efficiency_scalar(sinr, mapping, alpha, sinr_min, max_eff, cqi_thr, cqi_eff)
    return scale * eff


@njit(cache=True, inline="always", error_model="numpy")
def _rr_fill(lst, a, b, need, alloc, budget, offset):
    """Integer water-filling of `budget` PRBs over lst[a:b], each UE capped at need - alloc.

    Returns (PRBs left, number of odd PRBs handed out one by one from `offset`), the latter
    advancing the caller's rotation so the odd PRBs go round over successive TTIs.
    """
    k = b - a
    left = budget
    unmet = 0
    for i in range(a, b):
        if alloc[lst[i]] < need[lst[i]]:
            unmet += 1
    while left > 0 and unmet > 0:
        share = left // unmet
        if share == 0:
            given = 0
            i = a + offset % k  # one modulo; the loop wraps by comparison (integer division is slow)
            for _ in range(k):
                u = lst[i]
                if alloc[u] < need[u]:
                    alloc[u] += 1
                    left -= 1
                    given += 1
                    if left == 0:
                        break
                i += 1
                if i == b:
                    i = a
            return left, given
        for i in range(a, b):
            u = lst[i]
            gap = need[u] - alloc[u]
            if gap > 0:
                g = gap if gap < share else share
                alloc[u] += g
                left -= g
                if g == gap:
                    unmet -= 1
    return left, 0


@njit(cache=True, inline="always", error_model="numpy")
def _pf_fill(lst, a, b, need, alloc, budget, metric, order):
    """Greedy PF: UEs of lst[a:b] in decreasing `metric` (ties: list order) take PRBs up to their need."""
    k = 0
    for i in range(a, b):
        u = lst[i]
        if alloc[u] < need[u]:
            # insertion sort by metric, descending; k ≤ UEs of one cell, usually a few dozen
            j = k
            while j > 0 and metric[order[j - 1]] < metric[u]:
                order[j] = order[j - 1]
                j -= 1
            order[j] = u
            k += 1
    left = budget
    for j in range(k):
        if left == 0:
            break
        u = order[j]
        gap = need[u] - alloc[u]
        g = gap if gap < left else left
        alloc[u] += g
        left -= g
    return left


@njit(cache=True, inline="always", error_model="numpy")
def _spread(lst, a, b, alloc, left, rot):
    """Hand `left` spare PRBs evenly to the UEs of lst[a:b] (odd ones from a rotating start)."""
    k = b - a
    if k == 0 or left <= 0:
        return left
    q = left // k
    r = left - q * k
    i = a + rot % k
    for t in range(k):
        alloc[lst[i]] += q + 1 if t < r else q
        i += 1
        if i == b:
            i = a
    return 0


@njit(cache=True, inline="always", error_model="numpy")
def _mark_backlogged(u, g, cs_ptr, cs_ue, nb, pos):
    """Move UE u into the backlogged front part of its group's segment of cs_ue."""
    j = pos[u]
    f = cs_ptr[g] + nb[g]
    w = cs_ue[f]
    cs_ue[j] = w
    pos[w] = j
    cs_ue[f] = u
    pos[u] = f
    nb[g] += 1


@njit(cache=True, inline="always", error_model="numpy")
def _mark_idle(u, g, cs_ptr, cs_ue, nb, pos):
    """Move UE u out of the backlogged front part of its group's segment of cs_ue."""
    j = pos[u]
    last = cs_ptr[g] + nb[g] - 1
    w = cs_ue[last]
    cs_ue[j] = w
    pos[w] = j
    cs_ue[last] = u
    pos[u] = last
    nb[g] -= 1


@njit(cache=True, error_model="numpy")
def run_ttis(
    n_tti, k0, tti, num_prbs,
    arr_t, arr_ue, arr_bits, arr_k, arr_pos,
    q_t, q_bits, q_head, q_len, backlog, full_buf,
    ue_slice, serving, pf_avg, pf_last, bpp, bpp_ver, ver, gain_ver, cqi_phase, cqi_period, served_bits,
    rx_w, noise_w, mapping, alpha, sinr_min, max_eff, cqi_thr, cqi_eff, bits_scale,
    cs_ptr, cs_ue, nb, pos, budgets, rr_ptr, activity,
    discipline, work_conserving, pf_beta,
    acc_bits, acc_busy, acc_delay, acc_pkts, acc_used, acc_alloc, acc_drops, acc_offered,
    last_alloc,
    lst, alloc, need, metric, order,
):
    """Advance every cell by `n_tti` TTIs starting at TTI index k0 (see the module docstring).

    Shapes: U UEs, C cells, N slices, G = C·N groups, Q queue slots, A arrivals (ordered by
    eligible TTI arr_k). arr_pos[0] (in/out) is the next unread arrival; ver[0] (in/out) the
    activity/gain version, gain_ver the version set when the gains last changed; cqi_phase (U,)
    = UE index mod cqi_period.
    UE index: group g = serving cell · N + slice owns cs_ue[cs_ptr[g]:cs_ptr[g + 1]], whose first
    nb[g] entries are its backlogged UEs (queue non-empty or full buffer); pos[u] is u's place in
    cs_ue. The kernel keeps this partition as queues fill and empty, so a TTI touches only
    backlogged UEs. PF averages of UEs not visited decay lazily (pf_last = TTI of the last update).
    Accumulators (C, N) are added to by serving cell and slice; last_alloc (C, N) holds the PRBs
    allocated in the last TTI. lst, alloc, need, metric, order are (U,) scratch.
    """
    n_cell = budgets.shape[0]
    n_slice = budgets.shape[1]
    qcap = q_t.shape[1]
    n_arr = arr_t.shape[0]
    new_act = np.empty(n_cell)
    sl_a = np.empty(n_slice, dtype=np.int64)
    sl_b = np.empty(n_slice, dtype=np.int64)
    left_s = np.empty(n_slice, dtype=np.int64)
    keep = 1.0 - pf_beta
    for i in range(n_tti):
        k = k0 + i
        t0 = k * tti
        # 1. arrivals
        p = arr_pos[0]
        while p < n_arr and arr_k[p] <= k:
            u = arr_ue[p]
            c = serving[u]
            s = ue_slice[u]
            acc_offered[c, s] += arr_bits[p]
            ql = q_len[u]
            if ql < qcap:
                if ql == 0 and not full_buf[u]:
                    _mark_backlogged(u, c * n_slice + s, cs_ptr, cs_ue, nb, pos)
                slot = q_head[u] + ql
                if slot >= qcap:
                    slot -= qcap
                q_t[u, slot] = arr_t[p]
                q_bits[u, slot] = arr_bits[p]
                q_len[u] = ql + 1
                backlog[u] += arr_bits[p]
            else:
                acc_drops[c, s] += 1.0
            p += 1
        arr_pos[0] = p
        v = ver[0]
        phase = k % cqi_period
        for c in range(n_cell):
            # 2.–3. candidates and budgets, slice by slice
            m = 0
            for s in range(n_slice):
                sl_a[s] = m
                g = c * n_slice + s
                j0 = cs_ptr[g]
                for j in range(j0, j0 + nb[g]):
                    u = cs_ue[j]
                    bv = bpp_ver[u]
                    if bv != v and (bv < gain_ver or cqi_phase[u] == phase):
                        bpp[u] = ue_bits_per_prb(rx_w, u, c, activity, noise_w, mapping, alpha, sinr_min,
                                                 max_eff, cqi_thr, cqi_eff, bits_scale)
                        bpp_ver[u] = v
                    if discipline == PF:
                        gap = k - pf_last[u]
                        pf_avg[u] *= keep if gap == 1 else keep ** gap
                        pf_last[u] = k
                    if bpp[u] > 0.0:
                        lst[m] = u
                        alloc[u] = 0
                        if full_buf[u]:
                            need[u] = num_prbs
                        else:
                            nd = math.ceil(backlog[u] * (1.0 - FIT_RTOL) / bpp[u])
                            need[u] = nd if nd < num_prbs else num_prbs
                        if discipline == PF:
                            avg = pf_avg[u] if pf_avg[u] > PF_MIN_AVERAGE_BITS else PF_MIN_AVERAGE_BITS
                            metric[u] = bpp[u] / avg
                        m += 1
                    else:
                        # backlogged but out of coverage: waits with data, counts as busy time
                        acc_busy[c, s] += tti
                sl_b[s] = m
                if discipline == RR:
                    left, given = _rr_fill(lst, sl_a[s], m, need, alloc, budgets[c, s], rr_ptr[g])
                    rr_ptr[g] += given
                else:
                    left = _pf_fill(lst, sl_a[s], m, need, alloc, budgets[c, s], metric, order)
                left_s[s] = left
            # 3b.–4. work conservation and spare PRBs
            if work_conserving:
                pool = 0
                for s in range(n_slice):
                    pool += left_s[s]
                g = n_cell * n_slice + c  # the cell-level rotation slot
                if discipline == RR:
                    pool, given = _rr_fill(lst, 0, m, need, alloc, pool, rr_ptr[g])
                    rr_ptr[g] += given
                else:
                    pool = _pf_fill(lst, 0, m, need, alloc, pool, metric, order)
                _spread(lst, 0, m, alloc, pool, k)
            else:
                for s in range(n_slice):
                    _spread(lst, sl_a[s], sl_b[s], alloc, left_s[s], k)
            # 5. fluid delivery
            used_cell = 0.0
            for s in range(n_slice):
                n_alloc = 0
                g = c * n_slice + s
                for idx in range(sl_a[s], sl_b[s]):
                    u = lst[idx]
                    n = alloc[u]
                    n_alloc += n
                    if n == 0:
                        acc_busy[c, s] += tti
                        continue
                    cap = n * bpp[u]
                    if full_buf[u]:
                        got = cap
                        used = n
                        acc_busy[c, s] += tti
                    else:
                        pos_b = 0.0
                        ql = q_len[u]
                        h = q_head[u]
                        lim = cap * (1.0 + FIT_RTOL)
                        while ql > 0:
                            b = q_bits[u, h]
                            if pos_b + b <= lim:
                                pos_b += b
                                frac = pos_b / cap if pos_b < cap else 1.0
                                acc_delay[c, s] += t0 + frac * tti - q_t[u, h]
                                acc_pkts[c, s] += 1.0
                                h += 1
                                if h == qcap:
                                    h = 0
                                ql -= 1
                            else:
                                q_bits[u, h] = b - (cap - pos_b)
                                pos_b = cap
                                break
                        q_head[u] = h
                        q_len[u] = ql
                        got = pos_b
                        if ql == 0:
                            backlog[u] = 0.0
                            frac = pos_b / cap if pos_b < cap else 1.0
                            acc_busy[c, s] += frac * tti
                            used = n * frac
                            _mark_idle(u, g, cs_ptr, cs_ue, nb, pos)
                        else:
                            backlog[u] -= pos_b
                            acc_busy[c, s] += tti
                            used = n
                    acc_bits[c, s] += got
                    acc_used[c, s] += used
                    used_cell += used
                    served_bits[u] += got
                    if discipline == PF:
                        pf_avg[u] += pf_beta * got
                acc_alloc[c, s] += n_alloc
                last_alloc[c, s] = n_alloc
            act = used_cell / num_prbs
            new_act[c] = act if act < 1.0 else 1.0
        changed = False
        for c in range(n_cell):
            if new_act[c] != activity[c]:
                changed = True
                activity[c] = new_act[c]
        if changed:
            ver[0] += 1
