"""Job runner cost: the MEC Fig. 9 sweep on local processes and on a two-node Ray cluster on this machine.

Runs `scenarios/mec-dirs.yaml` over mec.num_devices 10:100:10 × POLICIES × SEEDS seeds through
`bridge.sweep.run_sweep`, (1) on `--workers` local processes and (2) on a Ray cluster of two nodes
of `--cpus-per-node` CPUs each, started here on 127.0.0.1 (`ray.cluster_utils.Cluster`). Prints
the wall time of each, whether the two sweep.csv files are identical, the engine overhead per job
((wall × CPUs − Σ job wall) / jobs, from the run folders' job records), the per-task cost of Ray on
a no-op job, and the peak resident memory of the Ray processes (GCS, raylets, agents, workers;
sampled every 0.2 s from /proc). Minutes long; not part of `make test`.

    .venv/bin/python benchmarks/bench_jobs.py [--seeds 5] [--policies local,random,greedy,optimal] [--quick]
"""
from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# Loopback only: Ray maps 127.0.0.1 to the host's address on Linux unless its cluster switch is off.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.pop("RAY_ADDRESS", None)

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "mec-dirs.yaml"


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        for c in children.get(pid, []):
            out.append(c)
            todo.append(c)
    return out


class PeakRss:
    """Peak of the summed RSS of this process's descendants (the Ray processes it started)."""

    def __init__(self, period_s: float = 0.2):
        self.period_s, self.peak_kib, self.peak_procs = period_s, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = os.getpid()
        while not self._stop.is_set():
            pids = _descendants(me)
            total = sum(_rss_kib(p) for p in pids)
            if total > self.peak_kib:
                self.peak_kib, self.peak_procs = total, len(pids)
            self._stop.wait(self.period_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def job_overhead(run_dir: Path, wall: float, cpus: int) -> tuple[float, float, float]:
    """(wall × CPUs − Σ job wall) / jobs, Σ job wall, Σ job CPU seconds (from the job records)."""
    recs = [json.loads(p.read_text()) for p in (run_dir / "jobs").glob("*.json")]
    busy = sum(r.get("wall_s", 0.0) for r in recs)
    cpu = sum(r.get("cpu_s", 0.0) for r in recs)
    return (wall * cpus - busy) / max(1, len(recs)), busy, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--policies", default="local,random,greedy,optimal")
    ap.add_argument("--workers", type=int, default=2, help="local processes")
    ap.add_argument("--cpus-per-node", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="2 points x 1 seed (a smoke run)")
    args = ap.parse_args()

    import ray
    import ray._private.ray_constants as ray_constants
    from ray.cluster_utils import Cluster

    from bridge.jobs import Job, run_jobs
    from bridge.sweep import run_sweep

    ray_constants.ENABLE_RAY_CLUSTER = False
    params = ["mec.num_devices=10:20:10" if args.quick else "mec.num_devices=10:100:10"]
    seeds = 1 if args.quick else args.seeds
    policies = args.policies.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    print(f"sweep: {SCENARIO.name} {params[0]} x {','.join(policies)} x {seeds} seeds; run folders in {tmp}")

    t0 = time.perf_counter()
    local = run_sweep(SCENARIO, params, policies, tmp / "local", workers=args.workers, seeds=seeds, progress=False)
    local_wall = time.perf_counter() - t0
    n = len(local.results.rows) + len(local.results.errors)
    ovh, busy, cpu = job_overhead(local.out, local_wall, args.workers)
    print(f"local, {args.workers} processes: {n} jobs ({len(local.results.errors)} failed) in {local_wall:.1f} s; "
          f"job wall {busy:.1f} s, job CPU {cpu:.1f} s; overhead per job {ovh * 1e3:.0f} ms; load {os.getloadavg()[0]:.1f}")

    with PeakRss() as mem:
        t0 = time.perf_counter()
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": args.cpus_per_node, "include_dashboard": False,
                                                                "node_ip_address": "127.0.0.1"})
        try:
            cluster.add_node(num_cpus=args.cpus_per_node, node_ip_address="127.0.0.1")
            cluster.wait_for_nodes()
            start_s = time.perf_counter() - t0
            cpus = 2 * args.cpus_per_node
            t0 = time.perf_counter()
            remote = run_sweep(SCENARIO, params, policies, tmp / "ray", engine="ray", address=cluster.address,
                               seeds=seeds, progress=False)
            ray_wall = time.perf_counter() - t0
            ovh_r, busy_r, cpu_r = job_overhead(remote.out, ray_wall, cpus)
            load_r = os.getloadavg()[0]
            noop = [Job(key=f"n{i}", fn="bridge.jobs:echo", kwargs={"i": i}) for i in range(200)]
            t0 = time.perf_counter()
            run_jobs(noop, tmp / "noop", engine="ray", address=cluster.address, progress=False)
            noop_wall = time.perf_counter() - t0
        finally:
            if ray.is_initialized():
                ray.shutdown()
            cluster.shutdown()
    same = (local.out / "sweep.csv").read_bytes() == (remote.out / "sweep.csv").read_bytes()
    nodes = {json.loads(p.read_text())["node"] for p in (remote.out / "jobs").glob("*.json")}
    print(f"ray, 2 nodes x {args.cpus_per_node} CPU: cluster start {start_s:.1f} s; {n} jobs in {ray_wall:.1f} s "
          f"on {len(nodes)} nodes; job wall {busy_r:.1f} s, job CPU {cpu_r:.1f} s; overhead per job {ovh_r * 1e3:.0f} ms; "
          f"load {load_r:.1f}")
    print(f"ray no-op jobs: 200 in {noop_wall:.1f} s = {noop_wall / 200 * 1e3:.1f} ms per job (incl. connect)")
    print(f"sweep.csv identical on both engines: {same}")
    print(f"peak RSS of the Ray processes: {mem.peak_kib / 1024:.0f} MiB over {mem.peak_procs} processes")


if __name__ == "__main__":
    main()
