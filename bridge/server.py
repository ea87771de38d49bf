"""The emulator side of the agent bridge: a ROUTER serving control points, a PUB for telemetry.

`AgentBridge` installs itself as the emulation's decider. In lockstep (clock `fast`) a decision
round sends one INDICATION per attached agent and waits until every awaited point is answered or
the wall-clock deadline passes; in real time it never blocks: actions apply as they arrive, misses
fall back at their deadline. Points no agent serves use the in-process policies.
"""
from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from array import array
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import zmq

from bridge import protocol as P
from bridge.protocol import Code, MsgType, ProtocolError
from bridge.supervisor import Supervisor
from emulator.config import AgentsConfig, endpoint_is_local
from emulator.control import ControlPoint, Indication
from emulator.decisions import AGENT, FALLBACK, INVALID, STALE
from emulator.emulation import DEFERRED, Emulation, PolicyDecider, ResetRequested
from emulator.errors import ActionError, RanemuError

log = logging.getLogger("ranemu.bridge")

# Environment through which supervised agents receive their CURVE credentials (same user only).
ENV_CURVE_SERVER = "RANEMU_CURVE_SERVER_KEY"
ENV_CURVE_PUBLIC = "RANEMU_CURVE_PUBLIC_KEY"
ENV_CURVE_SECRET = "RANEMU_CURVE_SECRET_KEY"

# Plain ints: pyzmq's flag enums build a new enum object on every `|` and `&` (~1 us each).
_NOBLOCK = int(zmq.NOBLOCK)
_SEND_MORE = int(zmq.SNDMORE | zmq.NOBLOCK)
_POLLIN = int(zmq.POLLIN)
_RTT_SAMPLES = 1 << 16  # ring buffer of recent round-trip samples (bounded memory on long runs)
STATUS_TOPIC = "bridge.status"  # telemetry: agents, per-point answered/fallback/stale, RTT, lateness
STATUS_EVERY_S = 0.5  # wall seconds between status messages
_RECENT = 512  # samples behind the status message's RTT and lateness percentiles


