"""The Emulation: one SimPy environment, random streams, topology, subsystems and decision rounds."""
from __future__ import annotations

import importlib
import logging
import time
from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import simpy
import simpy.rt

from emulator.config import Scenario, dump_scenario
from emulator.control import ControlPoint, Indication
from emulator.decisions import AGENT, FALLBACK, INVALID, POLICY, DecisionRecorder
from emulator.errors import ActionError, ConfigError, RanemuError
from emulator.streams import RandomStreams
from emulator.traces import Traces

log = logging.getLogger("ranemu")

# Subsystems built when their scenario section is present: section -> "module:function(emu)".
SUBSYSTEMS = {"ran": "emulator.ran.subsystem:build", "mec": "emulator.mec.subsystem:build"}


def horizon_bound(horizon: float) -> float:
    """The last simulated time a run to `horizon` includes: events due at the horizon itself count,
    also when float sums of periods land a hair past it (20 × 0.1 s = 2.0000000000000004 s)."""
    return horizon + 1e-9 * max(1.0, abs(horizon))


class Subsystem(ABC):
    """A part of the world (RAN, MEC) that registers SimPy processes and control points."""

    name: str = "subsystem"

    @abstractmethod
    def start(self) -> None:
        """Register processes on `emu.env` and control points with `emu.add_control_point`."""

    def reset_episode(self) -> None:
        """Start a new episode inside the running emulation (never by restarting a process)."""

    def summary(self) -> dict[str, Any]:
        return {}

    def report(self, run_dir: Path) -> list[Path]:
        """Write report files (PNGs) into the run folder; return their paths."""
        return []


class ResetRequested(Exception):
    """Raised by a decider (e.g. the bridge, on an agent's RESET) to restart the world in place.

    `Emulation.run` catches it, calls `reset(seed)` and runs on from t = 0 to the horizon.
    """

    def __init__(self, seed: int | None = None):
        super().__init__(seed)  # args = (seed,): SimPy may rebuild the exception from its args
        self.seed = None if seed is None else int(seed)

    def __str__(self) -> str:
        return f"reset requested (seed={self.seed})"


class _Deferred:
    """A decider's answer for a point meaning "not yet": the decider itself applies the action, or
    the fallback, later (the real-time bridge, whose agents answer while the clock runs on)."""

    def __repr__(self) -> str:
        return "DEFERRED"


DEFERRED = _Deferred()
_NAN = float("nan")
_UNNAMED = (AGENT, "env", _NAN, _NAN)  # actions from a decider that does not say (pull mode: envs)


class Decider(Protocol):
    """Supplies actions at a decision epoch (in-process policies, or the ZeroMQ bridge).

    Optionally `provenance(cp) -> (source, name, response_ms, late_ms)` says where the action it
    returned for point `cp` in the last `decide` came from (a `decisions` trace row's columns);
    without it an action counts as source "agent", name "env"."""

    def decide(self, emu: "Emulation", indications: list[Indication]) -> dict[str, Any]:
        """Return {point name: action}; a missing point (or None) means fallback for that point."""


class PolicyDecider:
    """In-process decider: each point's built-in policy named by `agents.policies[kind]`."""

    def __init__(self, policies: dict[str, str] | None = None):
        self.policies = dict(policies or {})

    def decide(self, emu: "Emulation", indications: list[Indication]) -> dict[str, Any]:
        out = {}
        for ind in indications:
            cp = emu.control_points[ind.point]
            out[ind.point] = cp.policy(self.policies.get(cp.kind, "default"))(ind)
        return out

    def provenance(self, cp: ControlPoint) -> tuple[str, str, float, float]:
        return POLICY, self.policies.get(cp.kind, "default"), _NAN, _NAN


