"""Parameter sweeps: a grid of scenario overrides × policies × seeds, run as jobs (bridge.jobs), to CSV and PNG."""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bridge.jobs import Job, JobResults, run_jobs
from emulator.config import load_scenario, read_raw
from emulator.emulation import unique_dir
from emulator.errors import ConfigError, RanemuError


def _scalar(text: str) -> Any:
    """A YAML scalar, with `1e9`-style numbers as floats (YAML 1.1 would keep them strings)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


MAX_RANGE_VALUES = 10_000  # values one --param range may expand to (a grid is the product of them)


def parse_values(spec: str, source: str = "--param") -> list[Any]:
    """`a:b:step` (inclusive range), `a,b,c` (list) or a single value; values parsed as YAML scalars."""
    text = spec.strip()
    if not text:
        raise ConfigError(source, spec, "no values given")
    if ":" in text and "," not in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise ConfigError(source, spec, "a range is start:stop:step")
        try:
            start, stop, step = (_scalar(p) for p in parts)
        except yaml.YAMLError:
            raise ConfigError(source, spec, "range bounds must be numbers") from None
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, stop, step)):
            raise ConfigError(source, spec, "range bounds must be numbers")
        if not all(math.isfinite(v) for v in (start, stop, step)):
            raise ConfigError(source, spec, "range bounds must be finite numbers")
        if step <= 0 or stop < start:
            raise ConfigError(source, spec, "a range needs step > 0 and stop >= start")
        span = (stop - start) / step
        if not span < MAX_RANGE_VALUES:  # also catches an overflowing quotient (inf)
            raise ConfigError(source, spec, f"a range of more than {MAX_RANGE_VALUES:,} values; use a coarser step")
        count = int(math.floor(span + 1e-9)) + 1
        values = [start + k * step for k in range(count)]
        if all(isinstance(v, int) for v in (start, stop, step)):
            return [int(v) for v in values]
        return [round(v, 12) for v in values]
    try:
        return [_scalar(p.strip()) for p in text.split(",") if p.strip()]
    except yaml.YAMLError as exc:
        raise ConfigError(source, spec, f"cannot parse values: {exc}") from None


def parse_param(text: str) -> tuple[str, list[Any]]:
    """`mec.num_devices=10:100:10` → ("mec.num_devices", [10, 20, ..., 100])."""
    if "=" not in text:
        raise ConfigError("--param", text, "expected PATH=VALUES (a:b:step or a,b,c)")
    key, spec = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError("--param", text, "empty parameter path")
    return key, parse_values(spec, f"--param {key}")


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, (int, float, str, bool)) or value is None:
        out[prefix] = value


# Summary fields measured on the wall clock: they differ between two runs of the same point, so
# they stay out of sweep.csv (whose rows must be the same on every engine); jobs.csv has wall_s.
WALL_CLOCK_FIELDS = ("profile_s", "realtime_lateness")
POINT_FN = "bridge.sweep:run_point"


def run_point(scenario: dict, until: float | None = None) -> dict[str, Any]:
    """One grid point (a job of `bridge.jobs`): the validated scenario as a dict → its flat summary row.

    scenario: `Scenario.model_dump(mode="json")` of the point, shipped by value to whichever node
    runs it. Returns the emulation summary flattened to dotted keys (control-point counters and
    wall-clock fields left out). Raises what the emulation raises (recorded by the job runner).
    """
    from emulator.config import scenario_from_dict
    from emulator.emulation import Emulation

    sc = scenario_from_dict(scenario, f"sweep point of {scenario.get('name', 'scenario')!r}")
    emu = Emulation(sc)
    try:
        emu.run(until=until)
        summary = emu.summary()
    finally:
        emu.close(report=False)
    summary.pop("control_points", None)
    for section in list(summary.values()):
        if isinstance(section, dict):
            for name in WALL_CLOCK_FIELDS:
                section.pop(name, None)
    for name in WALL_CLOCK_FIELDS:
        summary.pop(name, None)
    row: dict[str, Any] = {}
    _flatten("", summary, row)
    return row


def _policy_kinds(raw: dict, path: str) -> list[str]:
    kinds = list(((raw.get("agents") or {}).get("policies") or {}).keys())
    if not kinds:
        raise ConfigError(path, "agents.policies",
                          "lists no control-point kinds; the sweep sets each listed kind to the policy under test")
    return kinds


def default_out(scenario_path: str | Path) -> Path:
    """`<output.dir>/sweep-<name>-<timestamp>/`, a new folder."""
    raw = read_raw(scenario_path)
    base = Path((raw.get("output") or {}).get("dir") or "runs")
    return unique_dir(base, f"sweep-{raw.get('name') or Path(scenario_path).stem}")


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._+@-]+", "-", str(value)).strip("-")[:40] or "x"


def _check_policies(path: Path, kinds: list[str], policies: list[str]) -> None:
    """Build the scenario once and ask each control point of a swept kind for every policy.

    Policy strings go through unchanged (a point may resolve plugin specs); an unknown one is a
    ConfigError naming it and the point, before any job starts.
    """
    from emulator.emulation import Emulation
    from emulator.errors import ActionError

    sc = load_scenario(path, {"output.traces": False, "output.report": False})
    emu = Emulation(sc)
    try:
        points = [cp for cp in emu.control_points.values() if cp.kind in kinds]
        for policy in policies:
            for cp in points:
                try:
                    cp.policy(policy)
                except ActionError as exc:
                    raise ConfigError("--policies", policy, str(exc)) from None
    finally:
        emu.close(report=False)


@dataclass
class SweepPlan:
    """The grid as jobs: `jobs` in grid order, the swept parameter paths, each job's labels."""

    jobs: list[Job]
    keys: list[str]
    labels: dict[str, dict[str, Any]]


