"""Struct-of-arrays state of every UE queue and cell, and the runner that feeds it to the TTI kernel."""
from __future__ import annotations

import numpy as np

from emulator.radio.link import LinkMapping
from emulator.ran.scheduler import DISCIPLINES, prb_budgets, run_ttis

# Per (cell, slice) accumulators the kernel adds to; reset at each decision epoch.
ACCUMULATORS = ("bits", "busy", "delay", "pkts", "used", "alloc", "drops", "offered")


class RanEngine:
    """All cells' scheduling state; `run(n)` advances n TTIs with the radio state last given.

    The radio side is set with `set_radio(rx_w, serving)` whenever UEs moved (it rebuilds the
    cell/slice index and invalidates cached bits per PRB); shares with `set_shares`; arrivals
    with `add_arrivals` (any time order across calls is fine as long as each batch is later than
    the last: arrivals not yet due stay queued for the next run).
    """

    def __init__(self, num_cells: int, num_slices: int, ue_slice: np.ndarray, *, num_prbs: int, tti_s: float,
                 link: LinkMapping, prb_bandwidth_hz: float, noise_w: float, discipline: str = "rr",
                 work_conserving: bool = False, pf_time_constant_ttis: float = 100.0, queue_packets: int = 256,
                 cqi_period_ttis: int = 1):
        self.C, self.N = int(num_cells), int(num_slices)
        self.ue_slice = np.ascontiguousarray(ue_slice, dtype=np.int64)
        U = self.U = self.ue_slice.shape[0]
        self.num_prbs = int(num_prbs)
        self.tti = float(tti_s)
        self.link = link
        self.bits_scale = float(prb_bandwidth_hz) * self.tti
        self.noise_w = float(noise_w)
        self.discipline = DISCIPLINES[discipline]
        self.work_conserving = bool(work_conserving)
        self.pf_beta = 1.0 / float(pf_time_constant_ttis)
        Q = int(queue_packets)
        self.k = 0  # index of the next TTI to run

        self.q_t = np.zeros((U, Q))
        self.q_bits = np.zeros((U, Q))
        self.q_head = np.zeros(U, dtype=np.int64)
        self.q_len = np.zeros(U, dtype=np.int64)
        self.backlog = np.zeros(U)
        self.full_buf = np.zeros(U, dtype=np.bool_)
        self.pf_avg = np.zeros(U)
        self.pf_last = np.zeros(U, dtype=np.int64)
        self.bpp = np.zeros(U)
        self.bpp_ver = np.full(U, -1, dtype=np.int64)
        self.ver = np.zeros(1, dtype=np.int64)
        self.gain_ver = 0
        self.cqi_period = int(cqi_period_ttis)
        self.cqi_phase = np.arange(U, dtype=np.int64) % self.cqi_period
        self.served_bits = np.zeros(U)

        self.rx_w = np.zeros((U, self.C))
        self.serving = np.zeros(U, dtype=np.int64)
        self.cs_ptr = np.zeros(self.C * self.N + 1, dtype=np.int64)
        self.cs_ue = np.arange(U, dtype=np.int64)
        self.nb = np.zeros(self.C * self.N, dtype=np.int64)
        self.pos = np.arange(U, dtype=np.int64)
        self.shares = np.full((self.C, self.N), 1.0 / self.N)
        self.budgets = prb_budgets(self.shares, self.num_prbs)
        self.rr_ptr = np.zeros(self.C * self.N + self.C, dtype=np.int64)
        self.activity = np.zeros(self.C)

        self.acc = {name: np.zeros((self.C, self.N)) for name in ACCUMULATORS}
        self.last_alloc = np.zeros((self.C, self.N), dtype=np.int64)
        self._scratch = (np.zeros(U, dtype=np.int64), np.zeros(U, dtype=np.int64), np.zeros(U, dtype=np.int64),
                         np.zeros(U), np.zeros(U, dtype=np.int64))
        self._arr_t = np.zeros(0)
        self._arr_ue = np.zeros(0, dtype=np.int64)
        self._arr_bits = np.zeros(0)
        self._arr_k = np.zeros(0, dtype=np.int64)
        self._arr_pos = np.zeros(1, dtype=np.int64)

    # -- inputs ------------------------------------------------------------------------------------
    def set_radio(self, rx_w: np.ndarray, serving: np.ndarray) -> None:
        rx_w = np.ascontiguousarray(rx_w, dtype=np.float64)
        serving = np.ascontiguousarray(serving, dtype=np.int64)
        if rx_w.shape != (self.U, self.C) or serving.shape != (self.U,):
            raise ValueError(f"radio state has shapes {rx_w.shape}, {serving.shape}; expected ({self.U}, {self.C}), ({self.U},)")
        if self.U and (serving.min() < 0 or serving.max() >= self.C):
            raise ValueError("every UE needs a serving cell in [0, num_cells)")
        self.rx_w, self.serving = rx_w, serving
        self._index()
        self.ver[0] += 1  # gains changed: every cached bits-per-PRB is stale
        self.gain_ver = int(self.ver[0])

    def set_full_buffer(self, mask: np.ndarray) -> None:
        """Which UEs are full-buffer sources now (active UEs of full-buffer slices)."""
        self.full_buf[:] = mask
        self._index()

    def _index(self) -> None:
        # UEs by group (serving cell, slice), backlogged ones first in each group: see run_ttis.
        G = self.C * self.N
        group = self.serving * self.N + self.ue_slice
        busy = (self.q_len > 0) | self.full_buf
        self.cs_ue = np.lexsort((~busy, group)).astype(np.int64)
        self.cs_ptr = np.concatenate(([0], np.cumsum(np.bincount(group, minlength=G)))).astype(np.int64)
        self.nb = np.bincount(group[busy], minlength=G).astype(np.int64)
        self.pos = np.empty(self.U, dtype=np.int64)
        self.pos[self.cs_ue] = np.arange(self.U, dtype=np.int64)

    def set_shares(self, cell: int, shares: np.ndarray) -> None:
        self.shares[cell] = shares
        self.budgets[cell] = prb_budgets(shares, self.num_prbs)

    def add_arrivals(self, t: np.ndarray, ue: np.ndarray, bits: np.ndarray, k: np.ndarray) -> None:
        """Append arrivals ordered by eligible TTI `k` (per UE in time order), none due before the last batch's."""
        p = self._arr_pos[0]
        self._arr_t = np.concatenate((self._arr_t[p:], t))
        self._arr_ue = np.concatenate((self._arr_ue[p:], np.asarray(ue, dtype=np.int64)))
        self._arr_bits = np.concatenate((self._arr_bits[p:], bits))
        self._arr_k = np.concatenate((self._arr_k[p:], np.asarray(k, dtype=np.int64)))
        self._arr_pos[0] = 0

    # -- running ---------------------------------------------------------------------------------
    def run(self, n_tti: int) -> None:
        lm = self.link
        run_ttis(
            int(n_tti), self.k, self.tti, self.num_prbs,
            self._arr_t, self._arr_ue, self._arr_bits, self._arr_k, self._arr_pos,
            self.q_t, self.q_bits, self.q_head, self.q_len, self.backlog, self.full_buf,
            self.ue_slice, self.serving, self.pf_avg, self.pf_last, self.bpp, self.bpp_ver, self.ver, self.gain_ver,
            self.cqi_phase, self.cqi_period, self.served_bits,
            self.rx_w, self.noise_w, lm.mapping, lm.alpha, lm.sinr_min, lm.max_efficiency,
            lm.cqi_thresholds, lm.cqi_efficiency, self.bits_scale,
            self.cs_ptr, self.cs_ue, self.nb, self.pos, self.budgets, self.rr_ptr, self.activity,
            self.discipline, self.work_conserving, self.pf_beta,
            self.acc["bits"], self.acc["busy"], self.acc["delay"], self.acc["pkts"], self.acc["used"],
            self.acc["alloc"], self.acc["drops"], self.acc["offered"],
            self.last_alloc, *self._scratch,
        )
        self.k += int(n_tti)

    def take_accumulators(self) -> dict[str, np.ndarray]:
        """The accumulators since the last call (copies); the engine's are zeroed."""
        out = {name: a.copy() for name, a in self.acc.items()}
        for a in self.acc.values():
            a[:] = 0.0
        return out

    def head_of_line_age(self, now: float) -> np.ndarray:
        """(C, N) mean age of the oldest queued packet over UEs with a non-empty queue (NaN: none)."""
        has = self.q_len > 0
        idx = np.flatnonzero(has)
        out = np.full((self.C, self.N), np.nan)
        if idx.size:
            age = now - self.q_t[idx, self.q_head[idx]]
            key = self.serving[idx] * self.N + self.ue_slice[idx]
            s = np.bincount(key, weights=age, minlength=self.C * self.N)
            n = np.bincount(key, minlength=self.C * self.N)
            with np.errstate(invalid="ignore", divide="ignore"):
                out = np.where(n > 0, s / np.maximum(n, 1), np.nan).reshape(self.C, self.N)
        return out

    def clear_queues(self) -> None:
        """Drop every queued packet (a new episode starts with empty buffers); arrivals not yet due stay."""
        self.q_len[:] = 0
        self.q_head[:] = 0
        self.backlog[:] = 0.0
        self.pf_avg[:] = 0.0
        self._index()
