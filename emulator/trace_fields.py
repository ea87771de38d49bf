"""The data dictionary of the built-in traces: unit, definition and source of every column.

Each entry is (unit, description, source, dtype). Units are SI (s, bit/s, bit, Hz, W, J) as in
the code and `summary.json`; "1" marks a dimensionless number, "count" an integer count.
`dtype` is the column's Parquet type where the value the subsystem hands over would otherwise be
stored as something less precise (counts handed over as float64 are stored as int64); None keeps
the subsystem's type. `emulator.traces` writes these as Parquet field metadata (b"unit",
b"description", b"source") and `docs/traces.md` is generated from them (a test keeps both equal).
"""
from __future__ import annotations

from typing import NamedTuple

from emulator.decisions import DECISION_COLUMNS


class FieldDoc(NamedTuple):
    """One trace column's documentation; `dtype` (e.g. "int64") is the type it is stored as, if set."""

    unit: str
    description: str
    source: str
    dtype: str | None = None


KPI = "emulator/ran/kpi.py period_kpis"
RAN_SUB = "emulator/ran/subsystem.py RanSubsystem._record"
MEC_EXEC = "emulator/mec/execution.py BatchRecord"
MEC_SUB = "emulator/mec/subsystem.py MecSubsystem._batch_done"

_COMMON = {
    "step": FieldDoc("count", "decision epoch index of the world, from 0; it counts on across episode_steps "
                     "boundaries and starts again at 0 when a reset builds a fresh world (env reset)",
                     "the subsystem's decision process", "int64"),
    "episode": FieldDoc("count", "episode index: 0 at the start, +1 at each episode_steps boundary and at each reset (fresh world)",
                        "emulator.emulation.Emulation.episode", "int64"),
}

RAN = {
    **_COMMON,
    "time": FieldDoc("s", "simulated time at the END of the decision period the row describes (the epoch at which "
                          "it was measured); the period is [time - ran.decision_period_s, time)", RAN_SUB),
    "cell": FieldDoc("index", "cell index k (cell k = site k // 3, sector k % 3 in hexagonal layouts)", RAN_SUB, "int64"),
    "slice": FieldDoc("index", "slice index n (order of ran.slices in the scenario)", RAN_SUB, "int64"),
    "slice_name": FieldDoc("", "slice name (ran.slices[n].name)", RAN_SUB),
    "throughput_bps": FieldDoc("bit/s", "average user throughput of the slice in the cell over the period: bits "
                               "delivered / the UEs' busy time (3GPP scheduled IP throughput, TS 36.314 §4.1.6); "
                               "NaN when no UE had data", KPI),
    "delay_s": FieldDoc("s", "mean delay of the packets completed in the period (completion - arrival); if none "
                        "completed but packets wait, the mean age of the oldest queued packets; NaN if idle", KPI),
    "load": FieldDoc("1", "slice load in [0, 1]: PRB-time the slice USED / the cell's PRB-time over the period "
                     "(a PRB partly filled by a UE's last bits counts by the filled fraction); couples "
                     "interference to neighbours", KPI),
    "active_users": FieldDoc("UEs", "time average over the period's TTIs of the slice's active UEs served by the "
                             "cell (fractional: a mean, not a count)", KPI),
    "offered_bps": FieldDoc("bit/s", "traffic that arrived for the slice's UEs in the cell / period length", KPI),
    "prb_alloc": FieldDoc("PRB", "mean PRBs per TTI ALLOCATED to the slice's UEs by the scheduler (whole PRBs, "
                          "before partial use; compare budget_prbs for the slice's quota, load for use)", KPI),
    "packets": FieldDoc("count", "packets completed (fully delivered) in the period", KPI, "int64"),
    "drops": FieldDoc("count", "packets dropped in the period (UE buffer full)", KPI, "int64"),
    "req_throughput_bps": FieldDoc("bit/s", "the slice's throughput requirement in this cell (ran.slices / "
                                   "ran.requirements, given in Mbit/s in the scenario)", "scenario"),
    "req_delay_s": FieldDoc("s", "the slice's delay requirement in this cell (given in ms in the scenario)", "scenario"),
    "satisfaction": FieldDoc("1", "min(throughput / requirement, requirement / delay, 1); a term without traffic "
                             "(NaN) counts as met", "emulator/ran/kpi.py satisfaction; slicing paper eq. 1"),
    "reward": FieldDoc("1", "the cell's reward r_k: min over its slices of satisfaction (same value on every "
                       "slice row of the cell)", "emulator/ran/kpi.py cell_reward; slicing paper eq. 2"),
    "share": FieldDoc("1", "PRB share of the slice in force during the period (the cell's shares sum to 1)",
                      "control point slice/cell{k}, or its fallback policy"),
    "budget_prbs": FieldDoc("PRB", "integer PRB budget per TTI from the share (largest-remainder rounding)",
                            "emulator/ran/scheduler.py prb_budgets", "int64"),
    "demand_next_bps": FieldDoc("bit/s", "perfect-knowledge demand of the next period: active UEs now x their "
                                "mean rate (full-buffer UEs count at their throughput requirement)", RAN_SUB),
    "mask": FieldDoc("1", "mean traffic mask of the slice over the period (share of its UE group active)",
                     "emulator/ran/subsystem.py traffic masks"),
}