def is_local_endpoint(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// on a loopback address (127.0.0.0/8, [::1], localhost, lo);
    RanemuError for a malformed endpoint."""
    try:
        return endpoint_is_local(endpoint)
    except ValueError as exc:
        raise RanemuError(str(exc)) from None


def wants_ipv6(endpoint: str) -> bool:
    """A tcp endpoint on a bracketed IPv6 address: ZeroMQ sockets need the IPV6 option for it."""
    scheme, _, rest = endpoint.partition("://")
    return scheme == "tcp" and rest.startswith("[")


def rt_poll_period(emu: Emulation) -> float:
    """Simulated seconds between real-time polls: at least once per TTI and every wall millisecond."""
    return min(emu.tti, 1e-3 * emu.scenario.clock.realtime_factor)


class _Ring:
    """Fixed-size ring of float samples (milliseconds) with percentiles."""

    def __init__(self, size: int = _RTT_SAMPLES):
        # array.array, not numpy: storing one Python float is a plain C store, not a trip through
        # numpy's item assignment (this runs once per message on the decision path).
        self.buf = array("d", bytes(8 * size))
        self.size = size
        self.n = 0

    def add(self, x: float) -> None:
        self.buf[self.n % self.size] = x
        self.n += 1

    def recent(self, k: int = _RECENT) -> np.ndarray:
        """The last up to `k` samples (oldest first)."""
        m = min(self.n, self.size, k)
        idx = (np.arange(self.n - m, self.n) % self.size)
        return np.frombuffer(self.buf, dtype=np.float64)[idx]

    def stats(self) -> dict[str, float]:
        if self.n == 0:
            return {"n": 0}
        s = np.frombuffer(self.buf, dtype=np.float64)[: min(self.n, self.size)]
        return {"n": self.n, "p50_ms": float(np.percentile(s, 50)), "p99_ms": float(np.percentile(s, 99)),
                "max_ms": float(s.max())}


@dataclass(eq=False)
class _Session:
    identity: bytes
    name: str
    roles: list[str]
    pid: int | None
    token: str
    ack_all: bool
    last_recv: float
    last_send: float
    attached_at: float


@dataclass
class _Await:
    """A decision a remote agent owes: point, step, who, when sent, and (real time) until when."""

    step: int
    session: _Session
    sent: float
    deadline: float


@dataclass
class _PointStats:
    answered: int = 0
    fallbacks: int = 0
    detached: int = 0  # of the fallbacks: the point's agent was not attached at the epoch
    stale: int = 0
    invalid: int = 0
    local: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Counters:
    attaches: int = 0
    detaches: int = 0
    rejects: int = 0
    resets: int = 0
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class AgentBridge:
    """Serves an emulation's control points to agents over ZeroMQ (see bridge/PROTOCOL.md).

    `start()` binds, becomes `emu.decider` and a telemetry sink, and starts the configured agent
    processes; `wait_for_agents(n, timeout_s)`; then `emu.run()`; `stats()`; `close()`.
    """

    def __init__(self, emu: Emulation, cfg: AgentsConfig, run_dir: Path | None = None,
                 max_frame_bytes: int = P.MAX_FRAME_BYTES):
        self.emu = emu
        self.cfg = cfg
        self.run_dir = run_dir
        self.max_frame_bytes = max_frame_bytes
        self.endpoint: str | None = None
        self.pub_endpoint: str | None = None
        self._local = PolicyDecider(cfg.policies)
        self._ctx: zmq.Context | None = None
        self._router: zmq.Socket | None = None
        self._pub: zmq.Socket | None = None
        self._auth = None
        self._allowed_keys: set[bytes] = set()
        self._supervisor: Supervisor | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self._sessions: dict[bytes, _Session] = {}
        self._owner: dict[str, _Session] = {}
        # Points an agent serves or is configured to serve: while none is attached they fall
        # back (hold/default, counted) instead of silently switching to an in-process policy.
        self._remote_points: set[str] = {r for p in cfg.processes for r in p.roles}
        self._await: dict[str, _Await] = {}
        self._answers: dict[str, Any] = {}
        self._resolved: dict[str, tuple[int, str]] = {}
        self._indicated: dict[str, int] = {}
        self._missed: dict[str, _Await] = {}  # per point, the last decision it missed: a stale row's timing
        self._prov: dict[str, tuple[str, str, float, float]] = {}  # lockstep answers of this round
        self._rt_inbox: deque[tuple[bytes, dict, float]] = deque()
        self._rt_env = None
        self._exited_pids: deque[int] = deque()
        self._reset_request: tuple[int | None] | None = None
        # Which world the decisions belong to: counts RESETs. INDICATIONs carry it and a CONTROL that
        # names an earlier world is refused (steps restart at 0 in a fresh world, so a late answer
        # to the old world's step 0 would otherwise pass for the new world's).
        self._world = 0
        self._seq = 0
        self._points: dict[str, _PointStats] = defaultdict(_PointStats)
        self._counters = _Counters()
        self._rtt = _Ring()
        self._round = _Ring()
        self._in_decide = False
        self._next_housekeep = 0.0
        self._next_status = 0.0
        self._rcvtimeo = -1
        self.started = False
        self.closed = False

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "AgentBridge":
        if self.started:
            return self
        cfg = self.cfg
        curve = cfg.curve
        for ep in (cfg.endpoint, cfg.pub_endpoint):
            if ep is not None and not is_local_endpoint(ep) and curve is None:
                raise RanemuError(
                    f"refusing to bind {ep}: it is not loopback or ipc, and agents.curve is not set. "
                    "Make keys with `ranemu keys DIR` and set agents.curve.server_secret_key and "
                    "agents.curve.authorized_keys, or bind tcp://127.0.0.1:PORT / ipc://PATH."
                )
        self._ctx = zmq.Context()
        try:
            server_keys = None
            if curve is not None:
                from zmq.auth.thread import ThreadAuthenticator

                from bridge.keys import authorized_keys, load_secret

                server_keys = load_secret(curve.server_secret_key)
                self._allowed_keys |= authorized_keys(curve.authorized_keys)  # keeps allow_key()'s
                self._auth = ThreadAuthenticator(self._ctx, log=logging.getLogger("ranemu.bridge.auth"))
                self._auth.start()
                self._auth.configure_curve_callback(domain="*", credentials_provider=self)
            self._router = self._ctx.socket(zmq.ROUTER)
            r = self._router
            r.setsockopt(zmq.LINGER, 0)
            r.setsockopt(zmq.ROUTER_MANDATORY, 1)  # sending to a vanished agent raises, not drops
            r.setsockopt(zmq.MAXMSGSIZE, P.HARD_FRAME_BYTES)
            r.setsockopt(zmq.SNDHWM, 10000)
            r.setsockopt(zmq.RCVHWM, 10000)
            if server_keys is not None:
                r.curve_publickey, r.curve_secretkey = server_keys
                r.curve_server = True
            self.endpoint = self._bind(r, cfg.endpoint)
            if cfg.pub_endpoint is not None:
                self._pub = self._ctx.socket(zmq.PUB)
                self._pub.setsockopt(zmq.LINGER, 0)
                self._pub.setsockopt(zmq.SNDHWM, 10000)
                if server_keys is not None:
                    self._pub.curve_publickey, self._pub.curve_secretkey = server_keys
                    self._pub.curve_server = True
                self.pub_endpoint = self._bind(self._pub, cfg.pub_endpoint)
        except BaseException:
            self._close_sockets()
            raise
        self.emu.decider = self
        if self._pub is not None:  # without a PUB socket the world need not build telemetry at all
            self.emu.telemetry.append(self._publish)
        self.started = True
        if cfg.processes:
            env = {}
            if server_keys is not None:
                pub, sec = zmq.curve_keypair()  # an ephemeral identity for our own children
                self._allowed_keys.add(pub)
                env = {ENV_CURVE_SERVER: server_keys[0].decode(), ENV_CURVE_PUBLIC: pub.decode(),
                       ENV_CURVE_SECRET: sec.decode()}
            self._supervisor = Supervisor(cfg.processes, self.endpoint, self.run_dir, env=env,
                                          on_exit=lambda pid, code: self._exited_pids.append(pid))
            self._supervisor.start()
        self._keeper = threading.Thread(target=self._keep, name="ranemu-bridge-keeper", daemon=True)
        self._keeper.start()
        log.info("agent bridge on %s (telemetry %s), clock %s, deadline %g ms", self.endpoint,
                 self.pub_endpoint, "realtime" if self.emu.realtime else "lockstep", cfg.deadline_ms)
        return self

    def _bind(self, sock: zmq.Socket, endpoint: str) -> str:
        is_local_endpoint(endpoint)  # a malformed endpoint: one clear line, before ZeroMQ's own
        if wants_ipv6(endpoint):
            sock.setsockopt(zmq.IPV6, 1)  # off by default: an IPv6 address would not bind at all
        try:
            sock.bind(endpoint)
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EADDRINUSE:
                hint = "is another run using it? set agents.endpoint / agents.pub_endpoint"
            elif exc.errno == zmq.EADDRNOTAVAIL:
                hint = "no interface of this host has that address"
            else:
                hint = "check agents.endpoint / agents.pub_endpoint"
            raise RanemuError(f"cannot bind {endpoint}: {exc} ({hint})") from None
        return sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def allow_key(self, public_z85: bytes) -> None:
        """Also accept this CURVE client key, e.g. the run's own dashboard process. Call it before
        `start()`: a client refused once by the ZAP handler does not try again."""
        self._allowed_keys.add(public_z85)

    def callback(self, domain: str, key: bytes) -> bool:
        """ZAP credentials provider: is this client's CURVE public key (z85) authorised?"""
        ok = key in self._allowed_keys
        if not ok:
            log.warning("refused a CURVE client with an unknown key %s", key.decode(errors="replace"))
        return ok

    def wait_for_agents(self, n: int, timeout_s: float, should_stop: Callable[[], bool] | None = None) -> bool:
        """Block until `n` agents are attached (True), `should_stop()` turns true (False: checked
        every 20 ms, e.g. a signal arrived), or raise RanemuError saying who is missing."""
        if not self.started:
            raise RuntimeError("start() the bridge before waiting for agents")
        deadline = time.monotonic() + timeout_s
        while True:
            if should_stop is not None and should_stop():
                return False
            with self._lock:
                self._serve(0.02)
                have = len(self._sessions)
                if have >= n:
                    return True
                gone = self._supervisor is not None and self._supervisor.all_given_up()
            if gone or time.monotonic() >= deadline:
                raise RanemuError(self._wait_message(n, timeout_s, gone))

    def _wait_message(self, n: int, timeout_s: float, gone: bool) -> str:
        attached = ", ".join(f"{s.name} [{', '.join(s.roles)}]" for s in self._sessions.values()) or "none"
        why = "every agent process has exited" if gone else f"timed out after {timeout_s:g} s"
        msg = f"{why} waiting for {n} agent(s) on {self.endpoint}; attached: {attached}"
        if self._supervisor is not None:
            for p in self._supervisor.describe():
                if not p["running"]:
                    msg += f"; process {p['index']} exited {p['exit_codes']}" + (f" (log {p['log']})" if p["log"] else "")
        served = set(self._owner)
        free = [name for name in self.emu.control_points if name not in served][:6]
        if free:
            msg += (f"; start one with: python -m agents.baseline --endpoint {self.endpoint} --role {free[0]}")
            if self.cfg.curve is not None:  # without keys the agent's CURVE handshake never completes
                msg += " --server-key SERVER.key --client-key CLIENT.key_secret (CURVE is on: keys from `ranemu keys`)"
        return msg

    def close(self) -> None:
        """BYE to every agent, reap agent processes, close sockets. Safe to call twice."""
        if self.closed or not self.started:
            self.closed = True
            return
        self.closed = True
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=5.0)
        with self._lock:
            for s in list(self._sessions.values()):
                self._send(s.identity, P.pack(MsgType.BYE, reason="emulation closed"))
            self._sessions.clear()
            self._owner.clear()
        if self._supervisor is not None:
            # Agents leave on BYE within the grace period; only the stuck ones are signalled.
            self._supervisor.stop()
        if self._publish in self.emu.telemetry:
            self.emu.telemetry.remove(self._publish)
        self._close_sockets(linger_ms=200)

    def _close_sockets(self, linger_ms: int = 0) -> None:
        for sock in (self._router, self._pub):
            if sock is not None and not sock.closed:
                sock.close(linger=linger_ms)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    def __enter__(self) -> "AgentBridge":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- decisions ----------------------------------------------------------------------------
    def decide(self, emu: Emulation, indications: list[Indication]) -> dict[str, Any]:
        """One decision round (called by the emulation core from inside the SimPy clock)."""
        out: dict[str, Any] = {}
        if self.closed:
            for ind in indications:
                if ind.point in self._remote_points:
                    out[ind.point] = None
            local = [ind for ind in indications if ind.point not in self._remote_points]
            out.update(self._local.decide(emu, local))
            return out
        with self._lock:
            self._in_decide = True
            try:
                return self._decide(emu, indications, out)
            finally:
                self._in_decide = False
                if self._pub is not None:
                    self._maybe_status()

    def _decide(self, emu: Emulation, indications: list[Indication], out: dict[str, Any]) -> dict[str, Any]:
        realtime = emu.realtime
        if realtime:
            self._ensure_rt_poller(emu)
            self._rt_service(emu)
            for ind in indications:
                if ind.point in self._await:  # still unanswered as the next step starts: a miss
                    self._expire(emu, ind.point)
        else:
            self._serve(0.0)
        self._raise_if_reset()
        self._prov.clear()
        by_session: dict[_Session, list[Indication]] = {}
        local: list[Indication] = []
        for ind in indications:
            owner = self._owner.get(ind.point)
            if owner is not None:
                by_session.setdefault(owner, []).append(ind)
            elif ind.point in self._remote_points:
                out[ind.point] = None
                st = self._points[ind.point]
                st.fallbacks += 1
                st.detached += 1
                self._resolved[ind.point] = (ind.step, "missed")
            else:
                local.append(ind)
        deadline_s = self._deadline_s(emu)
        t0 = time.monotonic()
        if by_session:
            self._seq += 1
            # Encode every INDICATION first, then send them back to back: the first agents to
            # wake would otherwise compete for the CPU with the encoding of the later ones.
            frames = []
            for sess, inds in by_session.items():
                items = [{"role": i.point, "step": int(i.step), "time": float(i.time), "observation": i.observation,
                          "reward": float(i.reward), "terminated": bool(i.terminated),
                          "truncated": bool(i.truncated), "info": i.info} for i in inds]
                frames.append((sess, P.pack(MsgType.INDICATION, seq=self._seq, deadline_ms=deadline_s * 1e3,
                                            world=self._world, items=items)))
            sent = time.monotonic()
            for sess, inds in by_session.items():
                for i in inds:
                    self._indicated[i.point] = int(i.step)
                    self._await[i.point] = _Await(int(i.step), sess, sent, sent + deadline_s)
            for sess, frame in frames:
                self._send(sess.identity, frame, sess)
        if local:
            # The in-process policies run while the remote agents think.
            for ind in local:
                self._points[ind.point].local += 1
            out.update(self._local.decide(emu, local))
        if realtime:
            for point in self._await:
                out[point] = DEFERRED
            return out
        self._collect(t0 + deadline_s)
        if by_session and not self._await:
            self._round.add((time.monotonic() - t0) * 1e3)
        for point, aw in self._await.items():
            out[point] = None
            self._points[point].fallbacks += 1
            self._resolved[point] = (aw.step, "missed")
            self._missed[point] = aw
            log.info("agent %s missed the %g ms deadline for %s step %d", aw.session.name,
                     deadline_s * 1e3, point, aw.step)
        self._await.clear()
        out.update(self._answers)
        self._answers.clear()
        self._raise_if_reset()
        return out

    def provenance(self, cp: ControlPoint) -> tuple[str, str, float, float]:
        """Where this round's action for `cp` came from (the emulation's decisions trace asks)."""
        prov = self._prov.get(cp.name)
        return prov if prov is not None else self._local.provenance(cp)

    def _deadline_s(self, emu: Emulation) -> float:
        d = self.cfg.deadline_ms * 1e-3
        if emu.realtime:
            periods = [cp.decision_period for cp in emu.control_points.values()] or [d]
            # In real time a decision can be late by at most one period: then the next one is due.
            d = min(d, min(periods) / emu.scenario.clock.realtime_factor)
        return d

    def _tick_s(self) -> float:
        return max(0.001, min(0.05, self.cfg.heartbeat_s / 4))

    def _raise_if_reset(self) -> None:
        if self._reset_request is not None:
            (seed,) = self._reset_request
            self._reset_request = None
            self._await.clear()
            self._answers.clear()
            self._resolved.clear()
            self._indicated.clear()
            while self._rt_inbox:  # real-time CONTROLs not applied yet: answers to the old world
                identity, msg, _ = self._rt_inbox.popleft()
                self._fail(identity, Code.STALE, f"step {msg['step']} of world {self._world} is over: a RESET "
                                                 f"started world {self._world + 1}", None, int(msg["step"]))
            self._counters.resets += 1
            self._world += 1
            raise ResetRequested(seed)

    # -- real time ------------------------------------------------------------------------------
    def _ensure_rt_poller(self, emu: Emulation) -> None:
        if self._rt_env is not emu.env:  # the first round, or a fresh world after reset()
            self._rt_env = emu.env
            emu.decision_log.poll_period_s = rt_poll_period(emu)  # replay runs the same poll
            emu.env.process(self._rt_poll(emu, emu.env))

    def _rt_poll(self, emu: Emulation, env):
        period = rt_poll_period(emu)
        while not self.closed and emu.env is env:
            yield env.timeout(period)
            emu.decision_log.new_slot()  # actions applied by this poll form one slot of the trace
            with self._lock:
                self._rt_service(emu)
                if self._pub is not None:
                    self._maybe_status()

    def _rt_service(self, emu: Emulation) -> None:
        """SimPy thread: take arrived messages, apply timely actions, fall back at deadlines."""
        while self._rt_inbox:
            identity, msg, t = self._rt_inbox.popleft()
            self._handle_control(identity, msg, t, emu)
        self._serve(0.0)
        if self._await:
            now = time.monotonic()
            for point in [p for p, aw in self._await.items() if now >= aw.deadline]:
                self._expire(emu, point)

    def _expire(self, emu: Emulation, point: str) -> None:
        aw = self._await.pop(point)
        cp = emu.control_points.get(point)
        if cp is not None:
            cp.fallback(emu.fallback_mode)
            emu.decision_log.record(point, aw.step, emu.env.now, FALLBACK, emu.fallback_mode, cp.current_action)
        self._points[point].fallbacks += 1
        self._resolved[point] = (aw.step, "missed")
        self._missed[point] = aw

    # -- message handling -------------------------------------------------------------------------
    def _keep(self) -> None:
        """Keeper thread: heartbeats, liveness and HELLOs while the clock is not in a decision."""
        tick = self._tick_s()
        while not self._stop.wait(tick):
            if self._lock.acquire(blocking=False):
                try:
                    if not self.closed:
                        self._serve(0.0, keeper=True)
                finally:
                    self._lock.release()

    def _collect(self, deadline: float) -> None:
        """Lockstep: receive until every awaited point is answered or `deadline` (monotonic) passes.

        Per message only a blocking receive (bounded by RCVTIMEO: cheaper than poll + recv) and
        its handling; queued messages return at once, so nothing is drained separately.
        """
        r = self._router
        tick = self._tick_s()
        while self._await:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                return
            if now >= self._next_housekeep or self._exited_pids:
                self._housekeep(now)  # may detach an agent, which ends its points' wait
                continue
            self._set_rcvtimeo(r, min(remaining, tick))
            try:
                frames = r.recv_multipart()
            except zmq.Again:
                continue
            self._handle(frames, False)
            self._raise_if_reset()  # a RESET ends the round now, not at the deadline (remote envs' reset)

    def _set_rcvtimeo(self, r: zmq.Socket, timeout_s: float) -> None:
        ms = max(1, math.ceil(timeout_s * 1e3))
        if ms != self._rcvtimeo:
            r.setsockopt(zmq.RCVTIMEO, ms)
            self._rcvtimeo = ms

    def _serve(self, timeout_s: float, keeper: bool = False) -> None:
        """Poll once (up to `timeout_s`), handle everything readable, then heartbeats and liveness."""
        r = self._router
        if r is None or r.closed:
            return
        if timeout_s > 0:
            self._set_rcvtimeo(r, timeout_s)
            try:
                self._handle(r.recv_multipart(), keeper)
            except zmq.Again:
                pass
        while r.get(zmq.EVENTS) & _POLLIN:  # drain what is queued, without a final Again
            self._handle(r.recv_multipart(_NOBLOCK), keeper)
        now = time.monotonic()
        if now >= self._next_housekeep or self._exited_pids:
            self._housekeep(now)

    def _housekeep(self, now: float) -> None:
        # Liveness and heartbeats at a few ms granularity, not on every message of a round.
        self._next_housekeep = now + self._tick_s() / 5
        while self._exited_pids:
            pid = self._exited_pids.popleft()
            for s in [s for s in self._sessions.values() if s.pid == pid]:
                self._detach(s, "its process exited")
        hb = self.cfg.heartbeat_s
        expiry = hb * self.cfg.liveness
        for s in list(self._sessions.values()):
            if now - s.last_recv > expiry:
                self._detach(s, f"silent for {now - s.last_recv:.1f} s (heartbeat {hb:g} s x {self.cfg.liveness})")
            elif now - s.last_send >= hb:
                self._send(s.identity, P.pack(MsgType.HEARTBEAT), s)

    def _handle(self, frames: list[bytes], keeper: bool) -> None:
        now = time.monotonic()
        identity = frames[0]
        sess = self._sessions.get(identity)
        if sess is not None:
            sess.last_recv = now
        if len(frames) != 2:
            self._fail(identity, Code.BAD_FRAME, f"expected one frame per message, got {len(frames) - 1}")
            return
        try:
            msg = P.decode(frames[1], self.max_frame_bytes)
            kind = P.check_agent_message(msg)
        except ProtocolError as exc:
            self._fail(identity, exc.code, exc.message)
            return
        try:
            if kind == "HEARTBEAT":
                if sess is None:
                    self._fail(identity, Code.NOT_ATTACHED, "HEARTBEAT before HELLO")
            elif kind == "CONTROL":
                if self.emu.realtime and keeper and sess is not None:
                    self._rt_inbox.append((identity, msg, now))  # applied on the SimPy thread only
                else:
                    self._handle_control(identity, msg, now, self.emu)
            elif kind == "HELLO":
                self._handle_hello(identity, msg, now)
            elif kind == "RESET":
                if sess is None:
                    self._fail(identity, Code.NOT_ATTACHED, "RESET before HELLO")
                else:
                    self._reset_request = (msg.get("seed"),)
                    log.info("agent %s asked for a reset (seed %s)", sess.name, msg.get("seed"))
                    self._send(identity, P.pack(MsgType.ACK, step=-1, roles=[], of="RESET"), sess)
            elif kind == "BYE":
                if sess is None:
                    self._fail(identity, Code.NOT_ATTACHED, "BYE without a session")
                else:
                    self._detach(sess, f"said BYE ({msg.get('reason') or 'no reason'!r})")
        except Exception as exc:  # a bug must not take the emulation down with one bad message
            log.exception("error handling %s from %r", kind, identity)
            self._fail(identity, Code.SCHEMA, f"could not handle {kind}: {type(exc).__name__}")

    def _handle_hello(self, identity: bytes, msg: dict, now: float) -> None:
        if identity in self._sessions:
            self._reject(identity, Code.ALREADY_ATTACHED, "this connection already has a session; send BYE first")
            return
        token = msg.get("resume")
        resumed = None
        if token:
            wanted = token.encode()
            for old in self._sessions.values():
                if secrets.compare_digest(old.token.encode(), wanted):
                    resumed = old
                    break
        roles: list[str] = msg["roles"]
        points = self.emu.control_points
        unknown = [r for r in roles if r not in points]
        if unknown:
            known = ", ".join(sorted(points)[:8]) + (" ..." if len(points) > 8 else "")
            self._reject(identity, Code.UNKNOWN_ROLE, f"no control point {unknown[0]!r}; known: {known}")
            return
        if len(set(roles)) != len(roles):
            self._reject(identity, Code.DUPLICATE_ROLE, "a role appears twice in HELLO")
            return
        taken = [(r, self._owner[r]) for r in roles if r in self._owner and self._owner[r] is not resumed]
        if taken:
            r, s = taken[0]
            self._reject(identity, Code.DUPLICATE_ROLE, f"{r} is already served by agent {s.name!r}")
            return
        if resumed is not None:  # only an accepted HELLO replaces the session it resumes
            self._detach(resumed, "resumed on a new connection", quiet=True)
        # A resumed session keeps its token, so the agent can resume again after another outage.
        sess = _Session(identity, msg["name"], list(roles), msg.get("pid"), token or secrets.token_hex(16),
                        msg.get("ack", "all") == "all", now, now, now)
        self._sessions[identity] = sess
        for r in roles:
            self._owner[r] = sess
            self._remote_points.add(r)
        self._counters.attaches += 1
        emu = self.emu
        deadline_ms = self._deadline_s(emu) * 1e3
        described = {}
        for r in roles:
            d = points[r].describe()
            d["deadline_ms"] = deadline_ms
            described[r] = d
        self._send(identity, P.pack(
            MsgType.WELCOME, session=sess.token, roles=described,
            clock="realtime" if emu.realtime else "fast", realtime_factor=emu.scenario.clock.realtime_factor,
            deadline_ms=deadline_ms, heartbeat_s=self.cfg.heartbeat_s, liveness=self.cfg.liveness,
            fallback=emu.fallback_mode, max_frame_bytes=self.max_frame_bytes, world=self._world,
            seed=int(emu.scenario.seed), duration_s=float(emu.scenario.duration),  # remote envs' seeds and horizon
        ), sess)
        log.info("agent %s attached (pid %s): %s", sess.name, sess.pid, ", ".join(roles))

    def _handle_control(self, identity: bytes, msg: dict, t_recv: float, emu: Emulation) -> None:
        sess = self._sessions.get(identity)
        if sess is None:
            self._fail(identity, Code.NOT_ATTACHED, "CONTROL before HELLO (or after the session was detached)")
            return
        step = int(msg["step"])
        world = msg.get("world")
        if world is not None and world != self._world:
            self._fail(identity, Code.STALE, f"step {step} of world {world} is over: a RESET started world "
                                             f"{self._world}", None, step, sess)
            return
        actions = msg["actions"]
        points, owner = emu.control_points, self._owner
        for role in actions:
            # A refused message changes nothing and gets one reply: a CONTROL naming any role that
            # is unknown or not this session's is refused whole, with one FAILURE for the frame.
            if owner.get(role) is not sess:
                bad = [r for r in actions if owner.get(r) is not sess]
                code, what = ((Code.UNKNOWN_ROLE, "no control point") if role not in points
                              else (Code.NOT_OWNER, "not one of this session's roles:"))
                more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
                self._fail(identity, code, f"{what} {role!r}{more}; nothing in this CONTROL was applied",
                           role, step, sess)
                return
        acked: list[str] = []
        for role, action in actions.items():
            aw = self._await.get(role)
            if aw is None or aw.step != step:
                self._late_or_unknown(identity, sess, role, step, aw, action, t_recv)
                continue
            cp = emu.control_points[role]
            rtt_ms = (t_recv - aw.sent) * 1e3
            self._rtt.add(rtt_ms)
            late_ms = max(0.0, t_recv - aw.deadline) * 1e3
            del self._await[role]
            if emu.realtime:
                try:
                    arr = cp.apply(action)  # counts applied/invalid itself
                except ActionError as exc:
                    emu.decision_log.record(role, step, emu.env.now, INVALID, sess.name, action, rtt_ms, late_ms)
                    self._points[role].invalid += 1
                    self._resolved[role] = (step, "invalid")
                    self._fail(identity, Code.INVALID_ACTION, exc.reason, role, step, sess)
                    continue
                emu.decision_log.record(role, step, emu.env.now, AGENT, sess.name, arr, rtt_ms, late_ms)
            else:
                self._prov[role] = (AGENT, sess.name, rtt_ms, late_ms)
                try:
                    action = cp.validate(action)
                except ActionError as exc:
                    # The core applies it, refuses it again, counts it invalid and keeps the old one.
                    self._answers[role] = action
                    self._points[role].invalid += 1
                    self._resolved[role] = (step, "invalid")
                    self._fail(identity, Code.INVALID_ACTION, exc.reason, role, step, sess)
                    continue
                self._answers[role] = action
            self._points[role].answered += 1
            self._resolved[role] = (step, "answered")
            acked.append(role)
        if acked and sess.ack_all:
            self._send(identity, P.pack(MsgType.ACK, step=step, roles=acked), sess)

    def _late_or_unknown(self, identity: bytes, sess: _Session, role: str, step: int, aw: _Await | None,
                         action: Any = None, t_recv: float = 0.0) -> None:
        done = self._resolved.get(role)
        latest = self._indicated.get(role)
        if done is not None and done[0] == step and done[1] in ("answered", "invalid"):
            self._fail(identity, Code.DUPLICATE, f"{role} step {step} was already answered", role, step, sess)
        elif latest is None or step > latest:
            self._fail(identity, Code.NO_DECISION, f"{role} step {step} was never indicated", role, step, sess)
        else:
            self._points[role].stale += 1
            cp = self.emu.control_points.get(role)
            if cp is not None:
                cp.counters["stale"] += 1
                old = self._missed.get(role)
                timed = old is not None and old.step == step
                self.emu.decision_log.record(role, step, self.emu.env.now, STALE, sess.name, action,
                                             (t_recv - old.sent) * 1e3 if timed else math.nan,
                                             max(0.0, t_recv - old.deadline) * 1e3 if timed else math.nan)
            now_step = aw.step if aw is not None else latest
            self._fail(identity, Code.STALE, f"{role} step {step} is past its deadline (current step {now_step})",
                       role, step, sess)

    def _detach(self, sess: _Session, why: str, quiet: bool = False) -> None:
        if self._sessions.get(sess.identity) is not sess:
            return
        del self._sessions[sess.identity]
        for r in sess.roles:
            if self._owner.get(r) is sess:
                del self._owner[r]
        if not self.emu.realtime:
            # Lockstep: stop waiting for it now; its points fall back in this round. (In real time
            # the deadline check falls back on the SimPy thread, the only one that may apply.)
            for p in [p for p, aw in self._await.items() if aw.session is sess]:
                aw = self._await.pop(p)
                self._points[p].fallbacks += 1
                self._points[p].detached += 1
                self._resolved[p] = (aw.step, "missed")
        self._counters.detaches += 1
        (log.info if quiet else log.warning)("agent %s detached: %s; its points fall back until it re-attaches",
                                             sess.name, why)

    # -- sending ----------------------------------------------------------------------------------
    def _send(self, identity: bytes, frame: bytes, sess: _Session | None = None) -> bool:
        r = self._router
        if r is None or r.closed:
            return False
        try:
            # Two plain sends: send_multipart's per-part checks cost more than the sends. Copying
            # beats zero-copy for small frames. An unroutable identity fails on the first part.
            r.send(identity, _SEND_MORE)
            r.send(frame, _NOBLOCK)
        except zmq.Again:
            log.warning("send queue to agent %r is full; message dropped", sess.name if sess else identity)
            return False
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                if sess is not None:
                    self._detach(sess, "its connection is gone")
                return False
            raise
        if sess is not None:
            sess.last_send = time.monotonic()
        return True

    def _fail(self, identity: bytes, code: Code, message: str, role: str | None = None, step: int | None = None,
              sess: _Session | None = None) -> None:
        self._counters.failures[code.value] += 1
        fields: dict[str, Any] = {"code": code.value, "message": message[:500]}
        if role is not None:
            fields["role"] = role
        if step is not None:
            fields["step"] = step
        self._send(identity, P.pack(MsgType.FAILURE, **fields), sess or self._sessions.get(identity))

    def _reject(self, identity: bytes, code: Code, message: str) -> None:
        self._counters.rejects += 1
        log.warning("refused an agent: %s", message)
        self._send(identity, P.pack(MsgType.REJECT, code=code.value, message=message))

    def _publish(self, topic: str, payload: dict) -> None:
        pub = self._pub
        if pub is None or pub.closed:
            return
        try:
            pub.send_multipart([topic.encode(), P.encode(payload)], zmq.NOBLOCK)
        except zmq.Again:
            pass  # a slow subscriber loses telemetry, never slows the clock

    def _maybe_status(self) -> None:
        """SimPy thread (the PUB socket's only user): a `bridge.status` message every STATUS_EVERY_S."""
        now = time.monotonic()
        if now < self._next_status:
            return
        self._next_status = now + STATUS_EVERY_S
        self._publish(STATUS_TOPIC, self.status())

    def status(self) -> dict[str, Any]:
        """What a live view shows: agents and roles, per-point counts, recent RTT and clock lateness (ms)."""
        def pct(x: np.ndarray) -> dict[str, float]:
            if x.size == 0:
                return {"n": 0}
            return {"n": int(x.size), "p50": float(np.percentile(x, 50)), "p99": float(np.percentile(x, 99)),
                    "max": float(x.max())}

        emu = self.emu
        lateness = np.asarray(emu.lateness.samples[-_RECENT:]) * 1e3 if emu.lateness is not None else np.empty(0)
        return {
            "time": float(emu.env.now), "clock": "realtime" if emu.realtime else "fast",
            "scenario": emu.scenario.name,
            "agents": [{"name": s.name, "roles": list(s.roles), "pid": s.pid} for s in self._sessions.values()],
            "points": {name: st.as_dict() for name, st in sorted(self._points.items())},
            "rtt_ms": pct(self._rtt.recent()), "lateness_ms": pct(lateness),
        }

    # -- reporting ---------------------------------------------------------------------------------
    def attached(self) -> dict[str, list[str]]:
        """Agent name -> roles, for every attached agent."""
        with self._lock:
            return {s.name: list(s.roles) for s in self._sessions.values()}

    def stats(self) -> dict[str, Any]:
        """Per point answered/fallbacks/stale/invalid; round-trip percentiles; agents; failures sent."""
        with self._lock:
            points = {name: st.as_dict() for name, st in sorted(self._points.items())}
            total = {k: sum(p[k] for p in points.values()) for k in _PointStats().as_dict()}
            out: dict[str, Any] = {
                "endpoint": self.endpoint,
                "agents_attached": len(self._sessions),
                "attaches": self._counters.attaches,
                "detaches": self._counters.detaches,
                "rejects": self._counters.rejects,
                "resets": self._counters.resets,
                "restarts": self._supervisor.restarts if self._supervisor is not None else 0,
                "answered": total["answered"],
                "fallbacks": total["fallbacks"],
                "stale": total["stale"],
                "invalid": total["invalid"],
                "rtt_ms": self._rtt.stats(),
                "round_ms": self._round.stats(),
                "failures_sent": dict(self._counters.failures),
                "points": points,
            }
            if self._supervisor is not None:
                out["processes"] = self._supervisor.describe()
            if self.emu.lateness is not None:
                out["lateness_ms"] = self.emu.lateness.stats()
            return out
