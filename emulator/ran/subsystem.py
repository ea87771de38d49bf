"""RanSubsystem: UE groups, masks, mobility, traffic and the TTI kernel on the SimPy clock; KPIs and control points.

Timing. One SimPy process (the TTI driver) runs the kernel over windows of TTIs that end at the
next due boundary: a mask step, a mobility step or a decision epoch (and at most one mobility
period long). Each window is computed when it starts, from the state in force then (shares,
positions, active UEs are constant inside a window), and the clock then moves to its end. At a
boundary the driver wakes the mask, mobility and decision processes in that order and waits for
each to finish, so a decision sees the KPIs of exactly its period and the mask and positions of
the next one, and its actions are in force from the first TTI after it. All times come from
integer TTI counts (t = k·TTI), so simultaneous things happen at the same instant.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from emulator.emulation import Emulation, Subsystem
from emulator.errors import ConfigError
from emulator.radio.model import RadioModel
from emulator.ran.control import SlicePartitionPoint
from emulator.ran.engine import RanEngine
from emulator.ran.kpi import cell_reward, neighbour_load, observations, period_kpis, satisfaction
from emulator.ran.masks import MaskSeries, active_count
from emulator.ran.mobility import Mobility
from emulator.ran.traffic import TrafficSource
from topology.query import cell_arrays, neighbour_matrix

log = logging.getLogger("ranemu.ran")

# Arrivals are generated in batches of at most this many TTIs (bounds their memory).
ARRIVAL_SEGMENT_TTIS = 1000

# Size guard of one world: UEs, and UE-cell pairs of the link budget (about 10 float64 arrays of
# that many entries); 200 cells × 25,600 UEs is 5.1e6 links.
MAX_UES = 2_000_000
MAX_LINKS = 100_000_000


def whole_ttis(period_s: float, tti_s: float, field: str, source: str = "scenario") -> int:
    """`period_s` as a whole number ≥ 1 of TTIs, or a ConfigError naming the field."""
    n = int(round(period_s / tti_s))
    if n < 1 or abs(n * tti_s - period_s) > 1e-9 * max(1.0, period_s):
        raise ConfigError(source, field, f"must be a whole number of TTIs ({tti_s * 1e3:g} ms), got {period_s:g} s")
    return n


class RanSubsystem(Subsystem):
    """The slicing RAN of the paper: K cells × N slices, O&M shares per cell, per-TTI scheduling."""

    name = "ran"

    def __init__(self, emu: Emulation):
        self.emu = emu
        sc = emu.scenario
        cfg = self.cfg = sc.ran
        self.tti = emu.tti
        source = f"scenario {sc.name!r}"
        self.dec_ttis = whole_ttis(cfg.decision_period_s, self.tti, "ran.decision_period_s", source)
        self.mask_ttis = whole_ttis(cfg.mask_step, self.tti, "ran.mask_step_s", source)
        self.mob_ttis = whole_ttis(cfg.mobility.period_s, self.tti, "ran.mobility.period_s", source)
        self.static = cfg.mobility.model == "static"

        cells = cell_arrays(emu.graph)
        C = self.C = cells.num_cells
        N = self.N = len(cfg.slices)
        self.slice_names = [s.name for s in cfg.slices]
        self.neighbours = neighbour_matrix(emu.graph)
        try:
            self.req_thr, self.req_delay = cfg.requirement_arrays(C)
        except ValueError as exc:
            # the message starts with the exact field, e.g. "ran.requirements[0].cells: ..."
            path, _, message = str(exc).partition(": ")
            raise ConfigError(source, path, message) from None
        self.group_size = np.array([s.group_size for s in cfg.slices], dtype=np.int64)
        n_ues = C * int(self.group_size.sum())
        if n_ues > MAX_UES or n_ues * C > MAX_LINKS:  # refuse before allocating, not with a MemoryError
            raise ConfigError(source, "ran.slices[*].group_size",
                              f"{C} cells × {int(self.group_size.sum())} UEs per cell = {n_ues:,} UEs and "
                              f"{n_ues * C:,} UE-cell links; at most {MAX_UES:,} UEs and {MAX_LINKS:,} links "
                              "(each link holds several float64 arrays)")

        # UE groups: for each cell, for each slice, group_size UEs (UE order: cell-major, then slice).
        per_cell = np.repeat(np.arange(N), self.group_size)
        self.ue_slice = np.tile(per_cell, C).astype(np.int64)
        self.ue_home = np.repeat(np.arange(C), per_cell.size).astype(np.int64)
        U = self.U = self.ue_slice.size
        # Rank of each UE inside its group: the mask activates ranks 0..count-1, so raising the
        # mask adds UEs and lowering it removes the most recently added ones.
        act_rng = emu.streams.get("ran.activation")
        self.ue_rank = np.zeros(U, dtype=np.int64)
        start = 0
        for _ in range(C):
            for s in range(N):
                g = int(self.group_size[s])
                self.ue_rank[start:start + g] = act_rng.permutation(g)
                start += g
        self.active = np.zeros(U, dtype=bool)

        mob = cfg.mobility
        lo = np.array([(s.speed_mps or mob.speed_mps)[0] for s in cfg.slices])[self.ue_slice]
        hi = np.array([(s.speed_mps or mob.speed_mps)[1] for s in cfg.slices])[self.ue_slice]
        self.mobility = Mobility(mob, cells.cell_centre_xy[self.ue_home], lo, hi, emu.graph.graph["area"],
                                 emu.streams.get("ran.mobility"))
        self.radio = RadioModel(sc.radio, emu.graph, emu.streams, self.tti)
        self.radio.update(self.mobility.xy)
        self.traffic = TrafficSource(cfg.slices, self.ue_slice, emu.streams.get("ran.traffic"))
        self.masks = [MaskSeries(s.mask, emu.streams.get(f"ran.mask.{s.name}"), cfg.mask_step) for s in cfg.slices]
        sch = cfg.scheduler
        self.engine = RanEngine(
            C, N, self.ue_slice, num_prbs=sc.radio.num_prbs, tti_s=self.tti, link=self.radio.link,
            prb_bandwidth_hz=sc.radio.prb_bandwidth_hz, noise_w=self.radio.noise_w, discipline=sch.discipline,
            work_conserving=sch.sharing == "work_conserving", pf_time_constant_ttis=sch.pf_time_constant_ttis,
            queue_packets=sch.queue_packets, cqi_period_ttis=sch.cqi_period_ttis,
        )
        self.engine.set_radio(self.radio.rx_w, self.radio.serving)
        # Load the compiled kernel now (~12 ms on its first call) rather than in the first TTI,
        # which in real time would start the run that late; zero TTIs change no state.
        self.engine.run(0)
        self.points = [SlicePartitionPoint(self, k, N, cfg.decision_period_s, cfg.share_tolerance) for k in range(C)]

        self.mask_now = np.zeros(N)
        self.mask_log: list[tuple[float, np.ndarray]] = []
        self._mask_step = 0
        self._user_ttis = np.zeros((C, N))
        self._mask_ttis = np.zeros(N)
        self.period_mask = np.zeros(N)
        self._period_ttis = 0
        self._arrivals_until = 0
        self.step = 0
        self._episode_step = 0
        self._first_episode = emu.episode
        # Last period's results, read by the control points.
        self.kpis: dict[str, np.ndarray] = {}
        self.sat = np.ones((C, N))
        self.rewards = np.ones(C)
        self.obs = np.zeros((C, 4 * N), dtype=np.float32)
        self.nbr_load = np.zeros((C, N))
        self.demand = np.zeros((C, N))
        self._info_rows: dict[str, list[list[float]]] | None = None
        # The trace's (cell, slice, slice name) key columns: the same every period.
        sl = np.tile(np.arange(N), C)
        self._row_keys = (np.repeat(np.arange(C), N), sl, np.array(self.slice_names)[sl])
        self.totals = {"steps": 0, "throughput": np.zeros(N), "thr_n": np.zeros(N), "delay": np.zeros(N),
                       "delay_n": np.zeros(N), "sat": np.zeros(N), "load": np.zeros(N), "users": np.zeros(N),
                       "reward": np.zeros(C), "drops": np.zeros(N), "packets": np.zeros(N)}
        self.profile = {"kernel": 0.0, "arrivals": 0.0, "mobility_radio": 0.0, "masks": 0.0, "decision": 0.0}
        self._wake: dict[str, Any] = {}
        self._done: dict[str, Any] = {}
        self._apply_mask(0)

    # -- control-point interface ------------------------------------------------------------------
    def observation(self, cell: int) -> np.ndarray:
        return self.obs[cell].copy()

    def reward(self, cell: int) -> float:
        return float(self.rewards[cell])

    def set_shares(self, cell: int, shares: np.ndarray) -> None:
        self.engine.set_shares(cell, shares)

    def _period_rows(self) -> dict[str, list[list[float]]]:
        """The period's per-cell info rows as lists, converted once per period for all cells
        (12 cells × 11 small tolist() calls cost more than 11 calls on the whole arrays)."""
        rows = self._info_rows
        if rows is None:
            nan_rows = [[float("nan")] * self.N] * self.C
            zero_rows = [[0.0] * self.N] * self.C
            k = self.kpis
            rows = self._info_rows = {
                "throughput_bps": k["throughput_bps"].tolist() if k else nan_rows,
                "delay_s": k["delay_s"].tolist() if k else nan_rows,
                "load": k["load"].tolist() if k else zero_rows,
                "active_users": k["active_users"].tolist() if k else zero_rows,
                "neighbour_load": self.nbr_load.tolist(),
                "satisfaction": self.sat.tolist(),
                "demand_bps": self.demand.tolist(),
                "req_throughput_bps": self.req_thr.tolist(),
                "req_delay_s": self.req_delay.tolist(),
            }
        return rows

    def cell_info(self, cell: int) -> dict[str, Any]:
        info: dict[str, Any] = {"cell": cell, "slices": list(self.slice_names)}
        for name, rows in self._period_rows().items():
            info[name] = list(rows[cell])  # a list of the caller's own
        # Shares change as actions apply within the period, so they are read now.
        info["shares"] = self.engine.shares[cell].tolist()
        info["budget_prbs"] = self.engine.budgets[cell].tolist()
        return info

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        env = self.emu.env
        for cp in self.points:
            self.emu.add_control_point(cp)
        for kind in ("mask", "mobility", "decision"):
            self._wake[kind] = env.event()
        env.process(self._tti_driver())
        env.process(self._mask_process())
        env.process(self._mobility_process())
        env.process(self._decision_process())

    def reset_episode(self) -> None:
        self.engine.clear_queues()
        self.engine.take_accumulators()
        self._user_ttis[:] = 0.0
        self._mask_ttis[:] = 0.0
        self._period_ttis = 0
        self._episode_step = 0

    # -- the clock -------------------------------------------------------------------------------------
    def _due(self, k: int) -> list[str]:
        due = []
        if k % self.mask_ttis == 0:
            due.append("mask")
        if not self.static and k % self.mob_ttis == 0:
            due.append("mobility")
        if k % self.dec_ttis == 0:
            due.append("decision")
        return due

    def _next_boundary(self, k: int) -> int:
        if self.emu.tti_by_tti:
            # Paced to the wall clock, each TTI is computed at its own time (not a stretch of TTIs
            # ahead of it), so what an external controller sees matches the clock it keeps up with.
            return k + 1
        periods = [self.mask_ttis, self.dec_ttis, self.mob_ttis, ARRIVAL_SEGMENT_TTIS]
        return min((k // p + 1) * p for p in periods)

    def _fire(self, kind: str):
        """Wake the process of `kind` for this boundary; returns the event it triggers when done."""
        env = self.emu.env
        wake = self._wake[kind]
        self._wake[kind] = env.event()
        self._done[kind] = env.event()
        wake.succeed()
        return self._done[kind]

    def _tti_driver(self):
        env = self.emu.env
        eng = self.engine
        while True:
            k = eng.k
            k_next = self._next_boundary(k)
            self._run_window(k_next - k)
            yield env.timeout(max(0.0, k_next * self.tti - env.now))
            for kind in self._due(k_next):
                yield self._fire(kind)

    def _run_window(self, n: int) -> None:
        eng = self.engine
        c0 = time.perf_counter()
        if eng.k >= self._arrivals_until:
            # The active set only changes at mask steps, so arrivals are drawn for the whole stretch
            # up to the next mask step (at most a segment) in one vectorised batch.
            k = eng.k
            end = min((k // self.mask_ttis + 1) * self.mask_ttis, (k // ARRIVAL_SEGMENT_TTIS + 1) * ARRIVAL_SEGMENT_TTIS)
            eng.add_arrivals(*self.traffic.arrivals(k, end, self.tti, self.active))
            self._arrivals_until = end
        key = eng.serving[self.active] * self.N + self.ue_slice[self.active]
        self._user_ttis += n * np.bincount(key, minlength=self.C * self.N).reshape(self.C, self.N)
        self._mask_ttis += n * self.mask_now
        self._period_ttis += n
        c1 = time.perf_counter()
        eng.run(n)
        c2 = time.perf_counter()
        self.profile["arrivals"] += c1 - c0
        self.profile["kernel"] += c2 - c1

    # -- masks ------------------------------------------------------------------------------------------
    def _apply_mask(self, j: int) -> None:
        now = j * self.mask_ttis * self.tti
        self.mask_now = np.array([m.value(j) for m in self.masks])
        self.mask_log.append((now, self.mask_now.copy()))
        counts = np.array([active_count(self.mask_now[s], int(self.group_size[s])) for s in range(self.N)])
        new_active = self.ue_rank < counts[self.ue_slice]
        started = np.flatnonzero(new_active & ~self.active)
        self.active = new_active
        self.traffic.activate(started, now)
        self.engine.set_full_buffer(self.active & self.traffic.full_buffer_slice[self.ue_slice])

    def _mask_process(self):
        while True:
            yield self._wake["mask"]
            c0 = time.perf_counter()
            self._mask_step += 1
            self._apply_mask(self._mask_step)
            self.profile["masks"] += time.perf_counter() - c0
            self._done["mask"].succeed()

    # -- mobility -------------------------------------------------------------------------------------
    def _mobility_process(self):
        dt = self.mob_ttis * self.tti
        while True:
            yield self._wake["mobility"]
            c0 = time.perf_counter()
            self.mobility.advance(dt)
            self.radio.update(self.mobility.xy, dt)
            self.engine.set_radio(self.radio.rx_w, self.radio.serving)
            self.profile["mobility_radio"] += time.perf_counter() - c0
            self._done["mobility"].succeed()

    # -- decisions ---------------------------------------------------------------------------------------
    def _close_period(self, now: float) -> None:
        """KPIs of the period just ended, reward, observations and the demand for the next period."""
        eng = self.engine
        acc = eng.take_accumulators()
        n = max(self._period_ttis, 1)
        k = period_kpis(acc, self._user_ttis, n, self.tti, eng.num_prbs, eng.head_of_line_age(now))
        self.period_mask = self._mask_ttis / n
        self._user_ttis[:] = 0.0
        self._mask_ttis[:] = 0.0
        self._period_ttis = 0
        self.kpis = k
        self.sat = satisfaction(k["throughput_bps"], k["delay_s"], self.req_thr, self.req_delay)
        self.rewards = cell_reward(self.sat)
        self.nbr_load = neighbour_load(k["load"], self.neighbours)
        self.obs = observations(k["throughput_bps"], k["load"], k["active_users"], self.nbr_load, self.req_thr,
                                self.group_size)
        # Perfect-knowledge demand of the next period: the active UEs each cell serves now × their mean
        # rate (full-buffer UEs count with their slice's throughput requirement).
        rate = self.traffic.mean_rate_bps()
        rate = np.where(np.isnan(rate), self.req_thr[eng.serving, self.ue_slice], rate)
        key = eng.serving[self.active] * self.N + self.ue_slice[self.active]
        self.demand = np.bincount(key, weights=rate[self.active], minlength=self.C * self.N).reshape(self.C, self.N)
        self._info_rows = None

    def _record(self, step: int, now: float) -> None:
        k, N = self.kpis, self.N
        cell, sl, slice_name = self._row_keys
        self.emu.traces.table("ran").append(
            step=step, episode=self.emu.episode, time=now, cell=cell, slice=sl,
            slice_name=slice_name,
            throughput_bps=k["throughput_bps"].ravel(), delay_s=k["delay_s"].ravel(), load=k["load"].ravel(),
            active_users=k["active_users"].ravel(), offered_bps=k["offered_bps"].ravel(),
            prb_alloc=k["prb_alloc"].ravel(), packets=k["packets"].ravel(), drops=k["drops"].ravel(),
            req_throughput_bps=self.req_thr.ravel(), req_delay_s=self.req_delay.ravel(),
            satisfaction=self.sat.ravel(), reward=np.repeat(self.rewards, N),
            share=self.engine.shares.ravel(), budget_prbs=self.engine.budgets.ravel(),
            demand_next_bps=self.demand.ravel(), mask=self.period_mask[sl],
        )
        if self.emu.telemetry:  # no sink, no payload to build
            self.emu.publish("ran.kpi", {
                "step": step, "time": now, "slices": list(self.slice_names),
                "throughput_bps": k["throughput_bps"].tolist(), "delay_s": k["delay_s"].tolist(),
                "load": k["load"].tolist(), "active_users": k["active_users"].tolist(),
                "satisfaction": self.sat.tolist(), "reward": self.rewards.tolist(), "mask": self.period_mask.tolist(),
            })
        t = self.totals
        t["steps"] += 1
        thr = k["throughput_bps"]
        ok = ~np.isnan(thr)
        t["throughput"] += np.where(ok, thr, 0.0).sum(axis=0)
        t["thr_n"] += ok.sum(axis=0)
        dly = k["delay_s"]
        ok = ~np.isnan(dly)
        t["delay"] += np.where(ok, dly, 0.0).sum(axis=0)
        t["delay_n"] += ok.sum(axis=0)
        t["sat"] += self.sat.mean(axis=0)
        t["load"] += k["load"].mean(axis=0)
        t["users"] += k["active_users"].sum(axis=0)
        t["reward"] += self.rewards
        t["drops"] += k["drops"].sum(axis=0)
        t["packets"] += k["packets"].sum(axis=0)

    def _decision_process(self):
        emu = self.emu
        while True:
            yield self._wake["decision"]
            c0 = time.perf_counter()
            now = self.engine.k * self.tti
            self._close_period(now)
            step = self.step
            steps = emu.scenario.episode_steps
            last = steps is not None and self._episode_step + 1 == steps
            self._record(step, now)
            inds = [cp.indication(step, now, truncated=last) for cp in self.points]
            self.profile["decision"] += time.perf_counter() - c0
            yield emu.decision(inds)
            emu.end_of_step(step)
            self.step += 1
            self._episode_step += 1
            if last:
                emu.new_episode()
            self._done["decision"].succeed()

    # -- results ------------------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        t = self.totals
        steps = max(t["steps"], 1)
        rows = []
        for s, name in enumerate(self.slice_names):
            rows.append({
                "slice": name,
                # SI units, as in the traces (bit/s, s): one convention across summary.json and traces.
                "throughput_bps": t["throughput"][s] / max(t["thr_n"][s], 1) if t["thr_n"][s] else float("nan"),
                "delay_s": t["delay"][s] / max(t["delay_n"][s], 1) if t["delay_n"][s] else float("nan"),
                "satisfaction": t["sat"][s] / steps,
                "load": t["load"][s] / steps,
                "active_ues_total": t["users"][s] / steps,
                "packets": int(t["packets"][s]),
                "drops": int(t["drops"][s]),
            })
        return {
            "steps": int(t["steps"]),
            "mean_reward": float(t["reward"].mean() / steps) if t["steps"] else float("nan"),
            "slices": rows,
            "cells": [{"cell": c, "mean_reward": float(t["reward"][c] / steps)} for c in range(self.C)],
            "handovers": int(self.radio.handovers),
            "profile_s": {k: round(v, 3) for k, v in self.profile.items()},
        }

    def trace_frame(self):
        """This world's rows of the `ran` trace (earlier worlds of a reset emulation left out)."""
        df = self.emu.traces.table("ran").to_pandas()
        if len(df) and "episode" in df:
            df = df[df["episode"] >= self._first_episode]
        return df

    def report(self, run_dir: Path) -> list[Path]:
        from emulator.ran.report import write_report

        return write_report(self.trace_frame(), self.mask_log, self.slice_names, run_dir)


def build(emu: Emulation) -> RanSubsystem:
    return RanSubsystem(emu)
