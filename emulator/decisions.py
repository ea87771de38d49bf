"""The decisions trace: each control-point decision as it took effect, fell back, or was dropped."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# Values of the `source` column.
AGENT, POLICY, FALLBACK, INVALID, STALE = "agent", "policy", "fallback", "invalid", "stale"
SOURCES = (AGENT, POLICY, FALLBACK, INVALID, STALE)

# Data dictionary of traces/decisions.parquet: column -> (unit, description, source). Written into
# the file as Parquet field metadata (keys b"unit", b"description", b"source").
DECISION_COLUMNS: dict[str, tuple[str, str, str]] = {
    "slot": ("1", "serial number of the apply opportunity in which the row took effect: each decision round "
                  "and each real-time poll of the agent bridge is one; rows of one slot are in the order they "
                  "took effect (what replay needs to apply them at the same point of the event order)",
             "Emulation.decision, bridge.server.AgentBridge._rt_poll"),
    "episode": ("1", "episode counter of the emulation when the row took effect", "Emulation.episode"),
    "point": ("", "control point name, e.g. slice/cell3", "ControlPoint.name"),
    "step": ("1", "decision step (of this point) the row answers", "Indication.step"),
    "time": ("s", "simulated time of that decision epoch (NaN when no longer known)", "Indication.time"),
    "effective_time": ("s", "simulated time at which the row took effect; for stale rows: when the late "
                            "action was dropped", "Emulation.env.now"),
    "source": ("", "agent: an agent's action applied; policy: an in-process built-in policy's action applied; "
                   "fallback: no (timely) action, the fallback mode applied; invalid: an agent's action refused "
                   "(the previous one stays); stale: an agent's action that arrived after its deadline, dropped",
               "Emulation._apply_all, bridge.server.AgentBridge"),
    "name": ("", "agent name (agent, invalid, stale rows), policy name (policy rows), fallback mode hold or "
                 "default (fallback rows)", "HELLO.name, agents.policies, agents.fallback"),
    "action": ("action units of the point", "agent/policy rows: the action applied (float64, flattened); "
                                            "fallback rows: the action in force after the fallback; invalid and "
                                            "stale rows: the action as received (empty when not numeric)",
               "ControlPoint.apply / ControlPoint.current_action"),
    "response_ms": ("ms", "wall-clock time from sending the INDICATION to receiving the CONTROL; NaN when no "
                          "remote agent answered", "bridge.server.AgentBridge (time.monotonic)"),
    "late_ms": ("ms", "wall-clock time by which the CONTROL missed its deadline, 0 when in time; NaN when no "
                      "remote agent answered", "bridge.server.AgentBridge (time.monotonic)"),
}

_TYPES = {"slot": pa.int64(), "episode": pa.int32(), "point": pa.string(), "step": pa.int64(),
          "time": pa.float64(), "effective_time": pa.float64(), "source": pa.string(), "name": pa.string(),
          "action": pa.list_(pa.float64()), "response_ms": pa.float64(), "late_ms": pa.float64()}

# Schema-level metadata key: the period (simulated s) of the bridge's real-time poll, when it ran.
POLL_PERIOD_KEY = b"ranemu.poll_period_s"
_EPOCHS_KEPT = 64  # per point: decision steps whose epoch time a late row can still look up
_NAN = float("nan")


def schema(poll_period_s: float | None = None) -> pa.Schema:
    """The decisions trace's Arrow schema with its data dictionary as field metadata."""
    fields = [pa.field(name, _TYPES[name], metadata={b"unit": u.encode(), b"description": d.encode(),
                                                     b"source": s.encode()})
              for name, (u, d, s) in DECISION_COLUMNS.items()]
    meta = None if poll_period_s is None else {POLL_PERIOD_KEY: json.dumps(poll_period_s).encode()}
    return pa.schema(fields, metadata=meta)


def poll_period(table_schema: pa.Schema) -> float | None:
    """The real-time poll period recorded in a decisions trace's schema (None: the run had no poll)."""
    meta = table_schema.metadata or {}
    raw = meta.get(POLL_PERIOD_KEY)
    return None if raw is None else float(json.loads(raw))