MEC_TASKS = {
    **_COMMON,
    "device": FieldDoc("index", "IoT device (IoTD) index", MEC_EXEC, "int64"),
    "target": FieldDoc("index", "where the task ran: 0 = locally, j + 1 = MEC server j", MEC_EXEC, "int64"),
    "arrival_s": FieldDoc("s", "simulated time the task arrived (was decided on)", MEC_EXEC),
    "done_s": FieldDoc("s", "simulated time the task completed", MEC_EXEC),
    "cycles": FieldDoc("cycle", "CPU cycles the task needs", MEC_EXEC),
    "bits": FieldDoc("bit", "task input data size", MEC_EXEC),
    "rate_bps": FieldDoc("bit/s", "uplink rate to the serving site (NaN for local tasks); MEC paper eq. 3",
                         "emulator/mec/physics.py"),
    "tx_power_w": FieldDoc("W", "device transmit power used for the upload", "resource manager (mec.resources)"),
    "cpu_hz": FieldDoc("cycle/s", "CPU rate allocated on the server, or the device CPU for a local task",
                       "resource manager (mec.resources)"),
    "hops": FieldDoc("count", "backhaul hops crossed between the serving site and the server", MEC_EXEC, "int64"),
    "wait_s": FieldDoc("s", "time waiting for the device's uplink or CPU (earlier tasks of the device)", MEC_EXEC),
    "upload_s": FieldDoc("s", "uplink transmission time", MEC_EXEC),
    "backhaul_s": FieldDoc("s", "backhaul transfer time (latency per hop + data / bottleneck rate)", MEC_EXEC),
    "queue_s": FieldDoc("s", "time waiting for the server CPU", MEC_EXEC),
    "exec_s": FieldDoc("s", "execution time on the chosen CPU", MEC_EXEC),
    "time_s": FieldDoc("s", "measured task time T = done_s - arrival_s", MEC_EXEC),
    "energy_j": FieldDoc("J", "device energy spent (transmission, or local computation)", "MEC paper eqs. 4, 7"),
    "predicted_time_s": FieldDoc("s", "T the plan predicted without any queueing", MEC_EXEC),
    "cost": FieldDoc("1", "weighted cost phi_T * time_s + phi_E * energy_j (lower is better; phi_T in 1/s, phi_E "
                     "in 1/J)", "emulator/mec/physics.py weighted_cost; MEC paper eq. 10"),
}

MEC = {
    **_COMMON,
    "decided_s": FieldDoc("s", "simulated time of the decision epoch", MEC_SUB),
    "done_s": FieldDoc("s", "simulated time the epoch's last task completed", MEC_SUB),
    "tasks": FieldDoc("count", "tasks decided at the epoch", MEC_SUB, "int64"),
    "offloaded": FieldDoc("count", "tasks offloaded to a MEC server", MEC_SUB, "int64"),
    "objective": FieldDoc("1", "sum of the epoch's task costs (lower is better)", "MEC paper eq. 10"),
    "predicted_objective": FieldDoc("1", "the objective the plan predicted without queueing (lower is better)", MEC_SUB),
    "mean_time_s": FieldDoc("s", "mean measured task time T", MEC_SUB),
    "mean_energy_j": FieldDoc("J", "mean device energy per task", MEC_SUB),
    "max_queue_s": FieldDoc("s", "longest server-CPU queueing time of the epoch's tasks", MEC_SUB),
    "queued_tasks": FieldDoc("count", "tasks that waited for an uplink, device CPU or server CPU", MEC_SUB, "int64"),
}

# The decisions trace has its own writer (emulator.decisions); its dictionary is listed here so the
# docs page and the checks cover every trace a run writes.
DECISIONS = {name: FieldDoc(unit, description, source) for name, (unit, description, source) in DECISION_COLUMNS.items()}

BUILTIN: dict[str, dict[str, FieldDoc]] = {"ran": RAN, "mec_tasks": MEC_TASKS, "mec": MEC, "decisions": DECISIONS}


def markdown() -> str:
    """The data dictionary as the Markdown page docs/traces.md (`python -m emulator.trace_fields`)."""
    lines = [
        "# Trace data dictionary",
        "",
        "Generated by `python -m emulator.trace_fields > docs/traces.md` from `emulator/trace_fields.py`;",
        "the same text is in every Parquet file as field metadata (keys `unit`, `description`, `source`):",
        "",
        "```python",
        "import pyarrow.parquet as pq",
        "pq.read_schema(\"runs/<run>/traces/ran.parquet\").field(\"load\").metadata",
        "```",
        "",
        "Units are SI everywhere — traces and `summary.json` alike (bit/s, s, bit, Hz, W, J);",
        "\"1\" is a dimensionless number, \"count\" an integer count, \"index\" a 0-based index.",
        "",
    ]
    for table, cols in BUILTIN.items():
        lines += [f"## `{table}` (`traces/{table}.parquet`)", "",
                  "| column | unit | definition | source |", "|---|---|---|---|"]
        for name, doc in cols.items():
            lines.append(f"| `{name}` | {doc.unit or '—'} | {doc.description} | {doc.source} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
