"""Agent processes a run starts by command line: spawn, watch, restart by policy, and always reap."""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from emulator.config import AgentProcessConfig

log = logging.getLogger("ranemu.bridge")

# Environment an agent process finds (the SDK reads these when no flags are given).
ENV_ENDPOINT = "RANEMU_ENDPOINT"
ENV_ROLES = "RANEMU_ROLES"
# The supervisor's pid: an agent whose parent is no longer this pid was orphaned and exits.
ENV_SUPERVISOR_PID = "RANEMU_SUPERVISOR_PID"


def expand_command(command: list[str], endpoint: str, roles: list[str]) -> list[str]:
    """Substitute {endpoint}, {role} (the first role), {roles} (comma-separated) and {python}."""
    values = {"endpoint": endpoint, "role": roles[0], "roles": ",".join(roles), "python": sys.executable}
    out = []
    for arg in command:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", value)
        out.append(arg)
    return out


@dataclass
class AgentProcess:
    """One configured agent process and its restart history."""

    index: int
    spec: AgentProcessConfig
    argv: list[str]
    log_path: Path | None
    proc: subprocess.Popen | None = None
    restarts: int = 0
    exits: list[int] = field(default_factory=list)
    restart_at: float | None = None
    given_up: bool = False
    done: bool = False  # the current process has exited and its exit was handled

    @property
    def label(self) -> str:
        return f"agent process {self.index} ({' '.join(self.spec.roles)[:60]})"

    def describe(self) -> dict:
        return {"index": self.index, "roles": list(self.spec.roles), "argv": self.argv,
                "pid": None if self.proc is None else self.proc.pid,
                "running": self.proc is not None and self.proc.poll() is None,
                "restarts": self.restarts, "exit_codes": list(self.exits), "given_up": self.given_up,
                "log": None if self.log_path is None else str(self.log_path)}


class Supervisor:
    """Starts the configured agent processes and keeps them running per their restart policy.

    A watcher thread notices exits (logged with the code and the log file), reports them through
    `on_exit(pid, code)` so the bridge can detach that agent at once, and restarts with a backoff.
    `stop()` terminates, waits, then kills — every child is reaped.
    """

    def __init__(self, specs: list[AgentProcessConfig], endpoint: str, run_dir: Path | None = None,
                 env: dict[str, str] | None = None, on_exit: Callable[[int, int], None] | None = None,
                 poll_s: float = 0.05):
        self.endpoint = endpoint
        self.env_extra = dict(env or {})
        self.on_exit = on_exit
        self.poll_s = poll_s
        self.procs: list[AgentProcess] = []
        log_dir = None if run_dir is None else Path(run_dir) / "agents"
        for i, spec in enumerate(specs):
            argv = expand_command(spec.command, endpoint, spec.roles)
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(spec.roles))[:60]
            path = None if log_dir is None else log_dir / f"{i:02d}-{slug}.log"
            self.procs.append(AgentProcess(i, spec, argv, path))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        for p in self.procs:
            self._spawn(p)
        if self.procs:
            self._thread = threading.Thread(target=self._watch, name="ranemu-supervisor", daemon=True)
            self._thread.start()

    def _spawn(self, p: AgentProcess) -> None:
        env = dict(os.environ)
        env.update(self.env_extra)
        env[ENV_ENDPOINT] = self.endpoint
        env[ENV_ROLES] = ",".join(p.spec.roles)
        env[ENV_SUPERVISOR_PID] = str(os.getpid())
        out = None
        if p.log_path is not None:
            p.log_path.parent.mkdir(parents=True, exist_ok=True)
            out = open(p.log_path, "ab")
        try:
            # A new session: Ctrl-C in the terminal reaches the run only, which then says BYE and
            # reaps the agents in order instead of them dying mid-message.
            p.proc = subprocess.Popen(p.argv, stdin=subprocess.DEVNULL, stdout=out,
                                      stderr=subprocess.STDOUT if out else None, env=env,
                                      start_new_session=True)
        except OSError as exc:
            p.proc = None
            p.exits.append(127)
            log.error("%s: cannot start %s: %s", p.label, p.argv, exc)
            self._after_exit(p, 127)
        finally:
            if out is not None:
                out.close()
        p.done = p.proc is None
        if p.proc is not None:
            log.info("%s started: pid %d: %s", p.label, p.proc.pid, " ".join(p.argv))

    def _after_exit(self, p: AgentProcess, code: int) -> None:
        policy = p.spec.restart
        wants = policy == "always" or (policy == "on-failure" and code != 0)
        if wants and p.restarts < p.spec.max_restarts and not self._stop.is_set():
            # Backoff so a command that fails at once does not spin: 0.2, 0.4, 0.8 ... 5 s.
            p.restart_at = time.monotonic() + min(5.0, 0.2 * 2 ** p.restarts)
        else:
            p.restart_at = None
            p.given_up = wants
            if wants:
                log.error("%s: exited with code %d; restart limit %d reached", p.label, code, p.spec.max_restarts)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.poll()

    def poll(self) -> None:
        """Notice exits and run due restarts (the watcher thread calls this)."""
        with self._lock:
            if self._stop.is_set():
                return
            now = time.monotonic()
            for p in self.procs:
                if p.proc is not None and not p.done:
                    code = p.proc.poll()
                    if code is not None:
                        pid = p.proc.pid
                        p.exits.append(code)
                        where = f"; see {p.log_path}" if p.log_path else ""
                        (log.info if code == 0 else log.warning)("%s (pid %d) exited with code %d%s",
                                                                 p.label, pid, code, where)
                        if self.on_exit is not None:
                            self.on_exit(pid, code)
                        self._after_exit(p, code)
                        p.done = True
                if p.restart_at is not None and now >= p.restart_at:
                    p.restart_at = None
                    p.restarts += 1
                    log.warning("%s: restart %d of %d", p.label, p.restarts, p.spec.max_restarts)
                    self._spawn(p)

    def stop(self, grace_s: float = 2.0, term_s: float = 2.0) -> None:
        """Wait `grace_s` for agents to leave after BYE, then SIGTERM, wait `term_s`, SIGKILL; reap all."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        with self._lock:
            live = [p.proc for p in self.procs if p.proc is not None and p.proc.poll() is None]
            deadline = time.monotonic() + grace_s
            for proc in live:
                _wait(proc, deadline - time.monotonic())
            for proc in live:
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + term_s
            for proc in live:
                _wait(proc, deadline - time.monotonic())
            for proc in live:
                if proc.poll() is None:
                    log.warning("agent pid %d ignored SIGTERM; killing it", proc.pid)
                    proc.kill()
                    proc.wait()
            for p in self.procs:
                if p.proc is not None and not p.done:
                    p.exits.append(p.proc.returncode)
                    p.done = True

    # -- queries --------------------------------------------------------------------------------
    def pids(self) -> set[int]:
        return {p.proc.pid for p in self.procs if p.proc is not None and p.proc.poll() is None}

    def all_given_up(self) -> bool:
        """True when no configured process runs or will be restarted (waiting for them is pointless)."""
        with self._lock:  # the watcher marks an exit and schedules its restart as one step
            return bool(self.procs) and all(p.done and p.restart_at is None for p in self.procs)

    @property
    def restarts(self) -> int:
        return sum(p.restarts for p in self.procs)

    def describe(self) -> list[dict]:
        with self._lock:
            return [p.describe() for p in self.procs]


def _wait(proc: subprocess.Popen, timeout: float) -> None:
    try:
        proc.wait(timeout=max(0.0, timeout))
    except subprocess.TimeoutExpired:
        pass
