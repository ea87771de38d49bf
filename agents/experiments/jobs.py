"""The experiments' bridge to the shared job runner (`bridge.jobs`): keys, run folders, results by key.

A job is (key, "pkg.module:function", JSON-able kwargs); the function returns a JSON-able dict. Our
keys read like paths ("seed1/drl"); the runner's keys are file names, so "/" becomes ".". Every
`run` call is one run folder of the runner (it holds exactly one grid of jobs, which is what lets
`resume=True` pick up the finished ones), so callers give each fixed job list its own folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from bridge import jobs as runner


@dataclass
class Results:
    rows: dict[str, dict] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def runner_key(key: str) -> str:
    """`seed1/drl` → `seed1.drl` (the runner's keys are file names)."""
    return key.replace("/", ".")


def run(jobs: Sequence[tuple[str, str, dict]], run_dir: Path, *, resume: bool = True, engine: str = "local",
        workers: int | None = None, description: str = "jobs", progress: bool = True) -> Results:
    """Run `jobs` = [(key, fn, kwargs)] with `bridge.jobs.run_jobs` in `run_dir`; results by our keys."""
    if not jobs:
        return Results()
    ours = {runner_key(k): k for k, _, _ in jobs}
    res = runner.run_jobs([runner.Job(runner_key(k), fn, kw) for k, fn, kw in jobs], run_dir, engine=engine,
                          workers=workers, resume=resume, progress=progress, description=description)
    return Results({ours[k]: v for k, v in res.rows.items()}, {ours[k]: v for k, v in res.errors.items()})
