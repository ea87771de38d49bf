"""Composition of one run: emulation + (optional) agent bridge + progress, signals, summary, report."""
from __future__ import annotations

import json
import logging
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.config import MAX_DURATION_S, Scenario, located
from emulator.emulation import Emulation, make_run_dir
from emulator.errors import ConfigError, RanemuError

log = logging.getLogger("ranemu")


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    interrupted: bool = False
    wall_s: float = 0.0


class _StopRequested(KeyboardInterrupt):
    """Ctrl-C / SIGTERM arrived: raised between two events of the clock, never inside a model step."""


# After the first signal, a run that has not reached an event boundary within this many wall
# seconds (one event stuck: a lockstep wait on a long deadline, a huge kernel) is stopped where it is.
STOP_GRACE_S = 3.0


class _StopFlag:
    """SIGINT/SIGTERM handler of one run.

    First signal: stop at the next boundary between two events of the clock (an event is scheduled
    that raises; traces stay whole), or where the run is after STOP_GRACE_S (a SIGALRM watchdog),
    or at once while waiting for agents. A second one while running: stop at once. During
    shutdown (closing traces, writing summary.json and reports) further signals are logged and
    ignored, so the run folder is always completed; shutdown itself is bounded.
    """

    def __init__(self):
        self.requested = False
        self.shutting_down = False
        self.emu = None  # whose clock to stop at its next event (its env: a RESET builds a new one)
        self._alarm_prev = None

    def __call__(self, signum, frame):
        if self.shutting_down:
            log.warning("signal %d during shutdown: finishing the run folder first", signum)
            return
        if self.requested:
            raise KeyboardInterrupt()
        self.requested = True
        log.warning("signal %d: stopping at the next event boundary (again to stop at once)", signum)
        env = getattr(self.emu, "env", None)
        if env is not None:
            ev = env.event()
            ev.callbacks.append(_raise_stop)
            ev.succeed()  # runs after the events already due now; never inside one
        if hasattr(signal, "setitimer"):
            self._alarm_prev = signal.signal(signal.SIGALRM, self._watchdog)
            signal.setitimer(signal.ITIMER_REAL, STOP_GRACE_S)

    def _watchdog(self, signum, frame):
        if self.shutting_down:
            return
        log.warning("no event boundary within %g s of the stop signal: stopping where the run is", STOP_GRACE_S)
        raise _StopRequested()

    def check(self) -> None:
        if self.requested:
            raise _StopRequested()

    def shutdown(self) -> None:
        """From here on signals are ignored and the watchdog is off (run_scenario then restores the
        previous handlers once summary.json is written)."""
        self.shutting_down = True
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
            if self._alarm_prev is not None:
                signal.signal(signal.SIGALRM, self._alarm_prev)
                self._alarm_prev = None


def _raise_stop(event) -> None:
    raise _StopRequested()


# Simulated seconds between progress updates (and stop checks, besides the event-level one).
CHUNK_S = 0.5


def needs_bridge(scenario: Scenario, wait_agents: int) -> bool:
    return bool(scenario.agents.processes) or wait_agents > 0 or agents_to_wait_for(scenario) > 0


def agents_to_wait_for(scenario: Scenario) -> int:
    """agents.wait_agents, or by default one agent per started process (agents.processes)."""
    configured = scenario.agents.wait_agents
    return len(scenario.agents.processes) if configured is None else configured


def check_agents(emu: Emulation, scenario: Scenario) -> None:
    """Agent settings a run would trip over only once started: roles of the agent processes that are
    not control points of this world, CURVE key files that cannot be read. ConfigError naming the field."""
    points = emu.control_points
    for i, proc in enumerate(scenario.agents.processes):
        for j, role in enumerate(proc.roles):
            if role not in points:
                known = ", ".join(sorted(points)[:6]) + (" ..." if len(points) > 6 else "")
                raise ConfigError(f"scenario {scenario.name!r}", f"agents.processes[{i}].roles[{j}]",
                                  f"no control point {role!r} in this scenario (known: {known})")
    curve = scenario.agents.curve
    if curve is not None:
        from bridge.keys import authorized_keys, load_secret

        for field_name, load in (("server_secret_key", load_secret), ("authorized_keys", authorized_keys)):
            try:
                load(getattr(curve, field_name))
            except (OSError, ValueError, RanemuError) as exc:
                raise ConfigError(f"scenario {scenario.name!r}", f"agents.curve.{field_name}", str(exc)) from None


def check_scenario(scenario: Scenario, source: str) -> None:
    """Every check `run` makes before its clock starts, without simulating (what `ranemu validate`
    runs): build the world (topology, radio, subsystems, control points, policies), check the
    agent settings, close it. Errors are ConfigError naming `source`."""
    with located(source):
        if scenario.ran is None and scenario.mec is None:
            raise ConfigError(source, "", "has neither a `ran` nor a `mec` section: nothing to emulate")
        emu = Emulation(scenario, None)
        try:
            check_agents(emu, scenario)
        finally:
            emu.close(report=False)