def as_action(action: Any) -> list[float]:
    """`action` as a flat list of floats (float64 values kept exactly), or [] when not numeric."""
    if type(action) is np.ndarray and action.dtype.kind == "f":
        # a fresh list: later changes to the array do not leak into the record
        return action.tolist() if action.ndim == 1 else action.ravel().tolist()
    try:
        return np.asarray(action, dtype=np.float64).ravel().tolist()
    except (TypeError, ValueError):
        return []


class DecisionRecorder:
    """Collects decision rows (one tuple each: cheap on the decision path) and writes them as
    `traces/decisions.parquet` in row groups of `flush_rows`. With `path=None` rows stay in memory.

    Thread use: rows may be recorded from the bridge's keeper thread (stale lockstep answers) while
    the SimPy thread records; one tuple append per row keeps the columns aligned.
    """

    def __init__(self, path: Path | None, flush_rows: int = 4096):
        self.path = path
        self.flush_rows = max(1, int(flush_rows))
        self.slot = 0
        self.episode = 0
        self.poll_period_s: float | None = None
        self.rows = 0
        self._rows: list[tuple] = []
        self._epochs: dict[str, dict[int, float]] = {}
        self._memory: list[pa.Table] = []
        self._writer: pq.ParquetWriter | None = None
        self.closed = False

    def new_slot(self) -> int:
        """Open the next apply opportunity (a decision round or a real-time poll); returns its number."""
        self.slot += 1
        return self.slot

    def indicated(self, point: str, step: int, time: float) -> None:
        """Remember when `point`'s decision `step` was due, for rows that come later (real time)."""
        d = self._epochs.get(point)
        if d is None:
            d = self._epochs[point] = {}
        d[step] = time
        if len(d) > _EPOCHS_KEPT:
            del d[next(iter(d))]

    def record(self, point: str, step: int, now: float, source: str, name: str, action: Any,
               response_ms: float = _NAN, late_ms: float = _NAN) -> None:
        """One row; `action` is copied (float64, flattened)."""
        epoch = self._epochs.get(point)
        self._rows.append((self.slot, self.episode, point, step, _NAN if epoch is None else epoch.get(step, _NAN),
                           now, source, name, as_action(action), response_ms, late_ms))
        if len(self._rows) >= self.flush_rows:
            self.flush()

    def replay_row(self, row: dict[str, Any], now: float, slot: int | None = None) -> None:
        """Record a row taken from another run's trace as it is (replay), at `now`."""
        self._rows.append((self.slot if slot is None else slot, self.episode, row["point"], int(row["step"]), float(row["time"]),
                           float(now), row["source"], row["name"], list(row["action"]),
                           float(row["response_ms"]), float(row["late_ms"])))
        if len(self._rows) >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        rows, self._rows = self._rows, []
        if not rows:
            return
        self.rows += len(rows)
        cols = list(zip(*rows))
        sch = schema(self.poll_period_s) if self._writer is None else self._writer.schema
        arrays = []
        for i, name in enumerate(DECISION_COLUMNS):
            typ = _TYPES[name]
            if i == 8 or typ == pa.string():
                arrays.append(pa.array(cols[i], type=typ))  # straight from the tuples of lists / str
            else:
                arrays.append(pa.array(np.array(cols[i], dtype=typ.to_pandas_dtype()), type=typ))
        table = pa.Table.from_arrays(arrays, schema=sch)
        self._memory.append(table)
        if self.path is None:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, sch)
        self._writer.write_table(table)

    def table(self) -> pa.Table:
        """Every row so far (flushes first)."""
        self.flush()
        if not self._memory:
            return schema(self.poll_period_s).empty_table()
        return pa.concat_tables(self._memory)

    def to_pandas(self):
        return self.table().to_pandas()

    def close(self) -> None:
        """Write what is buffered and close the file (an empty run still gets an empty trace)."""
        if self.closed:
            return
        self.closed = True
        self.flush()
        if self.path is not None and self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(schema(self.poll_period_s).empty_table(), self.path)
        if self._writer is not None:
            self._writer.close()
            self._writer = None