def build_jobs(scenario_path: str | Path, params: list[str], policies: list[str], until: float | None,
               seeds: int) -> SweepPlan:
    """Every (grid point, policy, seed) as a job running `run_point` on that point's validated scenario.

    Validates before anything runs: the parameter specs, every point's scenario (pydantic, with the
    point named in the error) and every policy against the control points of the kinds listed in
    `agents.policies`. Raises ConfigError/RanemuError with one line.
    """
    path = Path(scenario_path)
    raw = read_raw(path)
    grid = [parse_param(p) for p in params]
    keys = [k for k, _ in grid]
    if len(set(keys)) != len(keys):
        raise ConfigError("--param", ",".join(keys), "a parameter is given twice")
    if seeds < 1:
        raise ConfigError("--seeds", str(seeds), "need at least one seed")
    if until is not None and not until > 0:
        raise ConfigError("--until", str(until), "must be a positive number of simulated seconds")
    if len(set(policies)) != len(policies):
        raise ConfigError("--policies", ",".join(policies), "a policy is given twice")
    size = math.prod(len(v) for _, v in grid) * max(1, len(policies)) * seeds
    if size > MAX_RANGE_VALUES:
        raise ConfigError("--param", " ".join(params), f"{size:,} runs (points × policies × seeds), more than "
                                                         f"{MAX_RANGE_VALUES:,}; split the sweep")
    kinds = _policy_kinds(raw, str(path)) if policies else []
    base_seed = int(raw.get("seed", 1))
    load_scenario(path)  # fail early, once, on a broken file
    if policies:
        _check_policies(path, kinds, policies)
    jobs: list[Job] = []
    labels: dict[str, dict[str, Any]] = {}
    for values in itertools.product(*(v for _, v in grid)):
        point = dict(zip(keys, values))
        try:
            load_scenario(path, point)
        except ConfigError as exc:
            where = ", ".join(f"{k}={v}" for k, v in point.items())
            raise RanemuError(f"grid point {where}: {exc}") from None
        for policy in policies or ["configured"]:
            for s in range(seeds):
                overrides = dict(point)
                overrides.update({f"agents.policies.{k}": policy for k in kinds if policies})
                overrides["seed"] = base_seed + s
                overrides["output.traces"] = False
                overrides["output.report"] = False
                scenario = load_scenario(path, overrides).model_dump(mode="json")
                label = dict(point)
                label.update({"policy": policy, "seed": base_seed + s})
                short = ",".join(f"{k.rsplit('.', 1)[-1]}={_slug(v)}" for k, v in label.items())
                key = f"p{len(jobs):04d}_{short}"[:200]
                labels[key] = label
                jobs.append(Job(key=key, fn=POINT_FN, kwargs={"scenario": scenario, "until": until},
                                resources={"num_cpus": 1}))
    return SweepPlan(jobs=jobs, keys=keys, labels=labels)


@dataclass
class SweepResult:
    """A finished sweep: its folder, the job results, and the failed points (key → error line)."""

    out: Path
    results: JobResults
    csv: Path
    plot: Path

    @property
    def failed(self) -> dict[str, str]:
        return self.results.errors


