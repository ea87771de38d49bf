"""Packet arrivals of every active UE from its slice's traffic model, generated per time window."""
from __future__ import annotations

import numpy as np

from emulator.ran.config import CbrTraffic, FullBufferTraffic, PoissonTraffic

POISSON, CBR, FULL_BUFFER = 0, 1, 2


def sorted_uniforms(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each group i, counts[i] sorted Uniform(0, 1) draws, concatenated group after group.

    Uses the spacing representation: with E_1..E_{n+1} i.i.d. exponential, the partial sums
    S_j / S_{n+1} (j ≤ n) are the order statistics of n uniforms.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0)
    seg = counts + 1
    e = rng.standard_exponential(int(seg.sum()))
    csum = np.cumsum(e)
    ends = np.cumsum(seg) - 1
    starts = ends - counts
    base = np.where(starts > 0, csum[starts - 1], 0.0)
    span = csum[ends] - base
    keep = np.ones(csum.size, dtype=bool)
    keep[ends] = False
    grp = np.repeat(np.arange(counts.size), counts)
    return np.minimum((csum[keep] - base[grp]) / span[grp], np.nextafter(1.0, 0.0))


class TrafficSource:
    """Per-UE traffic parameters (struct-of-arrays) and vectorised arrival generation.

    Arrival times are continuous. Poisson: per window, the count per UE is Poisson(rate·T) and
    the times uniform in the window (the conditional law of a Poisson process). CBR: one packet
    every interval from a phase drawn uniformly in [0, interval) when the UE becomes active.
    Full buffer: no packets; the scheduler treats the UE as always backlogged.
    """

    def __init__(self, slices, ue_slice: np.ndarray, rng: np.random.Generator):
        self.rng = rng
        self.ue_slice = np.asarray(ue_slice, dtype=np.int64)
        n_slice = len(slices)
        kind = np.zeros(n_slice, dtype=np.int64)
        rate = np.zeros(n_slice)
        bits = np.zeros(n_slice)
        interval = np.zeros(n_slice)
        expo = np.zeros(n_slice, dtype=bool)
        mean_bps = np.zeros(n_slice)
        for i, s in enumerate(slices):
            t = s.traffic
            if isinstance(t, PoissonTraffic):
                kind[i], rate[i], bits[i], expo[i] = POISSON, t.rate_pps, 8.0 * t.packet_bytes, t.size == "exponential"
                mean_bps[i] = t.mean_rate_bps
            elif isinstance(t, CbrTraffic):
                kind[i], bits[i], interval[i] = CBR, 8.0 * t.packet_bytes, t.interval_ms * 1e-3
                mean_bps[i] = t.mean_rate_bps
            elif isinstance(t, FullBufferTraffic):
                kind[i] = FULL_BUFFER
                mean_bps[i] = np.nan
            else:  # pragma: no cover - the config union admits only the three kinds
                raise TypeError(f"unknown traffic model {type(t).__name__}")
        s = self.ue_slice
        self.kind, self.rate_pps, self.packet_bits = kind[s], rate[s], bits[s]
        self.interval_s, self.exponential = interval[s], expo[s]
        self.slice_mean_rate_bps = mean_bps
        self.next_cbr = np.full(s.shape[0], np.inf)
        self.full_buffer_slice = kind == FULL_BUFFER

    def activate(self, idx: np.ndarray, now: float) -> None:
        """UEs `idx` became active at `now`: CBR sources start at a random phase."""
        idx = np.asarray(idx, dtype=np.int64)
        cbr = idx[self.kind[idx] == CBR]
        if cbr.size:
            self.next_cbr[cbr] = now + self.rng.random(cbr.size) * self.interval_s[cbr]

    def arrivals(self, k0: int, k1: int, tti_s: float, active: np.ndarray):
        """Arrivals of the active UEs in [k0·TTI, k1·TTI): (times, UE indices, bits, eligible TTI).

        Ordered by eligible TTI (the first TTI starting at or after the arrival), and within a TTI
        by UE then time, which is all the FIFO queues need. Poisson times come out sorted per UE
        from exponential spacings (the order statistics of uniforms), and the TTI order from a
        stable radix sort on small integers, so no float sort is needed.
        """
        t0, t1 = k0 * tti_s, k1 * tti_s
        T = t1 - t0
        ts, us, bs = [], [], []
        pois = np.flatnonzero(active & (self.kind == POISSON))
        if pois.size:
            counts = self.rng.poisson(self.rate_pps[pois] * T)
            n = int(counts.sum())
            if n:
                ue = np.repeat(pois, counts)
                ts.append(t0 + T * sorted_uniforms(counts, self.rng))
                us.append(ue)
                bits = self.packet_bits[ue]
                exp = self.exponential[ue]
                if exp.any():
                    # whole bytes, at least one
                    bits = bits.copy()
                    bits[exp] = 8.0 * np.maximum(1.0, np.ceil(self.rng.exponential(bits[exp] / 8.0)))
                bs.append(bits)
        cbr = np.flatnonzero(active & (self.kind == CBR))
        if cbr.size:
            nxt = self.next_cbr[cbr]
            iv = self.interval_s[cbr]
            counts = np.where(nxt < t1, np.ceil((t1 - nxt) / iv), 0).astype(np.int64)
            # float guard: the last arrival must stay below t1
            counts = np.where((counts > 0) & (nxt + (counts - 1) * iv >= t1), counts - 1, counts)
            n = int(counts.sum())
            if n:
                ue = np.repeat(cbr, counts)
                j = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
                ts.append(self.next_cbr[ue] + j * self.interval_s[ue])
                us.append(ue)
                bs.append(self.packet_bits[ue])
            self.next_cbr[cbr] = nxt + counts * iv
        if not ts:
            return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64)
        t = np.concatenate(ts)
        ue = np.concatenate(us)
        bits = np.concatenate(bs)
        # eligible TTI: ceil(t / TTI), within [k0, k1]; the tolerance keeps t = k·TTI in TTI k
        k = np.clip(np.ceil(t / tti_s - 1e-9).astype(np.int64), k0, k1)
        rel = k - k0
        order = np.argsort(rel.astype(np.uint16) if k1 - k0 < 65_535 else rel, kind="stable")
        return t[order], ue[order], bits[order], k[order]

    def mean_rate_bps(self) -> np.ndarray:
        """(U,) mean offered rate of each UE when active (NaN for full buffer)."""
        return self.slice_mean_rate_bps[self.ue_slice]