class LatenessMonitor:
    """Real-time mode: how late (wall clock) the emulation reached each tick of simulated time."""

    def __init__(self, env: simpy.rt.RealtimeEnvironment, period: float, factor: float):
        self.env, self.period, self.factor = env, period, factor
        self.samples: list[float] = []

    def process(self):
        while True:
            yield self.env.timeout(self.period)
            # The clock's own schedule (simpy.rt's origin), not this process's first wake-up: that
            # comes after every other t = 0 event and would hide that much lateness.
            due = self.env.real_start + (self.env.now - self.env.env_start) * self.factor
            self.samples.append(max(0.0, time.monotonic() - due))

    def stats(self) -> dict[str, float]:
        if not self.samples:
            return {"ticks": 0}
        s = np.asarray(self.samples) * 1e3
        return {
            "ticks": int(s.size),
            "p50_ms": float(np.percentile(s, 50)),
            "p99_ms": float(np.percentile(s, 99)),
            "max_ms": float(s.max()),
        }


def unique_dir(root: str | Path, name: str) -> Path:
    """A new folder `root/<name>-<timestamp>` (a numeric suffix keeps two in one second apart)."""
    root = Path(root)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = root / f"{name}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{name}-{stamp}-{n}"
    path.mkdir(parents=True)
    return path


def make_run_dir(scenario: Scenario, base: str | Path | None = None) -> Path:
    """`runs/<scenario>-<timestamp>/` for one run."""
    return unique_dir(base if base is not None else scenario.output.dir, scenario.name)


