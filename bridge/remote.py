"""Gymnasium and PettingZoo environments over the wire: the same envs as bridge.envs, served remotely.

`RemoteEnv(endpoint, role)` and `RemoteParallelEnv(endpoint, roles)` attach to a running emulator
(`ranemu run FILE --wait-agents N`) as an agent (HELLO → WELCOME) and expose the spaces the WELCOME
advertises, with the same action adapters, seeds and episode mapping as the in-process envs (see
bridge.envs): agent code written against one runs against the other unchanged.

- `reset(seed=)` sends RESET(seed): the emulator restarts its world in place (never a process) and
  the next INDICATION is the first epoch of the fresh world. Indications the emulator sent before
  it saw the RESET are recognised (they precede its ACK) and dropped.
- `step(action)` sends CONTROL for the indicated step and waits for the next INDICATION. An action
  the control point refuses comes back as FAILURE(invalid_action) and shows up, with the same
  reason text as in-process, in `info["rejected"]`; a CONTROL that missed the emulator's deadline
  shows up as "stale: ...".
- The emulator's lockstep deadline (`agents.deadline_ms`) bounds how long the agent may think per
  step; training that pauses between steps (gradient updates) wants a generous deadline.
- The run's end: the last epoch before the scenario's `duration` is flagged truncated, as
  in-process; if the emulator ends the run first (`--until`, Ctrl-C) the episode ends with the last
  observation, reward 0 and `info["end"]`, and the next reset() raises `ServerBye`.

- A parallel env's roles must arrive in one INDICATION (the world raises them in one decision, as
  the RAN does for its cells); in-process, points of one instant raised separately are gathered,
  over the wire they cannot be. An agent removed mid-episode (terminated) sends no CONTROL: the
  emulator waits its deadline for it, then falls back.

`launch_emulator` starts `ranemu run` as a child process for remote envs to attach to;
`env_steps_per_second` measures in-process against remote steps/s for the benchmark.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from bridge.client import AgentClient, Indication as WireIndication, ServerBye, Welcome
from bridge.envs import PointEnv, PointsParallelEnv, _check_render_mode, mark_horizon
from emulator.control import Indication

# How long a reset may wait for the fresh world's first indication (a world build can take time).
RESET_TIMEOUT_S = 60.0


class RemoteDriver:
    """A world in an emulator process: this driver's `points` are the roles it attaches for."""

    def __init__(self, endpoint: str, roles: Sequence[str], name: str = "remote-env", timeout_s: float = 10.0,
                 curve: Mapping | None = None):
        self.points = list(roles)
        self.client = AgentClient(endpoint, self.points, name=name, curve=curve, timeout_s=timeout_s,
                                  ack="failures")
        self.timeout_s = float(timeout_s)
        try:
            self.welcome: Welcome = self.client.connect()
        except BaseException:
            self.client.close()
            raise
        w = self.welcome
        if w.seed is None or w.duration_s is None:
            self.client.close()
            raise RuntimeError(f"the emulator at {endpoint} does not advertise its seed and duration in WELCOME "
                               "(an older protocol); remote envs need both")
        self.base_seed = int(w.seed)
        self.duration_s = float(w.duration_s)
        self._step: int | None = None
        self.end_reason = "no further decision epoch before the horizon"

    def describe(self) -> dict[str, dict]:
        roles = self.welcome.roles
        return {p: {"name": p, "kind": roles[p].kind, "observation_space": dict(roles[p].observation_space),
                    "action_space": dict(roles[p].action_space), "decision_period": roles[p].decision_period,
                    "policies": list(roles[p].policies)} for p in self.points}

    def _accept(self, batch: list[WireIndication]) -> dict[str, Indication]:
        periods = self.welcome.roles
        out = {}
        for w in batch:
            ind = Indication(w.role, w.step, w.time, w.observation, float(w.reward), w.terminated, w.truncated,
                             dict(w.info))
            out[w.role] = mark_horizon(ind, periods[w.role].decision_period, self.duration_s)
        steps = {ind.step for ind in out.values()}
        self._step = steps.pop() if len(steps) == 1 else None
        return out

    def reset(self, seed: int) -> dict[str, Indication]:
        if self.client.welcome is None:
            raise ServerBye(f"{self.end_reason}; a new episode needs a running emulator")
        self.client.reset(int(seed))
        deadline = time.monotonic() + RESET_TIMEOUT_S
        while True:
            batch = self.client.recv(timeout_s=max(0.0, deadline - time.monotonic()))
            # In-order delivery: what arrives after the RESET's ACK belongs to the fresh world.
            if self.client.last_reset_ack:
                break
        self.client.pop_failures()
        return self._accept(batch)

    def step(self, actions: Mapping[str, Any]) -> tuple[dict[str, Indication], dict[str, str]]:
        if self._step is None:
            raise RuntimeError("no decision is pending (reset first; one env's roles must share their steps)")
        step = self._step
        wire = {p: np.asarray(a) for p, a in actions.items() if a is not None}
        if wire:
            self.client.send_control(wire, step)
        try:
            batch = self.client.recv()
        except ServerBye as bye:
            batch = []
            self.end_reason = f"the emulator ended the run ({bye.reason or 'BYE'})"
        errors = {}
        for f in self.client.pop_failures():
            if f.role in actions and f.step == step:
                errors[f.role] = f.message if f.code == "invalid_action" else f"{f.code}: {f.message}"
        if not batch:
            self._step = None
            return {}, errors
        return self._accept(batch), errors

    def close(self) -> None:
        self.client.close("env closed")


