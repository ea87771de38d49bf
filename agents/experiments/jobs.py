"""Run an experiment's independent jobs: through `bridge.jobs.run_jobs` when that runner is present, else in order here.

A job is (key, "pkg.module:function", JSON-able kwargs); the function returns a JSON-able dict. The
in-process fallback keeps the runner's contract that the experiments rely on: each result is
persisted as `<run_dir>/jobs/<key>.json` as soon as it completes, and with `resume=True` a job whose
file exists is not run again. Errors are collected per job, not raised.
"""
from __future__ import annotations

import importlib
import json
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence


@dataclass
class Results:
    rows: dict[str, dict] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _call(fn: str, kwargs: dict[str, Any]) -> dict:
    module, _, name = fn.partition(":")
    return getattr(importlib.import_module(module), name)(**kwargs)


def _path(run_dir: Path, key: str) -> Path:
    return Path(run_dir) / "jobs" / (re.sub(r"[^A-Za-z0-9_.-]", "_", key) + ".json")


def finished(jobs: Sequence[tuple[str, str, dict]], run_dir: Path) -> Results:
    """The results of those `jobs` that have finished in `run_dir` (nothing is run)."""
    out = Results()
    for key, _, _ in jobs:
        path = _path(run_dir, key)
        if path.exists():
            out.rows[key] = json.loads(path.read_text())
    return out


def run(jobs: Sequence[tuple[str, str, dict]], run_dir: Path, *, resume: bool = True, engine: str = "local",
        workers: int | None = None, description: str = "jobs", progress: bool = True) -> Results:
    """Run `jobs` = [(key, fn, kwargs)]; `engine`/`workers` go to bridge.jobs when it exists."""
    try:
        from bridge import jobs as runner  # the shared job runner (local processes or Ray)
    except ImportError:
        runner = None
    if runner is not None:
        res = runner.run_jobs([runner.Job(k, fn, kw) for k, fn, kw in jobs], run_dir, engine=engine, workers=workers,
                              resume=resume, progress=progress, description=description)
        return Results(dict(res.rows), dict(res.errors))
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    out = Results()
    folder = Path(run_dir) / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[key]}"), TimeElapsedColumn(), disable=not progress) as bar:
        task = bar.add_task(description, total=len(jobs), key="")
        for key, fn, kwargs in jobs:
            bar.update(task, key=key)
            path = _path(run_dir, key)
            if resume and path.exists():
                out.rows[key] = json.loads(path.read_text())
            else:
                try:
                    row = _call(fn, kwargs)
                    path.write_text(json.dumps(row, indent=1))
                    out.rows[key] = row
                except Exception as exc:  # a failed job is reported with the others, not fatal to the experiment
                    out.errors[key] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
            bar.advance(task)
    return out
