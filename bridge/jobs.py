"""The one job runner: a set of independent runs, on local worker processes or on a Ray cluster, resumable.

A *job* is a call `fn(**kwargs)` of an importable function that returns a JSON-serialisable dict.
`run_jobs` runs a list of them and persists every finished one as it completes, so a run folder
survives Ctrl-C, a dead worker or a dead driver, and a second call with `resume=True` does only what
is missing or failed.

Run folder layout (all JSON, written atomically by the driver — workers never touch it, so remote
nodes need no shared file system)::

    RUN_DIR/manifest.json      the grid: every job's key, fn, kwargs, resources; one entry per session
                               (engine, address, nodes, package version, code digest, start/end, outcome)
    RUN_DIR/jobs/KEY.json      one per finished job: status ok|error, result row or error line and
                               traceback, engine, node, pid, package version, code digest, wall and CPU time

Engines (same jobs, same rows, bit for bit — jobs get their inputs as values and seed themselves):
- ``local``: ``workers`` processes started by forkserver (spawn where there is none), i.e. fresh
  interpreters, not forks of a driver with live threads; ``workers=0`` runs in this process.
- ``ray``: one Ray task per job (``ray.remote`` with the job's resources, ``max_retries`` re-runs a
  task whose worker process or node died); joins ``address`` (``auto``, ``HOST:PORT``) or
  ``RAY_ADDRESS``, else starts a private single-node Ray with ``workers`` CPUs. Ray does the
  scheduling; the driver only waits for finished tasks and persists them.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import importlib.util
import json
import multiprocessing
import os
import re
import socket
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from emulator.errors import RanemuError

MANIFEST = "manifest.json"
RECORDS = "jobs"
FORMAT = 1
ENGINES = ("local", "ray")
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=,+@-]{0,199}$")
# Packages whose source decides the numbers; their digest is recorded with every row.
_CODE_PACKAGES = ("topology", "emulator", "bridge", "agents")


class JobError(RanemuError):
    """A job list or run folder that cannot be run (bad key, folder holding another grid, ...)."""


@dataclass(frozen=True)
class Job:
    """One independent run: `fn(**kwargs)`.

    key: unique, filesystem-safe id of the job within a run folder (letters, digits, ``._=,+@-``;
        at most 200 characters; not starting with a punctuation mark).
    fn: ``"package.module:function"``, importable on every node (the function, not a closure).
    kwargs: JSON-serialisable arguments — the job's whole input, shipped by value.
    resources: what one run needs from the engine, e.g. ``{"num_cpus": 1}``; ``num_cpus``,
        ``num_gpus`` and ``memory`` (bytes) are Ray's own keys, other keys are Ray custom resources.
        Ignored by the local engine (one job per worker process). Default ``{"num_cpus": 1}``.
    """

    key: str
    fn: str
    kwargs: dict
    resources: dict | None = None

    def spec(self) -> dict[str, Any]:
        return {"key": self.key, "fn": self.fn, "kwargs": self.kwargs, "resources": self.resources}


@dataclass
class JobResults:
    """What a call of `run_jobs` leaves: every finished job's row and every failed job's error.

    rows: key → the dict fn returned (after a JSON round trip, exactly as persisted), in job order,
        including jobs finished by an earlier session of a resumed run.
    errors: key → one-line error (``ExceptionType: message``) of jobs that failed or whose worker
        died beyond the retries; their tracebacks are in ``RUN_DIR/jobs/KEY.json``.
    """

    rows: dict[str, dict]
    errors: dict[str, str]
    run_dir: Path
    engine: str
    resumed: int = 0  # jobs already finished on disk, not run again
    records: dict[str, dict] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary_line(self, limit: int = 3) -> str:
        """One line: how many failed, the first `limit` keys with their errors."""
        total = len(self.rows) + len(self.errors)
        if not self.errors:
            return f"{total} of {total} jobs done"
        shown = "; ".join(f"{k}: {e}" for k, e in list(self.errors.items())[:limit])
        more = len(self.errors) - limit
        tail = f"; and {more} more" if more > 0 else ""
        return f"{len(self.errors)} of {total} jobs failed: {shown}{tail} (details: {self.run_dir / RECORDS})"


# -- provenance (driver and workers) ------------------------------------------------------------
def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ranemu")
    except PackageNotFoundError:
        return "unknown"


_DIGEST: str | None = None


def code_digest() -> str:
    """SHA-256 (first 16 hex digits) over the .py sources of ranemu's packages as this process sees them.

    Two processes with the same digest run the same code; a node whose digest differs from the
    driver's would not reproduce its numbers, so its jobs fail with a message saying so.
    """
    global _DIGEST
    if _DIGEST is None:
        h = hashlib.sha256()
        for name in _CODE_PACKAGES:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                spec = None
            if spec is None or not spec.submodule_search_locations:
                continue
            root = Path(list(spec.submodule_search_locations)[0])
            for path in sorted(root.rglob("*.py")):
                h.update(f"{name}/{path.relative_to(root).as_posix()}\0".encode())
                h.update(path.read_bytes())
        _DIGEST = h.hexdigest()[:16]
    return _DIGEST


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def resolve(fn: str):
    """``"package.module:function"`` → the function; ImportError/AttributeError say which part is wrong."""
    module, sep, name = fn.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"job function {fn!r} is not 'package.module:function'")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def execute(fn: str, kwargs: dict, node: str | None = None, expect_code: str | None = None) -> dict[str, Any]:
    """Run one job where this process is and return its record (never raises for the job's own errors).

    The record: status ``ok`` with ``result`` (fn's dict) or ``error`` with a one-line ``error`` and
    the ``traceback``; plus node, pid, package version, code digest, wall and CPU seconds.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    rec: dict[str, Any] = {"node": node or socket.gethostname(), "pid": os.getpid(),
                           "version": package_version(), "code": code_digest()}
    try:
        if expect_code is not None and rec["code"] != expect_code:
            raise RuntimeError(f"node {rec['node']} runs different ranemu code (digest {rec['code']}, "
                               f"driver {expect_code}); install the driver's version there")
        result = resolve(fn)(**kwargs)
        if not isinstance(result, dict):
            raise TypeError(f"{fn} returned {type(result).__name__}, expected a dict")
        json.dumps(result)  # fail here, with the job's key, not in the driver
        rec.update(status="ok", result=result)
    except Exception as exc:  # noqa: BLE001 — any failure of the job is its result
        rec.update(status="error", error=one_line(exc), traceback=traceback.format_exc())
    rec["wall_s"] = round(time.perf_counter() - t0, 6)
    rec["cpu_s"] = round(time.process_time() - c0, 6)  # this process's CPU time: wall_s minus waiting for a core
    return rec


def echo(**kwargs: Any) -> dict[str, Any]:
    """A job that returns its arguments: the engine's own cost per job, and a smoke test of a cluster."""
    return dict(kwargs)


def probe() -> dict[str, Any]:
    """A job that says where it ran and which ranemu it imported (host, pid, Python, version, code
    digest, path of this module): a smoke test of a cluster, and how the tests see shipped code."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "python": sys.version.split()[0],
            "version": package_version(), "code": code_digest(), "module": __file__}


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text}"


# -- the run folder ---------------------------------------------------------------------------
def _write_json(path: Path, data: Any) -> None:
    """Atomic: a reader (or a resumed run after a crash) sees the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=True), encoding="utf-8")
    os.replace(tmp, path)


