"""`ranemu replay`: re-run a recorded run unpaced with its recorded decisions and check its traces bit for bit.

A run folder holds the scenario (config.yaml), the end state (summary.json) and the traces, among
them `traces/decisions.parquet`: every decision as it took effect, in the order it took effect, with
the apply opportunity ("slot": a decision round, or one of the real-time bridge's polls) it took
effect in. Replay rebuilds the world from the scenario and seed, runs it as fast as it goes (a
real-time run keeps its TTI-by-TTI event structure, only the wall-clock pacing is gone), applies
each recorded row in the same slot — so at the same simulated time and the same point of SimPy's
event order — with no agent attached, and compares every trace with the recorded one. One control
point's decisions can be substituted by a built-in policy or an agent (a "what if" run), written
to a new run folder.
"""
from __future__ import annotations

import json
import math
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from emulator.config import AgentProcessConfig, load_scenario
from emulator.decisions import AGENT, FALLBACK, INVALID, POLICY, STALE, poll_period
from emulator.emulation import DEFERRED, Emulation, PolicyDecider, unique_dir
from emulator.errors import ConfigError, RanemuError

# Columns that locate a row for a person (shown with a divergence when the trace has them).
KEY_COLUMNS = ("episode", "step", "time", "point", "cell", "slice", "queue", "server", "device")
DECISIONS = "decisions"


@dataclass
class Divergence:
    """The first row and column where a replayed trace differs from the recorded one."""

    trace: str
    row: int
    column: str
    recorded: Any
    replayed: Any
    keys: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.keys.items())
        return (f"traces/{self.trace}.parquet row {self.row} column {self.column!r}: recorded {self.recorded!r}, "
                f"replayed {self.replayed!r}" + (f" ({where})" if where else ""))


@dataclass
class ReplayResult:
    source: Path
    divergence: Divergence | None
    traces: dict[str, int]  # trace name -> rows compared
    out_dir: Path | None = None
    substituted: str | None = None
    first_substituted_time: float | None = None
    wall_s: float = 0.0

    @property
    def identical(self) -> bool:
        return self.divergence is None


class RecordDecider:
    """A decider that answers from a decisions trace: at each slot (decision round or real-time
    poll) it applies the rows recorded in that slot, in their order, and records them again.

    `substitute`, if given, answers for control point `point` from decision step `from_step` on
    instead of the record (a `PolicyDecider`, or an `AgentBridge` in lockstep); its actions are
    applied by the emulation core in the decision round itself.
    """

    def __init__(self, record: pa.Table, point: str | None = None, substitute: Any = None, from_step: int = 0):
        self.poll_period_s = poll_period(record.schema)
        self.point, self.substitute, self.from_step = point, substitute, int(from_step)
        cols = {name: record.column(name).to_pylist() for name in record.column_names}
        self._by_slot: dict[int, list[dict[str, Any]]] = {}
        for i in range(record.num_rows):
            row = {name: values[i] for name, values in cols.items()}
            self._by_slot.setdefault(row["slot"], []).append(row)
        self._env = None
        self.first_substituted_time: float | None = None

    # -- the Decider protocol --------------------------------------------------------------------
    def decide(self, emu: Emulation, indications: list) -> dict[str, Any]:
        if self.poll_period_s is not None and self._env is not emu.env:
            # The recorded run's bridge started its real-time poll in its first decision round.
            self._env = emu.env
            emu.env.process(self._poll(emu, emu.env))
        self._play(emu, emu.decision_log.slot)
        out: dict[str, Any] = {}
        mine = []
        for ind in indications:
            if ind.point == self.point and ind.step >= self.from_step:
                mine.append(ind)
            else:
                out[ind.point] = DEFERRED  # the recorded rows of this slot were applied above
        if mine:
            if self.first_substituted_time is None:
                self.first_substituted_time = float(emu.env.now)
            out.update(self.substitute.decide(emu, mine))
        return out

    def provenance(self, cp):
        return self.substitute.provenance(cp)

    # -- replaying rows ------------------------------------------------------------------------------
    def _poll(self, emu: Emulation, env):
        period = self.poll_period_s
        while emu.env is env:
            yield env.timeout(period)
            self._play(emu, emu.decision_log.new_slot())

    def _skipped(self, row: dict[str, Any]) -> bool:
        return row["point"] == self.point and row["step"] >= self.from_step

    def _play(self, emu: Emulation, slot: int) -> None:
        rows = self._by_slot.pop(slot, None)
        if not rows:
            return
        now = emu.env.now
        log = emu.decision_log
        for row in rows:
            if self._skipped(row):
                continue
            cp = emu.control_points.get(row["point"])
            if cp is None:
                raise RanemuError(f"the recorded decisions name control point {row['point']!r}, which the "
                                  "replayed world does not have")
            source = row["source"]
            if source in (AGENT, POLICY):
                cp.apply(np.asarray(row["action"], dtype=np.float64).reshape(cp.action_space.shape))
            elif source == FALLBACK:
                cp.fallback(row["name"])
            elif source == INVALID:
                cp.counters["invalid"] += 1
            elif source == STALE:
                cp.counters["stale"] += 1
            else:
                raise RanemuError(f"decisions trace: unknown source {source!r} in slot {slot}")
            log.replay_row(row, now)

    def finish(self, emu: Emulation) -> None:
        """Rows recorded after the last slot this replay reached (late answers dropped at the very
        end) are recorded as they were; anything else left over is a decision the replay missed."""
        for slot in sorted(self._by_slot):
            for row in self._by_slot[slot]:
                if not self._skipped(row) and row["source"] in (STALE, INVALID):
                    emu.decision_log.replay_row(row, row["effective_time"], slot=slot)
        self._by_slot.clear()


