"""Cost of recording decisions (traces/decisions.parquet): bytes per decision on disk, CPU per
recorded decision, and the 12-cell RAN's speed with the recorder on and off in the same process.

    .venv/bin/python benchmarks/bench_decisions.py [--steps 2000] [--seconds 5] [--repeat 3]

Bytes: the 12-cell scenario's decisions (12 points, 4-share actions) recorded for N and 2N decision
steps; the marginal figure (size(2N) - size(N)) / N rows leaves out the file's fixed part (schema
with the data dictionary, footer). Rows as an in-process policy writes them (no timing columns) and
as an agent's (round trip and lateness: noisy floats that compress less) are measured apart.
"""
from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_ran import full_load, line, measure  # noqa: E402
from emulator.decisions import DecisionRecorder  # noqa: E402

CELLS = 12


def synthetic(path: Path | None, steps: int, agent: bool, seed: int = 1) -> DecisionRecorder:
    """`steps` decision rounds of 12 points, actions like the traffic-aware policy's (4 shares)."""
    rng = np.random.default_rng(seed)
    rec = DecisionRecorder(path)
    for step in range(steps):
        rec.new_slot()
        t = float(step + 1)
        for k in range(CELLS):
            point = f"slice/cell{k}"
            rec.indicated(point, step, t)
            share = rng.dirichlet(np.ones(4))
            if agent:
                rec.record(point, step, t + rng.uniform(0, 0.05), "agent", f"baseline-cell{k}", share,
                           rng.lognormal(0.0, 0.5), 0.0)
            else:
                rec.record(point, step, t, "policy", "traffic_aware", share)
    return rec


def bytes_per_decision(steps: int, agent: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sizes = []
        for n in (steps, 2 * steps):
            path = Path(tmp) / f"d{n}.parquet"
            synthetic(path, n, agent).close()
            sizes.append(path.stat().st_size)
    rows = steps * CELLS
    return sizes[1] / (2 * rows), (sizes[1] - sizes[0]) / rows


def record_cost_us(steps: int) -> float:
    rec = DecisionRecorder(None)
    share = np.full(4, 0.25)
    t0 = time.perf_counter()
    for step in range(steps):
        rec.new_slot()
        for k in range(CELLS):
            rec.record("slice/cell%d" % k, step, 1.0, "agent", "a", share, 1.0, 0.0)
    rec.flush()
    return (time.perf_counter() - t0) / (steps * CELLS) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000, help="decision steps (x 12 points) for the byte counts")
    ap.add_argument("--seconds", type=float, default=5.0, help="simulated seconds per timed RAN stretch")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved on/off pairs for the RAN speed")
    args = ap.parse_args()
    for agent in (False, True):
        total, marginal = bytes_per_decision(args.steps, agent)
        kind = "agent rows (with RTT, lateness)" if agent else "policy rows"
        print(f"{kind:<34} {marginal:6.1f} B per decision marginal, {total:6.1f} B overall "
              f"({args.steps * 2 * CELLS} rows)")
    print(f"record() incl. flush to Arrow       {record_cost_us(args.steps):6.2f} us per decision")

    from emulator import decisions

    original = decisions.DecisionRecorder.record
    on, off = [], []
    def skip(self, *a, **k):
        return None

    for i in range(2 * args.repeat):  # on, off, off, on, on, off ...: neither always goes first
        recording = (i % 4) in (0, 3)
        decisions.DecisionRecorder.record = original if recording else skip
        (on if recording else off).append(measure(full_load(), args.seconds, 1))
    decisions.DecisionRecorder.record = original
    best_on = max(on, key=lambda r: r["x"])
    best_off = max(off, key=lambda r: r["x"])
    print(line("12-cell full load, recording on", best_on))
    print(line("12-cell full load, recording off", best_off))
    print(f"  on/off speed ratio (best of {args.repeat} each, interleaved): {best_on['x'] / best_off['x']:.3f}; "
          "all on: " + ", ".join(f"{r['x']:.1f}" for r in on) + "; all off: " + ", ".join(f"{r['x']:.1f}" for r in off))


if __name__ == "__main__":
    main()