def _fingerprint(spec: dict) -> str:
    return hashlib.sha256(json.dumps([spec["fn"], spec["kwargs"]], sort_keys=True).encode()).hexdigest()[:16]


def _check_jobs(jobs: list[Job]) -> list[dict]:
    specs, seen = [], set()
    for i, job in enumerate(jobs):
        if not isinstance(job, Job):
            raise JobError(f"jobs[{i}] is a {type(job).__name__}, not a Job")
        if not isinstance(job.key, str) or not _KEY_RE.match(job.key):
            raise JobError(f"job key {job.key!r} is not filesystem-safe (letters, digits, ._=,+@-; at most 200)")
        if job.key in seen:
            raise JobError(f"job key {job.key!r} is given twice")
        seen.add(job.key)
        if not isinstance(job.fn, str) or job.fn.count(":") != 1:
            raise JobError(f"job {job.key}: fn {job.fn!r} is not 'package.module:function'")
        if not isinstance(job.kwargs, dict):
            raise JobError(f"job {job.key}: kwargs is a {type(job.kwargs).__name__}, not a dict")
        try:
            spec = json.loads(json.dumps(job.spec(), allow_nan=True))
        except (TypeError, ValueError) as exc:
            raise JobError(f"job {job.key}: kwargs/resources are not JSON-serialisable ({exc})") from None
        if spec["kwargs"] != job.kwargs:
            raise JobError(f"job {job.key}: kwargs do not survive a JSON round trip unchanged "
                           "(tuples, non-string keys?); pass lists and string keys")
        spec["fingerprint"] = _fingerprint(spec)
        specs.append(spec)
    return specs


