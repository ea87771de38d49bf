"""Job functions for the job-runner tests (importable as tests.bridge.job_fns:NAME on every worker)."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


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


def gated(seed: int, log: str, gate: str = "", timeout_s: float = 60.0) -> dict:
    """`draw`, logging the seed first; with `gate`, waits (at most `timeout_s`) until that file exists."""
    import time

    with open(log, "a", encoding="utf-8") as f:
        f.write(f"{seed}\n")
    deadline = time.monotonic() + timeout_s
    while gate and not Path(gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {gate} never opened")
        time.sleep(0.05)
    return draw(seed)


def point_killed_once(marker: str, scenario: dict, until: float) -> dict:
    """A sweep point whose worker is SIGKILLed half way through the first attempt (after running the
    first half of the horizon), as a node's OOM killer would; later attempts run it whole."""
    from bridge.sweep import run_point

    flag = Path(marker)
    if not flag.exists():
        flag.write_text(str(os.getpid()))
        run_point(scenario, until / 2)
        os.kill(os.getpid(), signal.SIGKILL)
    return run_point(scenario, until)