# -- comparing traces ----------------------------------------------------------------------------------
def _first_mismatch(a: np.ndarray, b: np.ndarray) -> int | None:
    """Index of the first element where `a` and `b` differ bit for bit (same length), or None."""
    if a.dtype.kind == "f" and b.dtype.kind == "f" and a.dtype == b.dtype:
        diff = a.view(f"u{a.itemsize}") != b.view(f"u{b.itemsize}")
    elif a.dtype.kind in "biuM" and a.dtype == b.dtype:
        diff = a != b
    else:
        diff = np.fromiter((not _same(x, y) for x, y in zip(a, b)), dtype=bool, count=len(a))
    idx = np.flatnonzero(diff)
    return int(idx[0]) if idx.size else None


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        return _first_mismatch(x.ravel(), y.ravel()) is None
    if isinstance(x, float) and isinstance(y, float):
        return np.float64(x).view(np.uint64) == np.float64(y).view(np.uint64)
    if x is None or y is None or (isinstance(x, float) and math.isnan(x)):
        return x is y or (_isnan(x) and _isnan(y))
    return type(x) is type(y) and x == y


def _isnan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def compare(name: str, recorded: pd.DataFrame, replayed: pd.DataFrame) -> Divergence | None:
    """The first divergence between two versions of one trace (row order matters), or None."""
    first: tuple[int, str] | None = None
    n = min(len(recorded), len(replayed))
    for col in recorded.columns:
        if col not in replayed.columns:
            return Divergence(name, 0, col, "(column)", "(missing)")
        a = recorded[col].to_numpy()[:n]
        b = replayed[col].to_numpy()[:n]
        i = _first_mismatch(a, b)
        if i is not None and (first is None or i < first[0]):
            first = (i, col)
    for col in replayed.columns:
        if col not in recorded.columns:
            return Divergence(name, 0, col, "(missing)", "(column)")
    if first is None and len(recorded) != len(replayed):
        return Divergence(name, n, "(rows)", f"{len(recorded)} rows", f"{len(replayed)} rows")
    if first is None:
        return None
    row, col = first
    keys = {k: _plain(recorded[k].iloc[row]) for k in KEY_COLUMNS if k in recorded.columns}
    return Divergence(name, row, col, _plain(recorded[col].iloc[row]), _plain(replayed[col].iloc[row]), keys)


