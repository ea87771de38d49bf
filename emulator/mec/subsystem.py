"""The MEC subsystem: decision epochs, task arrivals and execution, control points, traces and KPIs."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from emulator.emulation import Emulation, Subsystem
from emulator.errors import ConfigError, RanemuError
from emulator.mec import physics
from emulator.mec.allocation import Batch, load_resource_manager
from emulator.mec.execution import CAPACITY_RTOL, BatchRecord, Executor
from emulator.mec.objective import max_vote, search_space
from emulator.mec.points import OBS_HIGH, OBS_LOW, CoreAssignmentPoint, ServerOffloadingPoint
from emulator.mec.world import Gains, build_geometry, draw, draw_gains, place_devices, too_close
from topology.query import mec_servers

log = logging.getLogger("ranemu.mec")


def _db(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.clip(10.0 * np.log10(x), OBS_LOW, OBS_HIGH)


class MecSubsystem(Subsystem):
    """IoT devices offloading tasks to MEC servers (the system of the MEC paper, section III).

    Each decision epoch: new block-fading gains; the epoch's tasks (one per device, or the Poisson
    arrivals since the last epoch); indications to the control points; the assignment (max vote of
    the server scores, or the core's vector); the resource manager's CPU shares and powers; then the
    tasks run as SimPy processes (upload, backhaul, server CPU or device CPU). A batch's realised
    objective Φ is written when its last task finishes and is the reward (1/Φ) of the next
    indication.
    """

    name = "mec"

    def __init__(self, emu: Emulation):
        self.emu = emu
        self.cfg = cfg = emu.scenario.mec
        src = f"scenario {emu.scenario.name!r}"
        G = emu.graph
        self.server_ids = mec_servers(G)
        if not self.server_ids:
            raise ConfigError(src, "topology.mec.servers", "the MEC scenario needs at least one MEC server")
        self.num_servers = m = len(self.server_ids)
        self.num_devices = n = cfg.num_devices
        try:
            self.server_cpu_hz = np.array(cfg.server_capacity(m))
        except ValueError as exc:
            raise ConfigError(src, "mec.server_cpu_hz", str(exc)) from None
        try:
            self.rm = load_resource_manager(cfg.resource_manager)
        except ValueError as exc:
            raise ConfigError(src, "mec.resource_manager", str(exc)) from None

        ch = cfg.channel
        self.area = tuple(G.graph["area"])
        servers_xy = np.array([G.nodes[s]["pos"] for s in self.server_ids], dtype=float).reshape(-1, 2)
        sites_xy = np.array([d["pos"] for _, d in G.nodes(data=True) if d["kind"] == "site"], dtype=float).reshape(-1, 2)
        receivers = np.concatenate([sites_xy, servers_xy])
        if cfg.devices.positions is not None:
            xy = np.array(cfg.devices.positions, dtype=float).reshape(-1, 2)
            close = too_close(xy, receivers, ch.ref_distance_m)
            if close.any():
                i = int(np.argmax(close))
                raise ConfigError(src, f"mec.devices.positions[{i}]",
                                  f"closer than ref_distance_m = {ch.ref_distance_m:g} m to a site or server")
        else:
            try:
                xy = place_devices(emu.streams.get("mec.placement"), n, self.area, receivers, ch.ref_distance_m)
            except ValueError as exc:
                raise ConfigError(src, "mec.num_devices", str(exc)) from None
        self.geo = build_geometry(G, xy, ch)

        self.local_cpu_hz = np.full(n, cfg.devices.local_cpu_hz)
        self.rng_fading = emu.streams.get("mec.fading")
        self.rng_tasks = emu.streams.get("mec.tasks")
        self.rng_arrivals = emu.streams.get("mec.arrivals")
        self.rng_policy = emu.streams.get("mec.policy")
        self.executor = Executor(emu.env, n, self.server_cpu_hz)

        if cfg.control == "servers":
            self.points = [ServerOffloadingPoint(self, j) for j in range(m)]
        else:
            self.points = [CoreAssignmentPoint(self)]
        kind = self.points[0].kind
        self.policy_name = emu.scenario.agents.policies.get(kind, "default")
        if self.policy_name == "optimal" and cfg.tasks.arrival == "epoch":
            space = search_space(n, m)
            if space > cfg.optimal_max_evals:
                raise ConfigError(src, f"agents.policies.{kind}",
                                  f"optimal needs an exhaustive search over (M+1)^N = {m + 1}^{n} = {float(space):.3g} "
                                  f"assignments, above mec.optimal_max_evals = {cfg.optimal_max_evals:g}")

        # Poisson arrivals wait here (device, arrival time, cycles, bits) until the next epoch.
        self._pending: list[tuple[int, float, float, float]] = []
        self.step = 0
        self.episode_start_step = 0
        self.reward = 0.0
        self.reward_step = -1
        # Realised Φ and per-task mean T and E of the batch at reward_step (None before the first).
        self.reward_batch: dict[str, float | None] = {"objective": None, "mean_time_s": None, "mean_energy_j": None}
        self._epoch: dict[str, Any] = {}
        self.last_assignment = np.zeros(n, dtype=np.int64)
        self.last_done: BatchRecord | None = None
        self.in_flight: dict[int, BatchRecord] = {}
        self._done: list[dict[str, float]] = []
        self._tasks_done = {"tasks": 0, "offloaded": 0, "time_s": 0.0, "energy_j": 0.0, "queued": 0}

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        for cp in self.points:
            self.emu.add_control_point(cp)
        self.emu.env.process(self._epochs())
        if self.cfg.tasks.arrival == "poisson":
            self.emu.env.process(self._arrivals())

    def reset_episode(self) -> None:
        # The world runs on (tasks in flight finish, queues persist); only the bookkeeping of
        # which steps belong to which episode changes, and that lives in emu.episode.
        self.episode_start_step = self.step

    # -- processes -----------------------------------------------------------------------------
    def _arrivals(self):
        env, cfg = self.emu.env, self.cfg
        total_rate = self.num_devices * cfg.tasks.rate_hz
        while True:
            yield env.timeout(self.rng_arrivals.exponential(1.0 / total_rate))
            dev = int(self.rng_arrivals.integers(self.num_devices))
            c = float(draw(cfg.tasks.cycles, self.rng_tasks, 1)[0])
            b = float(draw(cfg.tasks.data_bits, self.rng_tasks, 1)[0])
            self._pending.append((dev, env.now, c, b))

    def _epochs(self):
        env, emu = self.emu.env, self.emu
        episode_steps = emu.scenario.episode_steps
        while True:
            step = self.step
            last = episode_steps is not None and (step + 1) % episode_steps == 0
            self._prepare_epoch()
            inds = [cp.indication(step, env.now, truncated=last) for cp in self.points]
            yield emu.decision(inds)
            a = self._assignment()
            rec = self._plan(a)
            self.in_flight[step] = rec
            self.executor.launch(rec, self._batch_done)
            self.last_assignment = a
            emu.publish("mec.kpi", self._kpi(rec))
            emu.end_of_step(step)
            self.step += 1
            if last:
                emu.new_episode()
            yield env.timeout(self.cfg.decision_period_s)

    # -- one epoch -----------------------------------------------------------------------------
    def _prepare_epoch(self) -> None:
        """Draw the epoch's gains and tasks and compute everything observations and baselines need."""
        cfg, n, m = self.cfg, self.num_devices, self.num_servers
        now = self.emu.env.now
        gains: Gains = draw_gains(self.rng_fading, self.geo, cfg.channel)
        if cfg.tasks.arrival == "epoch":
            device = np.arange(n)
            cycles = draw(cfg.tasks.cycles, self.rng_tasks, n)
            bits = draw(cfg.tasks.data_bits, self.rng_tasks, n)
            arrival = np.full(n, now)
        else:
            pend, self._pending = self._pending, []
            device = np.array([p[0] for p in pend], dtype=np.int64)
            arrival = np.array([p[1] for p in pend], dtype=float)
            cycles = np.array([p[2] for p in pend], dtype=float)
            bits = np.array([p[3] for p in pend], dtype=float)
        tasks = np.bincount(device, minlength=n)
        dev_cycles = np.bincount(device, weights=cycles, minlength=n)
        dev_bits = np.bincount(device, weights=bits, minlength=n)
        dev_sqrt = np.bincount(device, weights=np.sqrt(cycles), minlength=n)

        ch, dv = cfg.channel, cfg.devices
        snr = gains.link / ch.noise_w  # (N, M) per watt
        power = np.asarray(self.rm.tx_power(snr, cfg.phi_t, cfg.phi_e, dv.tx_power_max_w), dtype=float)
        rate = physics.uplink_rate(ch.bandwidth_hz, power, gains.link, ch.noise_w)
        up_t = dev_bits[:, None] / rate
        bh_t = tasks[:, None] * self.geo.bh_latency_s + dev_bits[:, None] / self.geo.bh_capacity_bps
        offload_cost = cfg.phi_t * (up_t + bh_t) + cfg.phi_e * power * up_t
        local_cost = physics.weighted_cost(
            physics.local_time(dev_cycles, self.local_cpu_hz),
            physics.local_energy(dev_cycles, self.local_cpu_hz, dv.kappa, dv.nu),
            cfg.phi_t, cfg.phi_e,
        )
        self._epoch = dict(
            gains=gains, device=device, cycles=cycles, bits=bits, arrival=arrival, snr=snr, power=power,
            rate=rate, tasks=tasks, dev_cycles=dev_cycles, dev_bits=dev_bits,
        )
        self._info = {
            "num_servers": m,
            "tasks": tasks.tolist(),
            "cycles": dev_cycles.tolist(),
            "bits": dev_bits.tolist(),
            "sqrt_cycles": dev_sqrt.tolist(),
            "local_cpu_hz": self.local_cpu_hz.tolist(),
            "server_cpu_hz": self.server_cpu_hz.tolist(),
            "distance_m": self.geo.d_server.tolist(),
            "local_cost": local_cost.tolist(),
            "offload_cost": offload_cost.tolist(),
            "phi_t": cfg.phi_t,
            "phi_e": cfg.phi_e,
            "exec_model": self.rm.exec_model,
            "optimal_max_evals": cfg.optimal_max_evals,
            "policy_seed": int(self.rng_policy.integers(2**63)),
            "reward_step": self.reward_step,
            "reward_objective": self.reward_batch["objective"],
            "reward_mean_time_s": self.reward_batch["mean_time_s"],
            "reward_mean_energy_j": self.reward_batch["mean_energy_j"],
        }
        self._obs_cols = dict(
            gain_db=_db(gains.server), link_gain_db=_db(gains.link), backhaul_ms=self.geo.bh_latency_s * 1e3,
            data_mbit=dev_bits / 1e6, cycles_g=dev_cycles / 1e9,
        )

    def server_observation(self, j: int) -> np.ndarray:
        c = self._obs_cols
        cols = [c["gain_db"][:, j], c["link_gain_db"][:, j], c["backhaul_ms"][:, j], c["data_mbit"], c["cycles_g"]]
        return np.clip(np.column_stack(cols), OBS_LOW, OBS_HIGH).astype(np.float32)

    def core_observation(self) -> np.ndarray:
        c = self._obs_cols
        cols = [c["gain_db"], c["link_gain_db"], c["backhaul_ms"], c["data_mbit"][:, None], c["cycles_g"][:, None]]
        return np.clip(np.concatenate(cols, axis=1), OBS_LOW, OBS_HIGH).astype(np.float32)

    def info(self, server: int | None) -> dict[str, Any]:
        out = dict(self._info)
        if server is not None:
            out["server"] = server
        return out

    def _assignment(self) -> np.ndarray:
        if self.cfg.control == "servers":
            scores = np.stack([cp.current_action for cp in self.points])
            return max_vote(scores)
        return np.round(self.points[0].current_action).astype(np.int64)

    def _plan(self, a: np.ndarray) -> BatchRecord:
        """The batch's allocation and per-task plan for assignment `a` (one entry per device)."""
        cfg, ep = self.cfg, self._epoch
        dv, ch = cfg.devices, cfg.channel
        device = ep["device"]
        target = a[device].astype(np.int64)
        off = target > 0
        col = np.maximum(target - 1, 0)
        snr_task = np.where(off, ep["snr"][device, col], np.nan)
        batch = Batch(device, target, ep["cycles"], ep["bits"], snr_task, self.server_cpu_hz, dv.tx_power_max_w,
                      cfg.phi_t, cfg.phi_e)
        alloc = self.rm.allocate(batch)
        self._check_allocation(batch, alloc)
        cpu = np.where(off, alloc.cpu_hz, self.local_cpu_hz[device])
        power = np.where(off, alloc.tx_power_w, 0.0)
        with np.errstate(invalid="ignore"):
            rate = np.where(off, physics.uplink_rate(ch.bandwidth_hz, power, snr_task * ch.noise_w,
                                                     ch.noise_w), np.nan)
        bh_lat = np.where(off, self.geo.bh_latency_s[device, col], 0.0)
        bh_cap = np.where(off, self.geo.bh_capacity_bps[device, col], np.inf)
        backhaul = np.where(off, physics.backhaul_time(ep["bits"], bh_lat, bh_cap), 0.0)
        hops = np.where(off, self.geo.bh_hops[device, col], 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            up_t = np.where(off, physics.transfer_time(ep["bits"], rate), 0.0)
        energy = np.where(off, power * up_t,
                          physics.local_energy(ep["cycles"], self.local_cpu_hz[device], dv.kappa, dv.nu))
        predicted = up_t + backhaul + ep["cycles"] / cpu
        return BatchRecord(self.step, self.emu.episode, self.emu.env.now, device, target, ep["cycles"], ep["bits"],
                           ep["arrival"], rate, power, cpu, backhaul, hops, energy, predicted)

    def _check_allocation(self, batch: Batch, alloc) -> None:
        """A pluggable manager must respect Σ f ≤ F_max per server and 0 < p ≤ P_max."""
        off = batch.target > 0
        cpu = np.asarray(alloc.cpu_hz, dtype=float)
        p = np.asarray(alloc.tx_power_w, dtype=float)
        if cpu.shape != batch.target.shape or p.shape != batch.target.shape:
            raise RanemuError(f"resource manager {self.rm.name}: allocation shapes {cpu.shape}, {p.shape}, expected {batch.target.shape}")
        for j, cap in enumerate(self.server_cpu_hz):
            on = batch.target == j + 1
            if on.any() and (not np.all(cpu[on] > 0) or cpu[on].sum() > cap * (1 + CAPACITY_RTOL)):
                raise RanemuError(f"resource manager {self.rm.name}: CPU shares on server {j} are not positive or exceed F_max = {cap:g}")
        if off.any() and not np.all((p[off] > 0) & (p[off] <= batch.p_max * (1 + 1e-12))):
            raise RanemuError(f"resource manager {self.rm.name}: transmit powers must lie in (0, {batch.p_max:g}] W")

    # -- completion, traces, KPIs ----------------------------------------------------------------
    def _batch_done(self, rec: BatchRecord) -> None:
        self.in_flight.pop(rec.step, None)
        if rec.size == 0:
            return
        cfg = self.cfg
        t = rec.time_s
        phi_task = physics.weighted_cost(t, rec.energy_j, cfg.phi_t, cfg.phi_e)
        objective = float(phi_task.sum())
        predicted = float(physics.weighted_cost(rec.predicted_s, rec.energy_j, cfg.phi_t, cfg.phi_e).sum())
        off = rec.target > 0
        queued = (rec.queue_s > 0) | (rec.wait_s > 0)
        self.emu.traces.table("mec_tasks").append(
            step=np.full(rec.size, rec.step), episode=np.full(rec.size, rec.episode), device=rec.device,
            target=rec.target, arrival_s=rec.arrival, done_s=rec.done_at, cycles=rec.cycles, bits=rec.bits,
            rate_bps=rec.rate_bps, tx_power_w=rec.tx_power_w, cpu_hz=rec.cpu_hz, hops=rec.hops,
            wait_s=rec.wait_s, upload_s=rec.upload_s, backhaul_s=rec.backhaul_s, queue_s=rec.queue_s,
            exec_s=rec.exec_s, time_s=t, energy_j=rec.energy_j, predicted_time_s=rec.predicted_s, cost=phi_task,
        )
        row = {
            "step": rec.step, "episode": rec.episode, "decided_s": rec.t_decision, "done_s": float(np.max(rec.done_at)),
            "tasks": rec.size, "offloaded": int(off.sum()), "objective": objective, "predicted_objective": predicted,
            "mean_time_s": float(t.mean()), "mean_energy_j": float(rec.energy_j.mean()),
            "max_queue_s": float(rec.queue_s.max()), "queued_tasks": int(queued.sum()),
        }
        self.emu.traces.table("mec").append(**row)
        self._done.append(row)
        acc = self._tasks_done
        acc["tasks"] += rec.size
        acc["offloaded"] += int(off.sum())
        acc["time_s"] += float(t.sum())
        acc["energy_j"] += float(rec.energy_j.sum())
        acc["queued"] += int(queued.sum())
        if objective > 0:
            self.reward = 1.0 / objective  # paper V-C(3): the reward is the reciprocal of the objective
            self.reward_step = rec.step
            self.reward_batch = {"objective": objective, "mean_time_s": row["mean_time_s"],
                                 "mean_energy_j": row["mean_energy_j"]}
        self.last_done = rec

    def _kpi(self, rec: BatchRecord) -> dict[str, Any]:
        last = self._done[-1] if self._done else None
        return {
            "step": rec.step,
            "time": self.emu.env.now,
            "tasks": rec.size,
            "offloaded": int((rec.target > 0).sum()),
            "predicted_objective": float(physics.weighted_cost(rec.predicted_s, rec.energy_j, self.cfg.phi_t,
                                                               self.cfg.phi_e).sum()),
            "last_objective": None if last is None else last["objective"],
            "reward": self.reward,
            "cpu_allocated_share": [p.allocated / p.capacity for p in self.executor.servers],
            "cpu_queue": [p.queue_length for p in self.executor.servers],
        }

    def summary(self) -> dict[str, Any]:
        done = self._done
        acc = self._tasks_done
        pools = self.executor.servers
        obj = np.array([r["objective"] for r in done]) if done else np.zeros(0)
        return {
            "policy": self.policy_name,
            "control": self.cfg.control,
            "resource_manager": self.rm.name,
            "devices": self.num_devices,
            "servers": self.num_servers,
            "batches": len(done),
            "incomplete_batches": len(self.in_flight),
            "tasks": acc["tasks"],
            "objective": float(obj.mean()) if obj.size else float("nan"),
            "objective_std": float(obj.std()) if obj.size else float("nan"),
            "predicted_objective": float(np.mean([r["predicted_objective"] for r in done])) if done else float("nan"),
            "reward": float(np.mean(1.0 / obj[obj > 0])) if obj.size else float("nan"),
            "mean_time_s": acc["time_s"] / acc["tasks"] if acc["tasks"] else float("nan"),
            "mean_energy_j": acc["energy_j"] / acc["tasks"] if acc["tasks"] else float("nan"),
            "share_offloaded": acc["offloaded"] / acc["tasks"] if acc["tasks"] else float("nan"),
            "queued_tasks": acc["queued"],
            "peak_cpu_share": max(p.peak / p.capacity for p in pools),
            "mean_cpu_utilisation": float(np.mean([p.utilisation() for p in pools])),
        }

    def report(self, run_dir: Path) -> list[Path]:
        from emulator.mec.report import write_report

        return write_report(self, run_dir)


def build(emu: Emulation) -> MecSubsystem:
    return MecSubsystem(emu)