def run_scenario(scenario: Scenario, out_base: str | Path | None = None, until: float | None = None,
                 wait_agents: int = 0, progress: bool = True, telemetry: bool = False,
                 allow_keys: tuple[bytes, ...] = ()) -> RunResult:
    """Run one scenario into a new run folder; Ctrl-C / SIGTERM stop cleanly with traces closed.

    A start that is refused before the clock runs (world or bridge cannot be built, endpoint cannot
    be bound) leaves no run folder; agents that do not attach in time leave one whose summary.json
    says `status: failed` (the agents' logs are in it), without a report. summary.json always has
    `status`: done, interrupted or failed.
    `telemetry`: serve the bridge (its PUB socket) even with no agent configured (a dashboard);
    `allow_keys`: CURVE public keys (z85) accepted beside agents.curve.authorized_keys.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    horizon = scenario.duration if until is None else float(until)
    if not 0 < horizon <= MAX_DURATION_S:  # the bound of `duration` holds for --until too
        raise RanemuError(f"--until {horizon:g}: expected a simulated time in (0, {MAX_DURATION_S:g}] s")
    if horizon != scenario.duration:  # config.yaml then reruns this run (duration is only the horizon)
        scenario = scenario.model_copy(update={"duration": horizon})
    run_dir = make_run_dir(scenario, out_base)
    agent_bridge = None
    try:
        emu = Emulation(scenario, run_dir)
        try:
            check_agents(emu, scenario)
            if needs_bridge(scenario, wait_agents) or (telemetry and scenario.agents.pub_endpoint is not None):
                from bridge.server import AgentBridge

                agent_bridge = AgentBridge(emu, scenario.agents, run_dir)
                for key in allow_keys:  # before start(): a client refused once does not try again
                    agent_bridge.allow_key(key)
                agent_bridge.start()
        except BaseException:
            if agent_bridge is not None:
                agent_bridge.close()
            emu.close(report=False)
            raise
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)  # nothing ran: leave no half-made run folder
        raise
    interrupted = False
    clock_ran = False
    failed: BaseException | None = None
    stop = _StopFlag()
    stop.emu = emu
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    chunk = min(CHUNK_S, horizon / 200.0)  # the horizon is positive: validated duration, or --until > 0
    t0 = time.monotonic()
    try:
        n = max(wait_agents, agents_to_wait_for(scenario))
        if agent_bridge is not None and n:
            agent_bridge.wait_for_agents(n, scenario.agents.wait_timeout_s, should_stop=lambda: stop.requested)
            stop.check()
        log.info("run %s: horizon %.3f s, clock %s", scenario.name, horizon, scenario.clock.mode)
        clock_ran = True

        def tick(now: float) -> None:
            stop.check()

        if progress:
            columns = (TextColumn("[bold]{task.description}"), BarColumn(),
                       TextColumn("{task.completed:.1f}/{task.total:.1f} sim s"), TimeElapsedColumn(),
                       TimeRemainingColumn())
            with Progress(*columns, transient=True) as bar:
                task = bar.add_task(scenario.name, total=horizon)

                def bar_tick(now: float) -> None:
                    bar.update(task, completed=now)
                    tick(now)

                emu.run(horizon, progress=bar_tick, chunk=chunk)
        else:
            emu.run(horizon, progress=tick, chunk=chunk)
    except KeyboardInterrupt:
        interrupted = True
        log.warning("interrupted at simulated t=%.3f s; closing traces", emu.env.now)
    except Exception as exc:  # e.g. agents that did not attach in time: the folder says so
        failed = exc
        log.error("run failed: %s", exc)
        raise
    finally:
        stop.shutdown()  # our handler stays installed, ignoring signals, until summary.json is written
        files: list[Path] = []
        try:
            try:
                if agent_bridge is not None:
                    agent_bridge.close()
            finally:
                summary = emu.summary()
                if agent_bridge is not None:
                    summary["bridge"] = agent_bridge.stats()
                summary["interrupted"] = interrupted
                summary["status"] = "failed" if failed is not None else "interrupted" if interrupted else "done"
                if failed is not None:
                    summary["error"] = str(failed)
                wall = time.monotonic() - t0
                summary["wall_s"] = wall
                try:
                    # No report for a run that failed or never started its clock: it would look
                    # like a finished zero-length run.
                    files = emu.close() if clock_ran and failed is None else emu.close(report=False)
                finally:  # written even if closing traces or drawing the report fails
                    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default),
                                                          encoding="utf-8")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return RunResult(run_dir, summary, files, interrupted, wall)


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