def _open_run_dir(run_dir: Path, specs: list[dict], resume: bool, description: str) -> dict:
    """Create the manifest, or check that a resumed folder holds exactly this grid."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RECORDS).mkdir(exist_ok=True)
    path = run_dir / MANIFEST
    if path.exists():
        if not resume:
            raise JobError(f"{run_dir} already holds a run; resume it (--resume) or choose another folder")
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            old = {j["key"]: j["fingerprint"] for j in manifest["jobs"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise JobError(f"{path}: unreadable manifest ({exc})") from None
        new = {s["key"]: s["fingerprint"] for s in specs}
        if old != new:
            diff = sorted(set(old) ^ set(new)) or sorted(k for k in new if old[k] != new[k])
            raise JobError(f"{run_dir} holds a different grid (first difference: job {diff[0]}); "
                           "resume with the same arguments or choose another folder")
        return manifest
    manifest = {"format": FORMAT, "description": description, "created": _now(),
                "jobs": specs, "sessions": []}
    _write_json(path, manifest)
    return manifest


def _load_records(run_dir: Path, specs: list[dict]) -> dict[str, dict]:
    """Finished jobs on disk whose record matches the manifest's job (a stale or torn file is redone)."""
    done = {}
    for spec in specs:
        path = run_dir / RECORDS / f"{spec['key']}.json"
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if rec.get("status") == "ok" and rec.get("fingerprint") == spec["fingerprint"]:
            done[spec["key"]] = rec
    return done


def read_results(run_dir: str | Path) -> JobResults:
    """The results persisted in a run folder, without running anything: rows of the finished jobs
    and errors of the failed ones, in the manifest's job order (jobs not run yet are in neither).

    Raises JobError when `run_dir` holds no run (no readable manifest).
    """
    run_dir = Path(run_dir)
    try:
        manifest = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
        specs = manifest["jobs"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JobError(f"{run_dir} holds no job run ({one_line(exc)})") from None
    records: dict[str, dict] = {}
    for spec in specs:
        try:
            rec = json.loads((run_dir / RECORDS / f"{spec['key']}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if rec.get("fingerprint") == spec.get("fingerprint"):
            records[spec["key"]] = rec
    sessions = manifest.get("sessions") or [{}]
    return JobResults(rows={k: r["result"] for k, r in records.items() if r.get("status") == "ok"},
                      errors={k: r.get("error", "") for k, r in records.items() if r.get("status") != "ok"},
                      run_dir=run_dir, engine=sessions[-1].get("engine", ""), records=records)


# -- engines ----------------------------------------------------------------------------------
def _progress(enabled: bool, description: str, total: int, completed: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn(description), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]}"),
               TimeElapsedColumn(), TimeRemainingColumn()]
    progress = Progress(*columns, console=Console(stderr=True), disable=not enabled)
    task = progress.add_task(description, total=total, completed=completed, failed="")
    return progress, task


def _run_in_process(todo: list[dict]) -> Iterator[tuple[str, dict]]:
    for spec in todo:
        yield spec["key"], execute(spec["fn"], spec["kwargs"])


def _run_local(todo: list[dict], workers: int) -> Iterator[tuple[str, dict]]:
    # forkserver: workers start from a clean process, not a fork of one with live threads (the
    # progress bar's refresh thread).
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=multiprocessing.get_context(method))
    futures = {pool.submit(execute, s["fn"], s["kwargs"]): s["key"] for s in todo}
    clean = False
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                try:
                    rec = fut.result()
                except BrokenProcessPool:
                    rec = {"status": "error", "node": socket.gethostname(),
                           "error": "WorkerDied: a local worker process died (killed or out of memory); "
                                    "this job did not finish — resume to run it again"}
                yield futures[fut], rec
        clean = True
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:  # Ctrl-C or the consumer stopped: do not wait for running jobs, end the workers
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.join(timeout=10)