class Emulation:
    """Everything one run needs. Build from a validated Scenario; then `run()` (push mode) or
    drive it step by step with `advance()` / `submit()` (pull mode, used by in-process envs)."""

    def __init__(self, scenario: Scenario, run_dir: Path | None = None, decider: Decider | None = None,
                 pull: bool = False, subsystems: list[Callable[["Emulation"], Subsystem]] | None = None,
                 paced: bool = True):
        """`subsystems`: builders to use instead of the ones the scenario's sections select
        (how a user plugs a world of their own into the same clock, decisions and traces).
        `paced=False` runs a real-time scenario unpaced, as fast as it goes, with the same event
        structure (replay of a real-time run)."""
        self.run_dir = run_dir
        self.paced = paced
        # output.traces: false keeps rows in memory only (summaries and reports still read them)
        self.traces = Traces(run_dir if scenario.output.traces else None, scenario.output.flush_rows)
        # Every decision as it took effect (traces/decisions.parquet): what `ranemu replay` applies.
        self.decision_log = DecisionRecorder(
            run_dir / "traces" / "decisions.parquet" if run_dir is not None and scenario.output.traces else None,
            scenario.output.flush_rows)
        if run_dir is not None:
            (run_dir / "config.yaml").write_text(dump_scenario(scenario), encoding="utf-8")
            self._log_handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
            self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logging.getLogger("ranemu").addHandler(self._log_handler)
            logging.getLogger("ranemu").setLevel(logging.INFO)
        else:
            self._log_handler = None

        from topology.build import build_topology  # the topology layer sits below the emulator

        self.graph = build_topology(scenario.topology)
        self.decider: Decider | None = None if pull else (decider or PolicyDecider(scenario.agents.policies))
        self.fallback_mode = scenario.agents.fallback
        self.telemetry: list[Callable[[str, dict], None]] = []
        self.step_listeners: list[Callable[[int, float], None]] = []
        self.episode = 0
        if subsystems is None:
            subsystems = [
                getattr(importlib.import_module(target.split(":")[0]), target.split(":")[1])
                for section, target in SUBSYSTEMS.items()
                if getattr(scenario, section) is not None
            ]
        if not subsystems:
            raise RanemuError(f"scenario {scenario.name!r} has neither a `ran` nor a `mec` section: nothing to emulate")
        self._builders = list(subsystems)
        self.closed = False
        try:
            self._build_world(scenario)
        except BaseException:
            self._detach_log()
            raise

    def _build_world(self, scenario: Scenario) -> None:
        """Clock, random streams, subsystems and control points for `scenario` (its seed)."""
        self.scenario = scenario
        # tti_by_tti: the world steps TTI by TTI as in a real-time run (also when replayed unpaced).
        self.tti_by_tti = scenario.clock.mode == "realtime"
        self.realtime = self.tti_by_tti and self.paced
        if self.realtime:
            # simpy.rt factor = wall seconds per simulated second; strict=False: late steps are
            # measured, not fatal.
            self.env: simpy.Environment = simpy.rt.RealtimeEnvironment(
                factor=1.0 / scenario.clock.realtime_factor, strict=False
            )
        else:
            self.env = simpy.Environment()
        self.tti = scenario.clock.tti_ms * 1e-3
        self.streams = RandomStreams(scenario.seed)
        self.control_points: dict[str, ControlPoint] = {}
        self._pending: list[tuple[list[Indication], simpy.Event]] = []
        self.lateness = (
            LatenessMonitor(self.env, self.tti, 1.0 / scenario.clock.realtime_factor) if self.realtime else None
        )
        self.subsystems: list[Subsystem] = [build(self) for build in self._builders]
        for sub in self.subsystems:
            sub.start()
        self._check_policies()
        self._started = False

    def _check_policies(self) -> None:
        """`agents.policies` must name policies the points of that kind offer — found now, as a
        located config error, not at the first decision deep inside the clock. A kind with no
        point here is fine: one file may serve several control modes (e.g. mec.control)."""
        kinds: dict[str, ControlPoint] = {}
        for cp in self.control_points.values():
            kinds.setdefault(cp.kind, cp)
        for kind, name in self.scenario.agents.policies.items():
            where = f"agents.policies.{kind}"
            if kind in kinds and name not in kinds[kind].policies:
                # A plugin spec (package.module:factory?...) loads here, once per point.
                for cp in self.control_points.values():
                    if cp.kind == kind:
                        try:
                            cp.policy(name)
                        except ActionError as exc:
                            raise ConfigError(f"scenario {self.scenario.name!r}", where, exc.reason) from None

    def reset(self, seed: int | None = None) -> None:
        """Start over inside this process: a fresh world at t = 0 (optionally with a new seed).

        Traces, telemetry sinks, step listeners and the decider are kept; trace rows of the new
        world follow the old ones, with `episode` counting on. Used by envs' `reset(seed=)`,
        locally and over the wire — an emulator is never restarted as a process.
        """
        scenario = self.scenario if seed is None else self.scenario.model_copy(update={"seed": int(seed)})
        self.episode += 1
        self._build_world(scenario)

    # -- control points and decisions --------------------------------------------------------
    def add_control_point(self, cp: ControlPoint) -> None:
        if cp.name in self.control_points:
            raise ValueError(f"duplicate control point {cp.name!r}")
        self.control_points[cp.name] = cp

    def decision(self, indications: list[Indication]) -> simpy.Event:
        """Called by a subsystem process at a decision epoch; `yield` the returned event.

        Push mode: the decider answers now and the actions are applied before the event fires.
        Pull mode: the event stays pending until `submit()` supplies the actions.
        """
        log_ = self.decision_log
        log_.new_slot()
        log_.episode = self.episode
        for ind in indications:
            self.control_points[ind.point].counters["decisions"] += 1
            log_.indicated(ind.point, ind.step, ind.time)
        ev = self.env.event()
        if self.decider is None:
            self._pending.append((indications, ev))
            return ev
        actions = self.decider.decide(self, indications)
        self._apply_all(indications, actions)
        ev.succeed(actions)
        return ev

    def _apply_all(self, indications: list[Indication], actions: dict[str, Any]) -> dict[str, str]:
        """Apply each point's action, or its fallback; returns {point: reason} for rejected ones.
        Each outcome is a row of the decisions trace."""
        errors = {}
        record = self.decision_log.record
        provenance = getattr(self.decider, "provenance", None)
        now = self.env.now
        for ind in indications:
            cp = self.control_points[ind.point]
            action = actions.get(ind.point)
            if action is DEFERRED:
                continue
            if action is None:
                cp.fallback(self.fallback_mode)
                record(ind.point, ind.step, now, FALLBACK, self.fallback_mode, cp.current_action)
                continue
            source, name, response_ms, late_ms = provenance(cp) if provenance is not None else _UNNAMED
            try:
                arr = cp.apply(action)
            except ActionError as exc:
                errors[ind.point] = exc.reason
                record(ind.point, ind.step, now, INVALID, name, action, response_ms, late_ms)
                log.warning("rejected action for %s at step %d: %s", ind.point, ind.step, exc.reason)
                continue
            record(ind.point, ind.step, now, source, name, arr, response_ms, late_ms)
        return errors

    def pending(self) -> list[Indication]:
        return [ind for inds, _ in self._pending for ind in inds]

    def _horizon(self, until: float | None) -> float:
        return horizon_bound(self.scenario.duration if until is None else float(until))

    def advance(self, until: float | None = None) -> list[Indication]:
        """Pull mode: run until decisions are pending (returned) or the horizon is reached ([])."""
        horizon = self._horizon(until)
        self._start()
        while not self._pending:
            if self.env.peek() > horizon or self.env.peek() == float("inf"):
                if self.env.now < horizon:
                    self.env.run(until=horizon)
                return []
            self.env.step()
        return self.pending()

    def submit(self, actions: dict[str, Any]) -> dict[str, str]:
        """Pull mode: actions for every pending indication; returns {point: reason} for rejected ones."""
        errors: dict[str, str] = {}
        pending, self._pending = self._pending, []
        for inds, ev in pending:
            errors.update(self._apply_all(inds, actions))
            ev.succeed(actions)
        return errors

    def publish(self, topic: str, payload: dict) -> None:
        """Per-period KPIs for telemetry subscribers (the bridge's PUB socket, dashboards)."""
        for sink in self.telemetry:
            sink(topic, payload)

    def end_of_step(self, step: int) -> None:
        for fn in self.step_listeners:
            fn(step, self.env.now)

    def new_episode(self) -> None:
        self.episode += 1
        for sub in self.subsystems:
            sub.reset_episode()

    # -- running -------------------------------------------------------------------------------
    def _start(self) -> None:
        if not self._started:
            self._started = True
            if self.lateness is not None:
                # Pace from now, not from when the world was built: waiting for agents before the
                # run would otherwise be "caught up" unpaced, and the lateness measured against a
                # later origin than the clock's (always 0).
                self.env.sync()
                self.env.process(self.lateness.process())

    def run(self, until: float | None = None, progress: Callable[[float], None] | None = None,
            chunk: float | None = None) -> None:
        """Run to `until` (default: scenario duration). `progress(now)` is called every `chunk` s."""
        if self.decider is None:
            raise RuntimeError("run() needs a decider; in pull mode use advance()/submit()")
        horizon = self._horizon(until)
        self._start()
        if chunk is None:
            chunk = max(horizon / 200.0, self.tti)
        t = self.env.now
        while t < horizon:
            t = min(horizon, t + chunk)
            try:
                self.env.run(until=t)
            except ResetRequested as req:
                self.reset(req.seed)
                self._start()
                t = 0.0
            if progress is not None:
                progress(self.env.now)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scenario": self.scenario.name, "seed": self.scenario.seed,
                               "simulated_s": float(self.env.now)}
        for sub in self.subsystems:
            out[sub.name] = sub.summary()
        out["control_points"] = {name: dict(cp.counters) for name, cp in self.control_points.items()}
        if self.lateness is not None:
            out["realtime_lateness"] = self.lateness.stats()
        return out

    def close(self, report: bool | None = None) -> list[Path]:
        """Close traces and, with a run folder, write the report; safe to call twice."""
        if self.closed:
            return []
        self.closed = True
        self.traces.close()
        self.decision_log.close()
        files: list[Path] = []
        want = self.scenario.output.report if report is None else report
        if self.run_dir is not None and want:
            for sub in self.subsystems:
                files += sub.report(self.run_dir)
        self._detach_log()
        return files

    def _detach_log(self) -> None:
        if self._log_handler is not None:
            logging.getLogger("ranemu").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