def compare_run(run_dir: Path, emu: Emulation) -> tuple[Divergence | None, dict[str, int]]:
    """Compare every recorded trace of `run_dir` with the emulation's; the first divergence in
    the order: KPI traces by name, then the decisions trace."""
    checked: dict[str, int] = {}
    names = sorted(p.stem for p in (run_dir / "traces").glob("*.parquet") if p.stem != DECISIONS)
    for name in names + [DECISIONS]:
        try:
            recorded = pq.read_table(run_dir / "traces" / f"{name}.parquet").to_pandas()
        except (OSError, pa.ArrowException) as exc:
            raise RanemuError(f"cannot compare with {run_dir}: traces/{name}.parquet is damaged ({exc})") from None
        if name == DECISIONS:
            replayed = emu.decision_log.to_pandas()
        elif name in emu.traces.tables:
            replayed = emu.traces.tables[name].to_pandas()
        else:
            return Divergence(name, 0, "(trace)", f"{len(recorded)} rows", "not written"), checked
        div = compare(name, recorded, replayed)
        checked[name] = len(recorded)
        if div is not None:
            return div, checked
    return None, checked


# -- the command ------------------------------------------------------------------------------------------
def _read_run(run_dir: Path):
    run_dir = Path(run_dir)
    for need in ("config.yaml", "summary.json", "traces/decisions.parquet"):
        if not (run_dir / need).exists():
            raise RanemuError(f"{run_dir} is not a replayable run folder: {need} is missing")
    try:
        scenario = load_scenario(run_dir / "config.yaml")
    except ConfigError as exc:
        raise RanemuError(f"cannot replay {run_dir}: {exc}") from None
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        simulated = float(summary["simulated_s"])
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
        raise RanemuError(f"cannot replay {run_dir}: summary.json is damaged ({type(exc).__name__}: {exc})") from None
    if not simulated > 0:
        raise RanemuError(f"cannot replay {run_dir}: the run ended before its clock advanced (simulated_s = {simulated:g})")
    if (summary.get("bridge") or {}).get("resets"):
        raise RanemuError(f"cannot replay {run_dir}: an agent reset the world during the run "
                          f"({summary['bridge']['resets']} resets); replay covers runs without resets")
    try:
        record = pq.read_table(run_dir / "traces" / "decisions.parquet")
    except (OSError, pa.ArrowException) as exc:
        raise RanemuError(f"cannot replay {run_dir}: traces/decisions.parquet is damaged ({exc})") from None
    return run_dir, scenario, summary, record