def _ray_execute(fn: str, kwargs: dict, expect_code: str) -> dict[str, Any]:
    import ray

    ctx = ray.get_runtime_context()
    node = f"{ray.util.get_node_ip_address()}/{ctx.get_node_id()[:12]}"
    rec = execute(fn, kwargs, node=node, expect_code=expect_code)
    rec["attempt_task"] = ctx.get_task_id()
    return rec


def _ray_options(resources: dict | None, max_retries: int) -> dict[str, Any]:
    res = dict(resources or {"num_cpus": 1})
    opts: dict[str, Any] = {"max_retries": max_retries, "retry_exceptions": False}
    for k in ("num_cpus", "num_gpus", "memory"):
        if k in res:
            opts[k] = res.pop(k)
    opts.setdefault("num_cpus", 1)
    if res:
        opts["resources"] = res
    return opts


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, with one line, where ray.init would retry for minutes: nothing listens there.

    Checks the address Ray itself will dial (``auto`` read from this machine's latest cluster,
    localhost mapped as Ray maps it). Ray Client addresses (``ray://``) are left to Ray.
    """
    if address.startswith("ray://"):
        return
    from ray._private import services

    try:
        target = services.canonicalize_bootstrap_address(address)
    except (ConnectionError, ValueError) as exc:
        raise JobError(f"no Ray cluster at {address!r}: {one_line(exc)}") from None
    if target is None:
        return
    host, _, port = target.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except (OSError, ValueError) as exc:
        raise JobError(f"cannot reach Ray at {address} ({target}): {one_line(exc)}; "
                       "is `ray start --head` running there, and is the port open?") from None


def _ray_precheck(address: str | None) -> None:
    """Ray importable and the cluster reachable — checked before the run folder is made."""
    try:
        import ray
    except ImportError:
        raise JobError("the ray engine needs Ray: pip install 'ranemu[cluster]'") from None
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address and not ray.is_initialized():
        _check_reachable(address)


def ray_init(address: str | None, workers: int | None, ship_code: bool = False) -> bool:
    """Connect to (or start) Ray; True when this call started the connection (so it shuts it down).

    ship_code: the connection's runtime_env uploads this process's ranemu packages (Ray allows
    uploads only when the driver connects), so a driver already connected cannot ask for it.
    """
    try:
        import ray
    except ImportError:
        raise JobError("the ray engine needs Ray: pip install 'ranemu[cluster]'") from None
    if ray.is_initialized():
        wanted = address or os.environ.get("RAY_ADDRESS") or None
        if wanted and wanted not in ("auto", "local") and not wanted.startswith("ray://"):
            from ray._private import services

            current = ray.get_runtime_context().gcs_address
            try:
                target = services.canonicalize_bootstrap_address(wanted)
            except (ConnectionError, ValueError):
                target = wanted
            if target != current:
                raise JobError(f"this process is already connected to Ray at {current}, not {wanted}; "
                               "call ray.shutdown() first or leave the address out")
        if ship_code:
            raise JobError("ship_code needs run_jobs to open the Ray connection; this process is already "
                           "connected (ray.init) — pass runtime_env=bridge.jobs.code_runtime_env() to ray.init instead")
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if ship_code:
        kwargs["runtime_env"] = code_runtime_env()
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        hint = ""
        if address and os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
            hint = ("; if the cluster uses token authentication, set RAY_AUTH_MODE=token and its token "
                    "(~/.ray/auth_token or RAY_AUTH_TOKEN) here too")
        raise JobError(f"cannot reach Ray at {address or 'a new local instance'}: {one_line(exc)}{hint}") from None
    return True


def code_runtime_env() -> dict[str, Any]:
    """A Ray runtime_env that uploads this process's ranemu packages to the cluster (py_modules): the
    workers import the driver's code, whatever version the nodes have installed (they still need
    ranemu's dependencies)."""
    dirs = []
    for name in _CODE_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs.append(str(Path(list(spec.submodule_search_locations)[0])))
    return {"py_modules": dirs, "excludes": ["__pycache__", "*.pyc"]}


_RAY_NAMES = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}


