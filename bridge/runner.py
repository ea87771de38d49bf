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

from emulator.config import Scenario
from emulator.emulation import Emulation, make_run_dir

log = logging.getLogger("ranemu")


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    interrupted: bool = False
    wall_s: float = 0.0


class _StopRequested(KeyboardInterrupt):
    """Ctrl-C / SIGTERM arrived: raised between chunks of simulated time, never inside a model step."""


class _StopFlag:
    """First SIGINT/SIGTERM: ask the run to stop at the next chunk boundary (traces stay whole).
    A second one: stop at once."""

    def __init__(self):
        self.requested = False

    def __call__(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt()
        self.requested = True
        log.warning("signal %d: stopping at the next chunk boundary (again to stop at once)", signum)

    def check(self) -> None:
        if self.requested:
            raise _StopRequested()


# Simulated seconds between stop checks / progress updates: short enough that Ctrl-C answers
# within tens of milliseconds of wall time on the 12-cell scenario.
CHUNK_S = 0.5


def needs_bridge(scenario: Scenario, wait_agents: int) -> bool:
    return bool(scenario.agents.processes) or wait_agents > 0 or scenario.agents.wait_agents > 0


def run_scenario(scenario: Scenario, out_base: str | Path | None = None, until: float | None = None,
                 wait_agents: int = 0, progress: bool = True, telemetry: bool = False,
                 allow_keys: tuple[bytes, ...] = ()) -> RunResult:
    """Run one scenario into a new run folder; Ctrl-C / SIGTERM stop cleanly with traces closed.
    `telemetry`: serve the bridge (its PUB socket) even with no agent configured (a dashboard);
    `allow_keys`: CURVE public keys (z85) accepted beside agents.curve.authorized_keys."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    run_dir = make_run_dir(scenario, out_base)
    horizon = scenario.duration if until is None else float(until)
    try:
        emu = Emulation(scenario, run_dir)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)  # nothing ran: leave no half-made run folder
        raise
    agent_bridge = None
    interrupted = False
    stop = _StopFlag()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    chunk = min(CHUNK_S, horizon / 200.0)  # the horizon is positive: validated duration, or --until > 0
    t0 = time.monotonic()
    try:
        if needs_bridge(scenario, wait_agents) or (telemetry and scenario.agents.pub_endpoint is not None):
            from bridge.server import AgentBridge

            agent_bridge = AgentBridge(emu, scenario.agents, run_dir)
            for key in allow_keys:
                agent_bridge.allow_key(key)
            agent_bridge.start()
            n = max(wait_agents, scenario.agents.wait_agents)
            if n:
                agent_bridge.wait_for_agents(n, scenario.agents.wait_timeout_s)
        log.info("run %s: horizon %.3f s, clock %s", scenario.name, horizon, scenario.clock.mode)
        if progress:
            columns = (TextColumn("[bold]{task.description}"), BarColumn(),
                       TextColumn("{task.completed:.1f}/{task.total:.1f} sim s"), TimeElapsedColumn(),
                       TimeRemainingColumn())
            with Progress(*columns, transient=True) as bar:
                task = bar.add_task(scenario.name, total=horizon)

                def tick(now: float) -> None:
                    bar.update(task, completed=now)
                    stop.check()

                emu.run(horizon, progress=tick, chunk=chunk)
        else:
            emu.run(horizon, progress=lambda now: stop.check(), chunk=chunk)
    except KeyboardInterrupt:
        interrupted = True
        log.warning("interrupted at simulated t=%.3f s; closing traces", emu.env.now)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if agent_bridge is not None:
            agent_bridge.close()
        summary = emu.summary()
        if agent_bridge is not None:
            summary["bridge"] = agent_bridge.stats()
        summary["interrupted"] = interrupted
        wall = time.monotonic() - t0
        summary["wall_s"] = wall
        files = emu.close()
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default), encoding="utf-8")
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
