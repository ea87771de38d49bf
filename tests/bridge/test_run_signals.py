"""Real `ranemu run` processes and signals (issue 10, kinds 5-7 and 10): while waiting for agents,
while stuck inside one event, twice (during shutdown), and an agent process frozen with SIGSTOP
under hostile traffic. Every process is reaped, also when a test fails."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
import zmq

from bridge import protocol as P
from bridge.protocol import MsgType
from emulator.config import read_raw, set_dotted

REPO = Path(__file__).resolve().parents[2]
RANEMU = Path(sys.executable).with_name("ranemu")


def _scenario(tmp_path, **edits) -> Path:
    data = read_raw(REPO / "scenarios" / "quickstart.yaml")
    edits.setdefault("agents__endpoint", f"ipc://{tmp_path}/control")
    edits.setdefault("agents__pub_endpoint", None)
    edits.setdefault("output__report", False)  # a report takes seconds to draw; not what is tested
    for key, value in edits.items():
        set_dotted(data, key.replace("__", "."), value)
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return f


class Run:
    """A `ranemu run` child; `log()` is its run.log so far."""

    def __init__(self, tmp_path, scenario, *args):
        self.out = tmp_path / "runs"
        self.proc = subprocess.Popen([str(RANEMU), "run", str(scenario), "--quiet", "--out", str(self.out), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @property
    def run_dir(self) -> Path | None:
        found = list(self.out.glob("*/config.yaml")) if self.out.exists() else []
        return found[0].parent if found else None

    def log(self) -> str:
        d = self.run_dir
        try:
            return (d / "run.log").read_text() if d is not None else ""
        except FileNotFoundError:
            return ""

    def wait_log(self, text: str, timeout_s: float = 60.0, tick=None) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log():
            assert self.proc.poll() is None, f"ranemu exited {self.proc.returncode}: {self.proc.stderr.read()}"
            assert time.monotonic() < deadline, f"no {text!r} in run.log within {timeout_s} s:\n{self.log()}"
            if tick is not None:
                tick()
            time.sleep(0.05)

    def finish(self, timeout_s: float = 30.0, tick=None) -> tuple[int, str]:
        """Exit code and stderr; the process must end within `timeout_s` (a hang guard, not a timing test)."""
        deadline = time.monotonic() + timeout_s
        while self.proc.poll() is None and time.monotonic() < deadline:
            if tick is not None:
                tick()
            time.sleep(0.1)
        _, err = self.proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        return self.proc.returncode, err

    def summary(self) -> dict:
        return json.loads((self.run_dir / "summary.json").read_text())

    def reap(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=10)


class RawAgent:
    """A DEALER speaking the protocol by hand: attaches, heartbeats, and (by default) never answers."""

    def __init__(self, endpoint: str):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.last_beat = 0.0

    def send(self, msg) -> None:
        self.sock.send(P.encode(msg) if isinstance(msg, dict) else msg)

    def recv(self, timeout_s: float = 10.0, want=None) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            self.beat()
            left = deadline - time.monotonic()
            assert left > 0, f"no {want or 'message'} within {timeout_s} s"
            if self.sock.poll(min(left, 0.2) * 1e3):
                msg = P.decode(self.sock.recv(), P.HARD_FRAME_BYTES)
                if want is None or msg["type"] == want:
                    return msg

    def beat(self) -> None:
        if time.monotonic() - self.last_beat > 0.2:
            self.send(P.message(MsgType.HEARTBEAT))
            self.last_beat = time.monotonic()

    def close(self) -> None:
        self.sock.close()
        self.ctx.term()


def test_a_signal_while_waiting_for_agents_stops_at_once(tmp_path):
    run = Run(tmp_path, _scenario(tmp_path, agents__wait_agents=1, agents__wait_timeout_s=300))
    try:
        run.wait_log("agent bridge on")
        run.proc.send_signal(signal.SIGTERM)
        code, err = run.finish(30)  # before the fix: ignored until the 300 s wait timed out
    finally:
        run.reap()
    assert code == 130, err
    assert "Traceback" not in err
    s = run.summary()
    assert s["status"] == "interrupted" and s["interrupted"] is True and s["simulated_s"] == 0
    assert not list(run.run_dir.rglob("*.png"))  # the clock never ran: no report


def test_one_signal_ends_a_run_stuck_inside_one_event(tmp_path):
    # Lockstep with a 10-minute deadline and an attached agent that never answers: the first
    # decision holds the clock inside one event.
    endpoint = f"ipc://{tmp_path}/control"
    run = Run(tmp_path, _scenario(tmp_path, agents__wait_agents=1, agents__deadline_ms=600_000.0), "--until", "1000")
    agent = RawAgent(endpoint)
    try:
        run.wait_log("agent bridge on")
        agent.send(P.message(MsgType.HELLO, name="mute", roles=["slice/cell0"]))
        assert agent.recv(want="WELCOME").get("world", 0) == 0
        ind = agent.recv(want="INDICATION")
        assert ind["items"][0]["step"] == 0 and ind.get("world", 0) == 0
        run.proc.send_signal(signal.SIGTERM)
        code, err = run.finish(30, tick=agent.beat)  # before the fix: only after the 600 s deadline
    finally:
        agent.close()
        run.reap()
    assert code == 130, err
    assert "Traceback" not in err
    s = run.summary()
    assert s["status"] == "interrupted" and s["simulated_s"] == pytest.approx(1.0)  # inside step 0's decision
    assert "no event boundary within 3 s of the stop signal" in run.log()


_STUBBORN = ("import os, signal, time\n"
             "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
             "parent = os.getppid()\n"
             "while os.getppid() == parent:\n"
             "    time.sleep(0.1)\n")


def test_a_second_signal_during_shutdown_keeps_summary_json(tmp_path):
    # An agent process that ignores BYE and SIGTERM makes shutdown last ~4 s (grace, then SIGKILL).
    sc = _scenario(tmp_path, agents__processes=[{"roles": ["slice/cell0"], "command": [sys.executable, "-c", _STUBBORN]}],
                   agents__wait_agents=0)  # the stubborn process never attaches: do not wait for it
    run = Run(tmp_path, sc, "--until", "100000")
    try:
        run.wait_log("run quickstart: horizon")
        time.sleep(0.5)
        run.proc.send_signal(signal.SIGINT)
        run.wait_log("closing traces")
        run.proc.send_signal(signal.SIGTERM)  # before the fix: the default handler was back: killed
        code, err = run.finish(30)
    finally:
        run.reap()
    assert code == 130, err
    assert "Traceback" not in err
    s = run.summary()
    assert s["status"] == "interrupted" and s["simulated_s"] > 0
    assert "during shutdown: finishing the run folder first" in run.log()
    assert any(p["exit_codes"] == [-9] for p in s["bridge"]["processes"])  # the stubborn one was reaped


def _replies(agent: RawAgent, first_within_s: float = 10.0, more_within_s: float = 0.4) -> list[dict]:
    """Answers (not heartbeats or INDICATIONs): the first (waited for), then any more that arrive
    within `more_within_s` of it."""
    out = []
    deadline = time.monotonic() + first_within_s
    while time.monotonic() < deadline:
        if agent.sock.poll(50):
            msg = P.decode(agent.sock.recv(), P.HARD_FRAME_BYTES)
            if msg["type"] not in ("HEARTBEAT", "INDICATION"):
                out.append(msg)
                deadline = min(deadline, time.monotonic() + more_within_s)
    return out


def test_a_frozen_agent_reattaches_and_hostile_traffic_gets_one_reply_per_frame(tmp_path):
    endpoint = f"ipc://{tmp_path}/control"
    agent = {"roles": ["slice/cell0"], "command": ["{python}", "-m", "agents.baseline", "--endpoint", "{endpoint}",
                                                   "--role", "{role}", "--policy", "equal", "--name", "frozen"]}
    sc = _scenario(tmp_path, agents__processes=[agent], agents__wait_agents=1, agents__heartbeat_s=0.1,
                   agents__liveness=3, agents__deadline_ms=2000.0)
    run = Run(tmp_path, sc, "--until", "100000")
    hostile = RawAgent(endpoint)
    pid = None
    try:
        run.wait_log("agent frozen attached (pid ")
        pid = int(run.log().split("agent frozen attached (pid ")[1].split(")")[0])
        # hostile traffic while the run goes on: each frame gets exactly one answer
        attacks = [
            (b"\xc1\xff\x00", "decode"),
            (P.encode(P.message(MsgType.HELLO, name="x\n2026-01-01 ERROR ranemu: forged", roles=["slice/cell1"])), "schema"),
            (P.encode(P.message(MsgType.HELLO, name="x", roles=["slice/cell1"], resume="jeton-é")), "schema"),
            (P.encode(P.message(MsgType.CONTROL, step=0, actions={f"r{i}": 0.5 for i in range(1024)})), "not_attached"),
            (P.encode(P.message(MsgType.HELLO, name="intruder", roles=["slice/cell0"])), "duplicate_role"),
        ]
        for frame, code in attacks:
            hostile.sock.send(frame)
            (reply,) = _replies(hostile)
            assert reply["code"] == code, reply
        hostile.sock.send_multipart([b"a", b"b"])
        assert [r["code"] for r in _replies(hostile)] == ["bad_frame"]
        # freeze the agent longer than heartbeat x liveness, then let it go on
        os.kill(pid, signal.SIGSTOP)
        run.wait_log("agent frozen detached")
        time.sleep(0.3)
        os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + 30
        while run.log().count("agent frozen attached") < 2:  # before the fix: usually never again
            assert time.monotonic() < deadline, run.log()
            time.sleep(0.05)
        run.proc.send_signal(signal.SIGTERM)
        code, err = run.finish(30)
    finally:
        if pid is not None:
            try:
                os.kill(pid, signal.SIGCONT)  # a stopped child could not leave on BYE
            except ProcessLookupError:
                pass
        hostile.close()
        run.reap()
    assert code == 130, err
    log_text = run.log()
    assert "Traceback" not in log_text and "Traceback" not in err
    assert not any(line.startswith("2026-01-01") for line in log_text.splitlines())  # no forged line
    s = run.summary()
    assert s["bridge"]["attaches"] == 2 and s["bridge"]["detaches"] >= 1
    sent = dict(s["bridge"]["failures_sent"])
    assert sent.pop("not_attached") >= 1  # the hostile CONTROL, plus the thawed agent's heartbeats
    assert sent == {"decode": 1, "schema": 2, "bad_frame": 1} and s["bridge"]["rejects"] == 1