def _check_feasible(specs: list[dict], nodes: list[dict]) -> None:
    """Every job fits on some alive node — Ray would otherwise keep an infeasible task waiting forever."""
    totals = [n.get("Resources", {}) for n in nodes if n.get("Alive")]
    for spec in specs:
        opts = _ray_options(spec["resources"], 0)
        demand = {_RAY_NAMES[k]: (k, opts[k]) for k in _RAY_NAMES if opts.get(k)}
        demand.update({name: (name, v) for name, v in (opts.get("resources") or {}).items() if v})
        if any(all(t.get(r, 0) >= v for r, (_, v) in demand.items()) for t in totals):
            continue
        for r, (k, v) in demand.items():
            largest = max((t.get(r, 0) for t in totals), default=0)
            if largest < v:
                raise JobError(f"job {spec['key']} needs {k}={v:g} ({r}); no node of the cluster has that much "
                               f"(largest: {largest:g})")
        raise JobError(f"job {spec['key']} needs {', '.join(f'{k}={v:g}' for k, v in demand.values())}; "
                       "no single node of the cluster has all of that")


def _run_ray(todo: list[dict], max_retries: int) -> Iterator[tuple[str, dict]]:
    import ray
    from ray.exceptions import RayError

    remote = ray.remote(_ray_execute)
    code = code_digest()
    refs = {remote.options(**_ray_options(s["resources"], max_retries)).remote(s["fn"], s["kwargs"], code): s["key"]
            for s in todo}
    pending = list(refs)
    clean = False
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    rec = ray.get(ref)
                except RayError as exc:  # worker/node died beyond max_retries, or the task was cancelled
                    rec = {"status": "error", "node": "?", "error": one_line(exc)}
                yield refs[ref], rec
        clean = True
    finally:
        if not clean:
            for ref in pending:
                ray.cancel(ref, force=True)


# -- command-line options -------------------------------------------------------------------------
def add_engine_arguments(parser) -> None:
    """The job options every command that runs jobs offers (`ranemu sweep`, experiments):
    --workers, --engine, --address, --ship-code, --resume. Read them back with `engine_options`."""
    parser.add_argument("--workers", type=int, metavar="N",
                        help="local engine: parallel processes (default: CPU count; 0 = in this process)")
    parser.add_argument("--engine", choices=ENGINES,
                        help="where the runs go: local processes, or a Ray cluster (pip install 'ranemu[cluster]'); "
                             "default: ray when --address or $RAY_ADDRESS is given, else local")
    parser.add_argument("--address", metavar="auto|HOST:PORT",
                        help="Ray cluster to join (default: $RAY_ADDRESS, else a private local Ray)")
    parser.add_argument("--ship-code", action="store_true",
                        help="ray: send this checkout's ranemu code with the jobs (nodes then need only its dependencies)")
    parser.add_argument("--resume", action="store_true",
                        help="finish the run in the output folder: keep finished runs, redo failed and missing ones")


def engine_options(args) -> dict[str, Any]:
    """Parsed `add_engine_arguments` options → keyword arguments of `run_jobs`.

    The engine is --engine, else ray when a Ray address is given (--address or $RAY_ADDRESS), else
    local. Raises JobError for --address with --engine local, a negative --workers, or --workers
    with a running cluster's address (it would be ignored).
    """
    if args.engine == "local" and args.address:
        raise JobError(f"--address {args.address} is a Ray cluster address; it needs --engine ray")
    if args.workers is not None and args.workers < 0:
        raise JobError(f"--workers must be >= 0, got {args.workers}")
    engine = args.engine or ("ray" if args.address or os.environ.get("RAY_ADDRESS") else "local")
    if engine == "ray" and args.workers is not None and (args.address or os.environ.get("RAY_ADDRESS")):
        raise JobError(f"--workers {args.workers} has no effect on a running Ray cluster (its nodes' CPUs decide); "
                       "drop it, or leave out the address to start a private local Ray with that many CPUs")
    return {"engine": engine, "workers": args.workers, "address": args.address, "resume": args.resume,
            "ship_code": args.ship_code}


