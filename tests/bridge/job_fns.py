"""Job functions for the job-runner tests (importable as tests.bridge.job_fns:NAME on every worker)."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np


def draw(seed: int, n: int = 4) -> dict:
    """A seeded computation whose floats must come back bit for bit: n normal draws and their sum."""
    x = np.random.default_rng(seed).standard_normal(n)
    return {"seed": seed, "draws": [float(v) for v in x], "sum": float(x.sum())}


def logged(seed: int, log: str, fail_if: str = "", interrupt_if: str = "") -> dict:
    """`draw`, appending the seed to `log` first (to count runs); fails while the file `fail_if`
    exists, raises KeyboardInterrupt (a Ctrl-C) while `interrupt_if` exists."""
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"{seed}\n")
    if fail_if and Path(fail_if).exists():
        raise ValueError(f"seed {seed} told to fail")
    if interrupt_if and Path(interrupt_if).exists():
        raise KeyboardInterrupt
    return draw(seed)


def die_once(seed: int, marker: str) -> dict:
    """Kills its own worker process (SIGKILL, as the OOM killer would) the first time it runs."""
    flag = Path(marker)
    if not flag.exists():
        flag.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return draw(seed)


def not_a_dict(seed: int) -> list:
    return [seed]


SEEN_ARGV: list = []


def tiny_experiment(argv: list[str] | None) -> int:
    """A stand-in for a registered experiment: records its argv, exits with len(argv)."""
    SEEN_ARGV.append(list(argv or []))
    return len(argv or [])