class RemoteParallelEnv(PointsParallelEnv):
    """PettingZoo parallel env over an emulator process; agents are the `roles` it attaches for.

    `actions` ("adapted" by default, as in-process), `observations`: see bridge.envs. No render
    modes: the world is in another process (its run folder has the report plots).
    """

    def __init__(self, endpoint: str, roles: Sequence[str], *, actions: str = "adapted", observations: str = "box",
                 render_mode: str | None = None, name: str = "remote-env", timeout_s: float = 10.0,
                 curve: Mapping | None = None):
        _check_render_mode(render_mode, self.metadata["render_modes"])
        super().__init__(RemoteDriver(endpoint, roles, name=name, timeout_s=timeout_s, curve=curve), actions,
                         observations, render_mode)


class RemoteEnv(PointEnv):
    """Gymnasium env for one control point (`role`) of an emulator process.

    `actions` ("adapted" by default, as in-process `EmulationEnv`; pass "normalized" to match
    `cell_env`), `observations`: see bridge.envs.
    """

    def __init__(self, endpoint: str, role: str, *, actions: str = "adapted", observations: str = "box",
                 render_mode: str | None = None, name: str = "remote-env", timeout_s: float = 10.0,
                 curve: Mapping | None = None):
        _check_render_mode(render_mode, self.metadata["render_modes"])
        super().__init__(RemoteDriver(endpoint, [role], name=name, timeout_s=timeout_s, curve=curve), role, actions,
                         observations, render_mode)


def env_steps_per_second(make_env: Callable[[], Any], policy: Callable[[np.ndarray], Any], steps: int,
                         seed: int = 0) -> dict[str, float]:
    """Steps/s of a Gymnasium env built by `make_env()` under `policy(obs)`, resetting at episode ends.

    Returns {"steps", "episodes", "wall_s", "steps_per_s"}; the env is closed afterwards.
    """
    env = make_env()
    try:
        obs, _ = env.reset(seed=seed)
        episodes = 1
        t0 = time.perf_counter()
        for _ in range(steps):
            obs, _, term, trunc, _ = env.step(policy(obs))
            if term or trunc:
                obs, _ = env.reset()
                episodes += 1
        wall = time.perf_counter() - t0
    finally:
        env.close()
    return {"steps": float(steps), "episodes": float(episodes), "wall_s": wall, "steps_per_s": steps / wall}


@dataclass
class EmulatorProcess:
    """A `ranemu run` child process serving agents on `endpoint`."""

    endpoint: str
    process: subprocess.Popen
    log_path: Path
    log_text: str = ""  # its output, kept when the process has been reaped

    def log(self) -> str:
        if self.log_path.exists():
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        return self.log_text


@contextmanager
def launch_emulator(path: str | Path, params: Sequence[str] = (), wait_agents: int = 1,
                    out: str | Path | None = None, grace_s: float = 30.0,
                    endpoint: str | None = None) -> Iterator[EmulatorProcess]:
    """`ranemu run PATH --wait-agents N` as a child process, by default on a private ipc endpoint
    (`endpoint`: e.g. tcp://127.0.0.1:PORT instead).

    Yields an EmulatorProcess to attach remote envs to. On exit the process gets `grace_s` to
    finish its run (it does once its agents have left), then SIGTERM, then SIGKILL: it is always
    reaped. `params` are extra `PATH=VALUE` scenario overrides; `out` is the runs folder (default:
    a temporary folder, removed afterwards).
    """
    with tempfile.TemporaryDirectory(prefix="ranemu-env-") as tmp:
        endpoint = endpoint or f"ipc://{tmp}/agents.sock"
        cmd = [sys.executable, "-m", "bridge.cli", "run", str(path), "--wait-agents", str(int(wait_agents)),
               "--quiet", "--out", str(out if out is not None else Path(tmp) / "runs"),
               "--param", f"agents.endpoint={endpoint}", "--param", "agents.pub_endpoint=null"]
        for p in params:
            cmd += ["--param", p]
        log_path = Path(tmp) / "emulator.log"
        with open(log_path, "w", encoding="utf-8") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])
        emu = EmulatorProcess(endpoint, proc, log_path)
        try:
            yield emu
        finally:
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                proc.terminate()  # the runner stops cleanly on SIGTERM: BYE, traces closed
                try:
                    proc.wait(timeout=10.0)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            emu.log_text = emu.log()
