"""Parameter sweeps: a grid of scenario overrides × policies × seeds, run in parallel processes, to CSV and PNG."""
from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import yaml

from emulator.config import load_scenario, read_raw
from emulator.errors import ConfigError, RanemuError
from emulator.emulation import unique_dir


def _scalar(text: str) -> Any:
    """A YAML scalar, with `1e9`-style numbers as floats (YAML 1.1 would keep them strings)."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


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
        if step <= 0 or stop < start:
            raise ConfigError(source, spec, "a range needs step > 0 and stop >= start")
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
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


def _run_one(job: dict[str, Any]) -> dict[str, Any]:
    """One grid point in a worker process: build the emulation, run it, return a flat result row."""
    from emulator.emulation import Emulation

    row: dict[str, Any] = dict(job["labels"])
    t0 = time.perf_counter()
    try:
        sc = load_scenario(job["scenario"], job["overrides"])
        emu = Emulation(sc)
        try:
            emu.run(until=job["until"])
            summary = emu.summary()
        finally:
            emu.close(report=False)
        summary.pop("control_points", None)
        _flatten("", summary, row)
        row["error"] = ""
    except (RanemuError, ValueError) as exc:
        row["error"] = str(exc)
    row["wall_s"] = round(time.perf_counter() - t0, 4)
    return row


def _policy_kinds(raw: dict, path: str) -> list[str]:
    kinds = list(((raw.get("agents") or {}).get("policies") or {}).keys())
    if not kinds:
        raise ConfigError(path, "agents.policies",
                          "lists no control-point kinds; the sweep sets each listed kind to the policy under test")
    return kinds


def _default_out(scenario_path: Path, raw: dict) -> Path:
    base = Path((raw.get("output") or {}).get("dir") or "runs")
    return unique_dir(base, f"sweep-{raw.get('name') or scenario_path.stem}")


def build_jobs(scenario_path: str | Path, params: list[str], policies: list[str], until: float | None,
               seeds: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Every (grid point, policy, seed) as a job for `_run_one`, and the swept parameter paths."""
    path = Path(scenario_path)
    raw = read_raw(path)
    grid = [parse_param(p) for p in params]
    keys = [k for k, _ in grid]
    if len(set(keys)) != len(keys):
        raise ConfigError("--param", ",".join(keys), "a parameter is given twice")
    if seeds < 1:
        raise ConfigError("--seeds", str(seeds), "need at least one seed")
    kinds = _policy_kinds(raw, str(path)) if policies else []
    base_seed = int(raw.get("seed", 1))
    load_scenario(path)  # fail early, once, on a broken file rather than in every worker
    jobs = []
    for values in itertools.product(*(v for _, v in grid)):
        for policy in policies or ["configured"]:
            for s in range(seeds):
                overrides = dict(zip(keys, values))
                overrides.update({f"agents.policies.{k}": policy for k in kinds if policies})
                overrides["seed"] = base_seed + s
                overrides["output.traces"] = False
                overrides["output.report"] = False
                labels = dict(zip(keys, values))
                labels.update({"policy": policy, "seed": base_seed + s})
                jobs.append({"scenario": str(path), "overrides": overrides, "labels": labels, "until": until})
    return jobs, keys


def run_sweep(scenario_path: str | Path, params: list[str], policies: list[str], out_dir: Path | None = None,
              workers: int | None = None, until: float | None = None, seeds: int = 1,
              metric: str | None = None) -> Path:
    """Run the grid of `params` (e.g. ["mec.num_devices=10:100:10"]) × `policies` × `seeds`.

    Runs in `workers` processes (default: CPU count; 0 = in this process), shows a progress bar,
    writes `sweep.csv` (one row per run; failed runs keep their error message) and `sweep.png`
    (the metric, by default the subsystem objective, against the first parameter, one line per
    policy, one panel per combination of the other parameters). Returns the output folder.
    """
    import pandas as pd
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    jobs, keys = build_jobs(scenario_path, params, policies, until, seeds)
    out = Path(out_dir) if out_dir is not None else _default_out(Path(scenario_path), read_raw(scenario_path))
    out.mkdir(parents=True, exist_ok=True)
    n_workers = (os.cpu_count() or 1) if workers is None else int(workers)
    rows: list[dict[str, Any]] = []
    columns = [TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("runs", total=len(jobs))
        if n_workers <= 0 or len(jobs) == 1:
            for job in jobs:
                rows.append(_run_one(job))
                progress.advance(task)
        else:
            # forkserver: workers start from a clean process, not a fork of one with live threads
            # (the progress bar's refresh thread).
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            ctx = multiprocessing.get_context(method)
            with ProcessPoolExecutor(max_workers=min(n_workers, len(jobs)), mp_context=ctx) as pool:
                futures = [pool.submit(_run_one, job) for job in jobs]
                for fut in as_completed(futures):
                    rows.append(fut.result())
                    progress.advance(task)
    df = pd.DataFrame(rows)
    df = df.sort_values(keys + ["policy", "seed"], kind="stable").reset_index(drop=True) if keys else df
    df.to_csv(out / "sweep.csv", index=False)
    plot_sweep(df, keys, metric, out / "sweep.png")
    return out


def _pick_metric(df, metric: str | None) -> str:
    if metric is not None:
        if metric not in df.columns:
            raise ConfigError("--metric", metric, f"not a result column; have {', '.join(sorted(map(str, df.columns)))}")
        return metric
    for col in df.columns:
        if str(col).endswith(".objective"):
            return str(col)
    raise ConfigError("sweep", "", "no run produced an objective (see the error column of sweep.csv)")


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
        ax.set_ylabel(metric)
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