# -- the runner ---------------------------------------------------------------------------------
def run_jobs(jobs: Iterable[Job], run_dir: str | Path, *, engine: str = "local", workers: int | None = None,
             address: str | None = None, resume: bool = False, progress: bool = True,
             description: str = "jobs", max_retries: int = 3, ship_code: bool = False) -> JobResults:
    """Run `jobs` (each `fn(**kwargs)` → dict) on `engine`, persisting each finished one under `run_dir`.

    engine: ``"local"`` (``workers`` processes, default the CPU count; 0 = in this process) or
        ``"ray"`` (Ray tasks; ``address`` ``"auto"``/``"HOST:PORT"``, else ``RAY_ADDRESS``, else a
        private local Ray with ``workers`` CPUs; ``max_retries`` re-runs of a task whose worker died;
        ``ship_code``: upload this process's ranemu packages with the tasks instead of using the
        nodes' installed copies). A node whose ranemu code differs from the driver's fails its jobs
        with a message saying so (its numbers would not be the driver's).
    resume: the folder may hold this same grid already; finished jobs are kept, failed and missing
        ones run again. Without it, a folder that holds a run is refused.
    Returns JobResults (rows and errors; a failed job never raises here). Raises JobError for an
    unusable job list, folder or engine, and KeyboardInterrupt on Ctrl-C after ending the running
    jobs — everything finished so far is on disk and ``resume=True`` picks it up.
    """
    if engine not in ENGINES:
        raise JobError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    if workers is not None and workers < 0:
        raise JobError(f"workers must be >= 0, got {workers}")
    jobs = list(jobs)
    specs = _check_jobs(jobs)
    run_dir = Path(run_dir)
    session: dict[str, Any] = {"engine": engine, "host": socket.gethostname(), "version": package_version(),
                               "code": code_digest(), "python": sys.version.split()[0]}
    started_ray = False
    if engine == "ray":  # connected, and every job placeable, before the run folder is made
        _ray_precheck(address)
        started_ray = ray_init(address, workers, ship_code)
        try:
            import ray

            nodes = ray.nodes()
            _check_feasible(specs, nodes)
        except BaseException:
            if started_ray:
                ray.shutdown()
            raise
        session["address"] = address or os.environ.get("RAY_ADDRESS") or "local"
        session["ship_code"] = ship_code
        session["nodes"] = [f"{n['NodeManagerAddress']}/{n['NodeID'][:12]} cpus={n['Resources'].get('CPU', 0):g}"
                            for n in nodes if n.get("Alive")]
    failed = 0
    outcome = "interrupted"
    manifest: dict | None = None
    try:
        manifest = _open_run_dir(run_dir, specs, resume, description)
        finished = _load_records(run_dir, specs) if resume else {}
        todo = [s for s in specs if s["key"] not in finished]
        by_key = {s["key"]: s for s in specs}
        session.update(started=_now(), jobs_to_run=len(todo), resumed=len(finished))
        records: dict[str, dict] = dict(finished)
        n_workers = (os.cpu_count() or 1) if workers is None else int(workers)
        if engine == "ray":
            stream = _run_ray(todo, max_retries)
        elif n_workers == 0 or len(todo) <= 1:
            session["workers"] = 0
            stream = _run_in_process(todo)
        else:
            session["workers"] = min(n_workers, len(todo))
            stream = _run_local(todo, n_workers)
        manifest["sessions"].append(session)
        _write_json(run_dir / MANIFEST, manifest)
        bar, task = _progress(progress, description, len(specs), len(finished))
        with bar:
            try:
                for key, rec in stream:
                    rec.update(key=key, fingerprint=by_key[key]["fingerprint"], engine=engine, finished=_now())
                    _write_json(run_dir / RECORDS / f"{key}.json", rec)
                    records[key] = json.loads(json.dumps(rec, allow_nan=True))
                    failed += rec["status"] != "ok"
                    bar.update(task, advance=1, failed=f"[red]{failed} failed" if failed else "")
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()  # ends the engine's workers when the loop did not finish
        outcome = "done"
    finally:
        session.update(finished=_now(), outcome=outcome, failed=failed)
        try:
            if manifest is not None and session in manifest["sessions"]:
                _write_json(run_dir / MANIFEST, manifest)
        finally:
            if started_ray:
                import ray

                ray.shutdown()
    rows = {k: records[k]["result"] for k in by_key if k in records and records[k]["status"] == "ok"}
    errors = {k: records[k]["error"] for k in by_key if k in records and records[k]["status"] != "ok"}
    return JobResults(rows=rows, errors=errors, run_dir=run_dir, engine=engine, resumed=len(finished), records=records)
