"""Steps/s of the in-process env against the remote env (same scenario, same policy) and their ratio.

Run: `.venv/bin/python benchmarks/bench_envs.py [--steps N]`. `benchmarks/bench_bridge.py` imports
`measure_env_rates` (both scripts sit in benchmarks/, which is on sys.path when either runs).
"""
from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.envs import EmulationEnv  # noqa: E402
from bridge.remote import RemoteEnv, env_steps_per_second, launch_emulator  # noqa: E402


def _slice_policy(obs: np.ndarray) -> np.ndarray:
    # Shares follow each slice's load (observation entries 4..7), with a floor: cheap and deterministic.
    return (obs[4:8] + 0.05).astype(np.float32)


def _offload_policy(obs: np.ndarray) -> np.ndarray:
    gains = obs[:, :2]
    return np.where(gains.max(axis=1) > -80.0, np.argmax(gains, axis=1) + 1, 0).astype(np.int64)


# name -> (scenario file, role, overrides as `ranemu run --param`, policy)
CASES: dict[str, tuple[str, str, list[str], Callable[[np.ndarray], np.ndarray]]] = {
    # 1 s decision period, 1000 TTIs of 12 cells per step: the world dominates.
    "slicing cell0": ("scenarios/slicing-12cell.yaml", "slice/cell0", [], _slice_policy),
    # One batch of 30 tasks per step: a cheap world, so the wire's share shows.
    "mec core": ("scenarios/mec-dirs.yaml", "mec/core", ["mec.control=core"], _offload_policy),
}


def _free_tcp_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _overrides(params: list[str]) -> dict:
    from emulator.config import parse_override

    return dict(parse_override(p) for p in params)


def _remote_rate(path: str, role: str, params: list[str], policy, steps: int, transport: str) -> float:
    endpoint = _free_tcp_endpoint() if transport == "tcp" else None
    with launch_emulator(path, params, endpoint=endpoint) as em:
        try:
            rate = env_steps_per_second(lambda: RemoteEnv(em.endpoint, role, timeout_s=60.0), policy, steps)
        except Exception as exc:
            raise RuntimeError(f"remote env on {em.endpoint} failed: {exc!r}; emulator log:\n{em.log()[-3000:]}") from exc
    if em.process.returncode != 0:
        raise RuntimeError(f"emulator exited {em.process.returncode}: {em.log_text[-2000:]}")
    return rate["steps_per_s"]


def measure_env_rates(steps: int = 300, cases: list[str] | None = None,
                      transports: tuple[str, ...] = ("ipc", "tcp"), repeats: int = 3) -> list[dict]:
    """For each case: in-process steps/s, remote steps/s per transport, and remote / in-process.

    Each figure is the median of `repeats` runs, interleaved (in-process, ipc, tcp, in-process, ...)
    so that load from other processes on a shared machine spreads over all of them; a short
    in-process warm-up first keeps JIT compilation and imports out of the timings.
    """
    rows = []
    for name in cases or list(CASES):
        path, role, params, policy = CASES[name]
        params = params + ["output.report=false", "output.traces=false"]
        make_local = lambda: EmulationEnv(path, role, overrides=_overrides(params))  # noqa: E731
        env_steps_per_second(make_local, policy, min(steps, 10))
        samples: dict[str, list[float]] = {"in_process": [], **{t: [] for t in transports}}
        for _ in range(repeats):
            samples["in_process"].append(env_steps_per_second(make_local, policy, steps)["steps_per_s"])
            for transport in transports:
                samples[transport].append(_remote_rate(path, role, params, policy, steps, transport))
        local = float(np.median(samples["in_process"]))
        row = {"case": name, "steps": steps, "repeats": repeats, "in_process_steps_per_s": local}
        for transport in transports:
            remote = float(np.median(samples[transport]))
            row[f"remote_{transport}_steps_per_s"] = remote
            row[f"remote_{transport}_ratio"] = remote / local
            # What the wire adds to one step (both processes' encode/decode, the round trip).
            row[f"remote_{transport}_overhead_us"] = (1.0 / remote - 1.0 / local) * 1e6
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    args = ap.parse_args(argv)
    rows = measure_env_rates(args.steps, args.case, repeats=args.repeats)
    print(f"steps/s, median of {args.repeats}; ratio = remote / in-process")
    print(f"{'case':<15} {'steps':>6} {'in-process/s':>13} {'remote ipc/s':>13} {'ratio':>6} {'+us/step':>9} "
          f"{'remote tcp/s':>13} {'ratio':>6} {'+us/step':>9}")
    for r in rows:
        print(f"{r['case']:<15} {r['steps']:>6} {r['in_process_steps_per_s']:>13.1f} "
              f"{r['remote_ipc_steps_per_s']:>13.1f} {r['remote_ipc_ratio']:>6.2f} {r['remote_ipc_overhead_us']:>9.0f} "
              f"{r['remote_tcp_steps_per_s']:>13.1f} {r['remote_tcp_ratio']:>6.2f} {r['remote_tcp_overhead_us']:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