def replay(run_dir: str | Path, point: str | None = None, policy: str | None = None,
           agent: list[str] | str | None = None, from_step: int = 0, out: str | Path | None = None,
           subsystems: list[Callable] | None = None, progress: bool = False,
           wait_timeout_s: float | None = None) -> ReplayResult:
    """Replay `run_dir` unpaced with its recorded decisions and compare every trace bit for bit.

    With `point` and `policy` (a built-in policy name of that point) or `agent` (an argv, or a
    command line, with {python}, {endpoint}, {role} placeholders), that point's decisions from step
    `from_step` on come from the substitute instead, and the run is written to a new folder under
    `out` (default: beside `run_dir`); the comparison then names where it first departs.
    `subsystems`: world builders for runs of a world the scenario sections do not describe (tests).
    Raises RanemuError (one line) for a folder that cannot be replayed or a bad substitution.
    """
    run_dir, scenario, summary, record = _read_run(Path(run_dir))
    if (point is None) != (policy is None and agent is None):
        raise RanemuError("replay: a substitution needs both --point and one of --policy / --agent")
    if policy is not None and agent is not None:
        raise RanemuError("replay: give --policy or --agent, not both")
    t0 = time.monotonic()
    out_dir = None
    if point is not None:
        out_dir = unique_dir(Path(out) if out is not None else run_dir.parent, f"{run_dir.name}-whatif")
    try:
        emu = Emulation(scenario, out_dir, decider=PolicyDecider(), subsystems=subsystems, paced=False)
    except BaseException:
        if out_dir is not None:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    bridge = None
    done = False
    try:
        substitute = None
        if point is not None:
            cp = emu.control_points.get(point)
            if cp is None:
                known = ", ".join(sorted(emu.control_points)[:8])
                raise RanemuError(f"replay: no control point {point!r}; known: {known}")
            if policy is not None:
                if policy not in cp.policies:
                    raise RanemuError(f"replay: {point} has no policy {policy!r}; known: {', '.join(sorted(cp.policies))}")
                substitute = PolicyDecider({cp.kind: policy})
            else:
                bridge = _agent_bridge(emu, scenario, point, agent, out_dir, wait_timeout_s)
                substitute = bridge
        decider = RecordDecider(record, point, substitute, from_step)
        emu.decider = decider
        until = float(summary["simulated_s"])
        emu._start()
        _run(emu, until, progress)
        decider.finish(emu)
        if bridge is not None:
            bridge.close()
        div, checked = compare_run(run_dir, emu)
        result = ReplayResult(run_dir, div, checked, out_dir, point, decider.first_substituted_time,
                              time.monotonic() - t0)
        if out_dir is not None:
            info = emu.summary()
            info["replay_of"] = str(run_dir)
            info["substituted"] = {"point": point, "policy": policy, "agent": agent, "from_step": from_step,
                                   "first_time": decider.first_substituted_time}
            info["first_divergence"] = None if div is None else str(div)
            if bridge is not None:
                info["bridge"] = bridge.stats()
            emu.close()
            (out_dir / "summary.json").write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
        done = True
        return result
    finally:
        if bridge is not None:
            bridge.close()
            shutil.rmtree(bridge.ipc_dir, ignore_errors=True)
        emu.close(report=False)
        if not done and out_dir is not None and not (out_dir / "agents").exists():
            # a what-if that failed leaves no half-made folder, unless it holds an agent's log
            shutil.rmtree(out_dir, ignore_errors=True)


def _run(emu: Emulation, until: float, progress: bool) -> None:
    """Run to exactly `until` (the recorded end: events at it are not processed, as in the record)."""
    env = emu.env
    chunk = max(until / 100.0, 1e-6)
    if not progress:
        env.run(until=until)
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("replay", total=until)
        t = env.now
        while t < until:
            t = min(until, t + chunk)
            env.run(until=t)  # chunk ends only stop the clock: the event order stays the same
            bar.update(task, completed=t)


def _agent_bridge(emu: Emulation, scenario, point: str, agent, out_dir: Path, wait_timeout_s: float | None):
    """An AgentBridge in lockstep serving `point` to one supervised agent process over ipc."""
    from bridge.server import AgentBridge

    argv = shlex.split(agent) if isinstance(agent, str) else list(agent)
    if not argv:
        raise RanemuError("replay: --agent needs a command line")
    ipc = Path(tempfile.mkdtemp(prefix="ranemu-replay-"))
    cfg = scenario.agents.model_copy(update={
        "processes": [AgentProcessConfig(roles=[point], command=argv, restart="never")],
        # ipc in a private folder: nothing reachable off-host, no port to collide with
        "endpoint": f"ipc://{ipc}/control", "pub_endpoint": None, "curve": None, "wait_agents": 1,
    })
    bridge = AgentBridge(emu, cfg, out_dir)
    bridge.ipc_dir = ipc
    try:
        bridge.start()
        bridge.wait_for_agents(1, wait_timeout_s if wait_timeout_s is not None else cfg.wait_timeout_s)
    except BaseException:
        bridge.close()  # reaps the agent process
        shutil.rmtree(ipc, ignore_errors=True)
        raise
    return bridge