def run_sweep(scenario_path: str | Path, params: list[str], policies: list[str], out_dir: Path | None = None,
              workers: int | None = None, until: float | None = None, seeds: int = 1,
              metric: str | None = None, engine: str = "local", address: str | None = None,
              resume: bool = False, progress: bool = True, ship_code: bool = False) -> SweepResult:
    """Run the grid of `params` (e.g. ["mec.num_devices=10:100:10"]) × `policies` × `seeds`.

    Validates the whole grid first (`build_jobs`), then runs it through `bridge.jobs.run_jobs` on
    `engine` ("local": `workers` processes, default the CPU count, 0 = in this process; "ray": a
    Ray cluster at `address`, `ship_code`: with this checkout's code) with the run folder `out_dir`
    (`resume`: finish a sweep started there).
    Writes `sweep.csv` (one row per run in grid order: labels, `job` key, summary columns, `error`
    — identical on every engine), `jobs.csv` (where and how long each row ran) and `sweep.png`
    (the metric, by default the subsystem objective, against the first parameter, one line per
    policy, one panel per combination of the other parameters). A failed point does not stop the
    others; `SweepResult.failed` lists them. Ctrl-C raises KeyboardInterrupt with the folder resumable.
    """
    import pandas as pd

    plan = build_jobs(scenario_path, params, policies, until, seeds)
    if resume and out_dir is None:
        raise ConfigError("--resume", "", "needs --out DIR, the folder of the sweep to finish")
    out = Path(out_dir) if out_dir is not None else default_out(scenario_path)
    results = run_jobs(plan.jobs, out, engine=engine, workers=workers, address=address, resume=resume,
                       progress=progress, description="sweep", ship_code=ship_code)
    rows, prov = [], []
    for job in plan.jobs:
        row: dict[str, Any] = dict(plan.labels[job.key])
        row["job"] = job.key
        row.update(results.rows.get(job.key, {}))
        row["error"] = results.errors.get(job.key, "" if job.key in results.rows else "not run")
        rows.append(row)
        rec = results.records.get(job.key, {})
        prov.append({"job": job.key, "status": rec.get("status", "missing"), "engine": rec.get("engine", ""),
                     "node": rec.get("node", ""), "pid": rec.get("pid", ""), "version": rec.get("version", ""),
                     "code": rec.get("code", ""), "wall_s": rec.get("wall_s", ""), "finished": rec.get("finished", "")})
    df = pd.DataFrame(rows)
    csv = out / "sweep.csv"
    df.to_csv(csv, index=False)
    pd.DataFrame(prov).to_csv(out / "jobs.csv", index=False)
    plot = plot_sweep(df, plan.keys, metric, out / "sweep.png")
    return SweepResult(out=out, results=results, csv=csv, plot=plot)


def _pick_metric(df, metric: str | None) -> str:
    if metric is not None:
        if metric not in df.columns:
            raise ConfigError("--metric", metric, f"not a result column; have {', '.join(sorted(map(str, df.columns)))}")
        return metric
    for col in df.columns:
        if str(col).endswith(".objective"):
            return str(col)
    if "ran.mean_reward" in df.columns:  # a RAN scenario has no cost objective; its reward (eq. 2) is the figure
        return "ran.mean_reward"
    raise ConfigError("sweep", "", "no run produced an objective or a reward (see the error column of sweep.csv)")


# Axis labels of the default metrics: unit and which direction is better.
METRIC_LABELS = {
    "mec.objective": "MEC objective Φ per epoch (eq. 10; lower is better)",
    "ran.mean_reward": "mean slicing reward per cell and period (eq. 2, 0–1; higher is better)",
}


def plot_sweep(df, keys: list[str], metric: str | None, path: Path) -> Path:
    """Metric vs the first parameter per policy (mean ± std over seeds), a panel per other-parameter combination."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ok = df[df["error"] == ""] if "error" in df.columns else df
    if ok.empty:
        fig, ax = plt.subplots(figsize=(6, 3), dpi=110)
        ax.text(0.5, 0.5, "every run failed; see sweep.csv", ha="center", va="center")
        ax.set_axis_off()
        fig.savefig(path)
        plt.close(fig)
        return path
    metric = _pick_metric(ok, metric)
    x_key = keys[0] if keys else None
    others = keys[1:]
    groups = list(ok.groupby(others, sort=True)) if others else [((), ok)]
    cols = min(3, len(groups))
    rows_n = math.ceil(len(groups) / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(5.5 * cols, 4.2 * rows_n), dpi=120, squeeze=False)
    markers = itertools.cycle("osD^vPX*")
    policy_marker = {p: next(markers) for p in ok["policy"].unique()}
    numeric = x_key is not None and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in ok[x_key])
    # Non-numeric values (e.g. a resource-manager name) go on the axis as categories, in grid order.
    categories = list(dict.fromkeys(map(str, ok[x_key]))) if x_key is not None and not numeric else []
    for ax, (gkey, gdf) in zip(axes.ravel(), groups):
        for policy, pdf in gdf.groupby("policy", sort=False):
            if x_key is None:
                stats = pdf[metric].agg(["mean", "std"]).to_frame().T
                xs = np.zeros(1)
            elif numeric:
                stats = pdf.groupby(x_key)[metric].agg(["mean", "std"]).sort_index()
                xs = stats.index.to_numpy(dtype=float)
            else:
                stats = pdf.groupby(pdf[x_key].map(str))[metric].agg(["mean", "std"])
                stats = stats.reindex([c for c in categories if c in stats.index])
                xs = np.array([categories.index(c) for c in stats.index], dtype=float)
            ax.errorbar(xs, stats["mean"], yerr=stats["std"].fillna(0.0), marker=policy_marker[policy], ms=4,
                        capsize=2, label=str(policy))
        ax.set_xlabel(x_key or "")
        if categories:
            ax.set_xticks(range(len(categories)), categories)
        ax.set_ylabel(METRIC_LABELS.get(metric, metric), fontsize=9)
        if others:
            gk = gkey if isinstance(gkey, tuple) else (gkey,)
            ax.set_title(", ".join(f"{k}={v}" for k, v in zip(others, gk)), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes.ravel()[len(groups):]:
        ax.set_axis_off()
    seeds = ok["seed"].nunique() if "seed" in ok.columns else 1
    fig.suptitle(f"{metric} vs {x_key or 'policy'} ({seeds} seed{'s' if seeds > 1 else ''} per point)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
