"""The agent side of the bridge: connect to an emulator, receive indications, send controls.

Minimal use (one process may serve many roles; many processes may serve one role each)::

    from bridge.client import AgentClient
    with AgentClient("tcp://127.0.0.1:5555", roles=["slice/cell0"], name="my-agent") as c:
        welcome = c.connect()                      # spaces, decision period, clock, deadline
        while True:
            batch = c.recv()                       # one step's indications for this client's roles
            c.send_control({ind.role: my_policy(ind) for ind in batch}, batch[0].step)

`recv()` raises `ServerBye` when the emulation ends, `ServerGone` when the emulator stops answering
heartbeats (`SessionLost`, a ServerGone, when it answers `not_attached`: it detached us, e.g. after
the process was frozen), and `TimeoutError` when no indication came in time. `run_agent()` wraps this loop with
reconnection. This module never imports the emulator: agents need only numpy, pyzmq and msgpack.
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import zmq

from bridge import protocol as P
from bridge.protocol import MsgType, ProtocolError

log = logging.getLogger("ranemu.agent")

_POLLIN = int(zmq.POLLIN)

ENV_ENDPOINT = "RANEMU_ENDPOINT"
ENV_ROLES = "RANEMU_ROLES"
ENV_SUPERVISOR_PID = "RANEMU_SUPERVISOR_PID"
ENV_CURVE_SERVER = "RANEMU_CURVE_SERVER_KEY"
ENV_CURVE_PUBLIC = "RANEMU_CURVE_PUBLIC_KEY"
ENV_CURVE_SECRET = "RANEMU_CURVE_SECRET_KEY"


# -- errors ------------------------------------------------------------------------------------------
class BridgeError(RuntimeError):
    """Base class of the SDK's errors."""


class Rejected(BridgeError):
    """HELLO was refused (REJECT): `code` is e.g. duplicate_role, unknown_role, version."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class ServerBye(BridgeError):
    """The emulator said BYE (the run ended or was stopped)."""

    def __init__(self, reason: str = ""):
        super().__init__(reason or "emulator said BYE")
        self.reason = reason


class ServerGone(BridgeError):
    """The emulator stopped answering (no message for heartbeat_s x liveness)."""


class SessionLost(ServerGone):
    """The emulator no longer holds our session (FAILURE not_attached: it detached us, e.g. while
    this process was stopped); reconnect, resuming the session, to be served again."""


# -- data ----------------------------------------------------------------------------------------------
@dataclass
class RoleSpec:
    """A control point as advertised in WELCOME."""

    name: str
    kind: str
    observation_space: dict
    action_space: dict
    decision_period: float
    deadline_ms: float
    policies: list[str] = field(default_factory=list)

    @classmethod
    def from_wire(cls, d: dict) -> "RoleSpec":
        return cls(d["name"], d["kind"], d["observation_space"], d["action_space"], float(d["decision_period"]),
                   float(d["deadline_ms"]), list(d.get("policies", [])))


@dataclass
class Welcome:
    """The emulator's answer to HELLO."""

    session: str
    roles: dict[str, RoleSpec]
    clock: str  # "fast" (lockstep) or "realtime"
    deadline_ms: float
    heartbeat_s: float
    liveness: int
    fallback: str = "hold"
    realtime_factor: float = 1.0
    max_frame_bytes: int = P.MAX_FRAME_BYTES
    seed: int | None = None  # the world's current seed, and the scenario duration (remote envs)
    duration_s: float | None = None
    world: int | None = None  # counts the emulator's RESETs (None: an emulator that does not say)


@dataclass
class Indication:
    """One role's report at one decision step. Field names follow emulator.control.Indication
    (`point` is the role), so built-in policies written against it run here unchanged."""

    role: str
    step: int
    time: float
    observation: np.ndarray
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]
    # time.monotonic() by which the CONTROL must arrive, counted from when the INDICATION arrived
    # (at the latest: from the last moment the SDK saw its queue empty), not from when it was read.
    deadline: float
    kind: str = ""
    seq: int = 0
    world: int | None = None  # the world (RESET count) this decision belongs to

    @property
    def point(self) -> str:
        return self.role


@dataclass
class Failure:
    """A FAILURE the emulator sent back (e.g. invalid_action for a CONTROL)."""

    code: str
    message: str
    role: str | None = None
    step: int | None = None


def curve_from_env() -> dict | None:
    """CURVE settings a supervising emulator passed to this process, if any."""
    server = os.environ.get(ENV_CURVE_SERVER)
    if not server:
        return None
    return {"server_public_key": server.encode(),
            "client_keys": (os.environ[ENV_CURVE_PUBLIC].encode(), os.environ[ENV_CURVE_SECRET].encode())}


def _curve_keys(curve: Mapping) -> tuple[bytes, bytes, bytes]:
    """(server public, client public, client secret) from paths or z85 keys."""
    import zmq.auth

    server = curve["server_public_key"]
    if not isinstance(server, bytes) or len(server) != 40:
        server = zmq.auth.load_certificate(str(server))[0]
    client = curve["client_keys"]
    if isinstance(client, (tuple, list)):
        cpub, csec = client
    else:
        cpub, csec = zmq.auth.load_certificate(str(client))
        if csec is None:
            raise BridgeError(f"{client}: holds no secret key (expected a .key_secret file)")
    return server, cpub, csec


class AgentClient:
    """A DEALER connection to an emulator serving `roles` (see the module docstring).

    `curve`: None, or {"server_public_key": path-or-z85, "client_keys": secret-key-path or
    (public, secret) z85}. `timeout_s` bounds connect() and is recv()'s default wait. `ack`:
    "all" (ACK for every CONTROL) or "failures" (only FAILUREs come back, E2's NAck mode).
    """

    def __init__(self, endpoint: str, roles: Iterable[str], name: str = "agent", curve: Mapping | None = None,
                 timeout_s: float = 10.0, ack: str = "all", context: zmq.Context | None = None,
                 resume: str | None = None):
        self.endpoint = endpoint
        self.roles = list(roles)
        if not self.roles:
            raise ValueError("an agent needs at least one role")
        self.name = name
        self.curve = dict(curve) if curve else None
        self.timeout_s = float(timeout_s)
        self.ack = ack
        self._own_ctx = context is None
        self._ctx = context or zmq.Context()
        self._sock: zmq.Socket | None = None
        self._lock = threading.RLock()
        self._hb_stop = threading.Event()
        self._hb_thread: threading.Thread | None = None
        self.welcome: Welcome | None = None
        self.session: str | None = resume
        self.failures: deque[Failure] = deque(maxlen=1000)
        self.acks = 0
        self.last_reset_ack = False
        self._last_recv = 0.0
        self._last_send = 0.0
        self._heartbeat_s = 1.0
        self._liveness = 3
        self._rcvtimeo = -1
        self._world: int | None = None  # world of the latest INDICATION (sent back in CONTROL)
        self._empty_at = 0.0  # last monotonic time the receive queue was seen empty
        self._arrived = 0.0  # lower bound of the arrival time of the message _recv_msg returned
        self._inbox: deque[tuple[dict, float]] = deque()  # read ahead while looking for newer INDICATIONs
        self.superseded = 0  # INDICATION items dropped because a newer one for the role was queued

    # -- connection -------------------------------------------------------------------------------
    def _open(self) -> None:
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, P.HARD_FRAME_BYTES)
        if self.endpoint.startswith("tcp://["):
            sock.setsockopt(zmq.IPV6, 1)  # tcp://[::1]:PORT: ZeroMQ sockets are IPv4-only by default
        if self.curve:
            server, cpub, csec = _curve_keys(self.curve)
            sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = server, cpub, csec
        sock.connect(self.endpoint)
        self._sock = sock
        self._rcvtimeo = -1

    def connect(self, timeout_s: float | None = None) -> Welcome:
        """HELLO → WELCOME (returned) or REJECT (raises Rejected); TimeoutError if no answer."""
        with self._lock:
            if self._sock is None:
                self._open()
            self._send(MsgType.HELLO, name=self.name, roles=self.roles, pid=os.getpid(), ack=self.ack,
                       **({"resume": self.session} if self.session else {}))
            deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
            while True:
                msg = self._recv_msg(deadline)
                if msg is None:
                    raise TimeoutError(f"no answer to HELLO from {self.endpoint} within "
                                       f"{self.timeout_s if timeout_s is None else timeout_s:g} s"
                                       + (" (CURVE: is this client's key authorised?)" if self.curve else ""))
                t = msg["type"]
                if t == "WELCOME":
                    w = Welcome(msg["session"], {r: RoleSpec.from_wire(d) for r, d in msg["roles"].items()},
                                msg["clock"], float(msg["deadline_ms"]), float(msg["heartbeat_s"]),
                                int(msg["liveness"]), msg.get("fallback", "hold"),
                                float(msg.get("realtime_factor", 1.0)), int(msg.get("max_frame_bytes", 0)),
                                msg.get("seed"), msg.get("duration_s"), msg.get("world"))
                    self.welcome, self.session = w, w.session
                    self._world = w.world
                    self._heartbeat_s, self._liveness = w.heartbeat_s, w.liveness
                    self._start_heartbeats()
                    return w
                if t == "REJECT":
                    raise Rejected(msg["code"], msg["message"])
                if t == "FAILURE":
                    raise BridgeError(f"HELLO failed: {msg['code']}: {msg['message']}")
                # Anything else (a stray HEARTBEAT) is before our session: ignore.

    def reconnect(self, timeout_s: float | None = None) -> Welcome:
        """A fresh connection that resumes this session (the emulator drops the old one)."""
        with self._lock:
            self._drop_socket()
            return self.connect(timeout_s)

    def close(self, reason: str = "") -> None:
        """BYE (if connected), then close the socket; safe to call twice."""
        self._hb_stop.set()
        if self._hb_thread is not None and self._hb_thread is not threading.current_thread():
            self._hb_thread.join(timeout=2.0)
        with self._lock:
            if self._sock is not None and self.welcome is not None:
                try:
                    self._send(MsgType.BYE, reason=reason)
                except zmq.ZMQError:
                    pass
            self._drop_socket(linger_ms=200)
            self.welcome = None
        if self._own_ctx and not self._ctx.closed:
            self._ctx.term()

    def _drop_socket(self, linger_ms: int = 0) -> None:
        self._inbox.clear()
        if self._sock is not None:
            self._sock.close(linger=linger_ms)
            self._sock = None

    def __enter__(self) -> "AgentClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the loop ----------------------------------------------------------------------------------
    def recv(self, timeout_s: float | None = None) -> list[Indication]:
        """The next INDICATION for this client's roles, as one list (one step).

        ACKs and FAILUREs that arrive first are recorded (`acks`, `failures`); HEARTBEATs keep the
        connection alive. Raises ServerBye, ServerGone, or TimeoutError.
        """
        if self.welcome is None:
            raise BridgeError("recv() before connect()")
        wait = self.timeout_s if timeout_s is None else float(timeout_s)
        deadline = time.monotonic() + wait
        with self._lock:
            while True:
                if self._inbox:
                    msg, arrived = self._inbox.popleft()
                else:
                    msg = self._recv_msg(deadline)
                    if msg is None:
                        raise TimeoutError(f"no indication within {wait:g} s")
                    arrived = self._arrived
                t = msg["type"]
                if t == "INDICATION":
                    msg = self._unless_superseded(msg)
                    if msg is not None:
                        return self._indications(msg, arrived)
                    continue
                if t == "ACK":
                    if msg.get("of") == "RESET":
                        self.last_reset_ack = True
                    else:
                        self.acks += 1
                elif t == "FAILURE":
                    f = Failure(msg["code"], msg["message"], msg.get("role"), msg.get("step"))
                    self.failures.append(f)
                    log.warning("emulator refused: %s: %s", f.code, f.message)
                    if f.code == "not_attached":
                        # It detached us (silent too long, e.g. this process was stopped): our
                        # heartbeats are not enough, only a new HELLO (resuming) serves the roles again.
                        self.welcome = None
                        raise SessionLost(f"the emulator at {self.endpoint} no longer holds our session "
                                          f"({f.message})")
                elif t == "BYE":
                    self.welcome = None
                    raise ServerBye(msg.get("reason", ""))

    def _unless_superseded(self, msg: dict) -> dict | None:
        """`msg` without the items for roles that a newer INDICATION already queued behind it covers
        (their decision is over: the emulator has moved on); None when no item is left."""
        sock = self._sock
        n = 0
        while sock is not None and sock.get(zmq.EVENTS) & _POLLIN and n < 1000:  # read ahead, no wait
            frame = sock.recv(zmq.NOBLOCK)
            self._last_recv = time.monotonic()
            n += 1
            try:
                queued = P.decode(frame, P.HARD_FRAME_BYTES)
                P.check_server_message(queued)
            except ProtocolError as exc:
                log.warning("ignored a malformed message from the emulator: %s", exc)
                continue
            if queued["type"] != "HEARTBEAT":
                self._inbox.append((queued, self._empty_at))
        if not self._inbox:
            return msg
        newer = {it.get("role") for m, _ in self._inbox if m["type"] == "INDICATION"
                 for it in m["items"] if type(it) is dict}
        if not newer:
            return msg
        items = [it for it in msg["items"] if it.get("role") not in newer]
        dropped = len(msg["items"]) - len(items)
        if dropped:
            self.superseded += dropped
            log.info("dropped %d indication item(s) superseded by a newer one already queued", dropped)
        if not items:
            return None
        return {**msg, "items": items}

    def _indications(self, msg: dict, arrived: float | None = None) -> list[Indication]:
        t_recv = time.monotonic() if arrived is None else arrived
        deadline = t_recv + float(msg["deadline_ms"]) * 1e-3
        roles = self.welcome.roles if self.welcome else {}
        world = msg.get("world")
        self._world = world
        out = []
        for it in msg["items"]:
            spec = roles.get(it["role"])
            out.append(Indication(it["role"], int(it["step"]), float(it["time"]), it["observation"],
                                  it["reward"], bool(it["terminated"]), bool(it["truncated"]), it["info"],
                                  deadline, spec.kind if spec else "", int(msg["seq"]), world))
        return out

    def send_control(self, role_or_actions: str | Mapping[str, Any], step: int, action: Any = None,
                     world: int | None = None) -> None:
        """CONTROL for one role (`send_control(role, step, action)`) or many (`send_control({role: action}, step)`).

        `world`: the world (RESET count) of the decision answered; default: that of the latest
        INDICATION received, so an answer computed before a RESET was seen is refused (stale)
        rather than applied to the fresh world's step of the same number.
        """
        if isinstance(role_or_actions, str):
            actions = {role_or_actions: action}
        else:
            actions = role_or_actions if type(role_or_actions) is dict else dict(role_or_actions)
        if world is None:
            world = self._world
        if world is None:  # an emulator that does not number its worlds: CONTROL without the field
            frame = P.pack(MsgType.CONTROL, step=int(step), actions=actions)  # encoded before taking the lock
        else:
            frame = P.pack(MsgType.CONTROL, step=int(step), actions=actions, world=int(world))
        with self._lock:
            self._send_frame(frame)

    def reset(self, seed: int | None = None) -> None:
        """Ask the emulator to restart its world in place (optionally with a new seed); the next
        INDICATION is step 0 of the fresh world."""
        with self._lock:
            self.last_reset_ack = False
            self._send(MsgType.RESET, **({} if seed is None else {"seed": int(seed)}))

    def pop_failures(self) -> list[Failure]:
        """FAILUREs received since the last call."""
        out = list(self.failures)
        self.failures.clear()
        return out

    # -- plumbing ----------------------------------------------------------------------------------
    def _send(self, type_: MsgType, **fields: Any) -> None:
        self._send_frame(P.pack(type_, **fields))

    def _send_frame(self, frame: bytes) -> None:
        if self._sock is None:
            raise BridgeError("not connected")
        self._sock.send(frame)  # copy: zero-copy costs more below ~64 KiB
        self._last_send = time.monotonic()

    def _recv_msg(self, deadline: float) -> dict | None:
        """The next valid message before `deadline` (None on timeout); heartbeats both ways."""
        sock = self._sock
        while True:
            now = time.monotonic()
            connected = self.welcome is not None
            if connected and now - self._last_send >= self._heartbeat_s:
                self._send(MsgType.HEARTBEAT)
            remaining = deadline - now
            if remaining <= 0:
                return None
            slice_s = min(remaining, self._heartbeat_s / 2) if connected else remaining
            ms = max(1, math.ceil(slice_s * 1e3))
            if ms != self._rcvtimeo:
                sock.setsockopt(zmq.RCVTIMEO, ms)  # a bounded blocking recv: cheaper than poll + recv
                self._rcvtimeo = ms
            if not sock.get(zmq.EVENTS) & _POLLIN:
                self._empty_at = now  # what we read next arrived after this moment
            try:
                frame = sock.recv()
            except zmq.Again:
                frame = None
            if frame is not None:
                self._last_recv = time.monotonic()
                self._arrived = self._empty_at
                try:
                    msg = P.decode(frame, P.HARD_FRAME_BYTES)
                    P.check_server_message(msg)
                except ProtocolError as exc:
                    log.warning("ignored a malformed message from the emulator: %s", exc)
                    continue
                if msg["type"] == "HEARTBEAT":
                    continue
                return msg
            if connected and time.monotonic() - self._last_recv > self._heartbeat_s * self._liveness:
                self.welcome = None
                raise ServerGone(f"no message from {self.endpoint} for "
                                 f"{self._heartbeat_s * self._liveness:g} s (heartbeat {self._heartbeat_s:g} s)")

    def _start_heartbeats(self) -> None:
        self._last_recv = time.monotonic()
        if self._hb_thread is not None and self._hb_thread.is_alive():
            return
        self._hb_stop.clear()
        self._hb_thread = threading.Thread(target=self._beat, name="ranemu-agent-heartbeat", daemon=True)
        self._hb_thread.start()

    def _beat(self) -> None:
        # While the agent computes (outside recv), this thread keeps the session alive; inside
        # recv() the loop itself sends heartbeats, so we only try the lock, never wait for it.
        while not self._hb_stop.wait(self._heartbeat_s / 2):
            if self._lock.acquire(blocking=False):
                try:
                    if self._sock is not None and self.welcome is not None \
                            and time.monotonic() - self._last_send >= self._heartbeat_s:
                        self._send(MsgType.HEARTBEAT)
                except zmq.ZMQError:
                    pass
                finally:
                    self._lock.release()


def _orphaned(supervisor_pid: str | None) -> bool:
    return bool(supervisor_pid) and str(os.getppid()) != supervisor_pid


def run_agent(endpoint: str, roles: Iterable[str], policy_fn: Callable[[Indication], Any], name: str = "agent",
              curve: Mapping | None = None, timeout_s: float = 10.0, give_up_s: float | None = 60.0,
              max_steps: int | None = None, ack: str = "failures",
              on_welcome: Callable[[Welcome], None] | None = None) -> int:
    """Serve `roles` with `policy_fn(indication) -> action` until the emulator says BYE.

    Reconnects (resuming the session) when the emulator goes silent, retries HELLO while an old
    session of ours still holds the roles, and gives up after `give_up_s` without a session
    (None: never). Exits when orphaned by a supervising emulator. With `curve=None` it uses the
    CURVE keys a supervising emulator put in the environment, if any. Returns the decisions made.
    """
    roles = list(roles)
    if curve is None:
        curve = curve_from_env()  # a supervising emulator with CURVE on hands its children a key
    client = AgentClient(endpoint, roles, name=name, curve=curve, timeout_s=timeout_s, ack=ack)
    supervisor = os.environ.get(ENV_SUPERVISOR_PID)
    decisions = 0
    backoff = 0.05
    lost_since: float | None = time.monotonic()
    try:
        while max_steps is None or decisions < max_steps:
            if _orphaned(supervisor):
                log.warning("the supervising emulator is gone; exiting")
                break
            try:
                if client.welcome is None:
                    welcome = client.connect(timeout_s=min(timeout_s, 2.0)) if client.session is None \
                        else client.reconnect(timeout_s=min(timeout_s, 2.0))
                    lost_since, backoff = None, 0.05
                    if on_welcome is not None:
                        on_welcome(welcome)
                batch = client.recv(timeout_s=min(timeout_s, 1.0))
            except TimeoutError:
                if client.welcome is None:
                    lost_since = lost_since or time.monotonic()
                    client._drop_socket()  # an unanswered HELLO: try afresh on a new connection
                    if give_up_s is not None and time.monotonic() - lost_since > give_up_s:
                        raise
                continue
            except Rejected as exc:
                if exc.code != "duplicate_role":
                    raise
                # Our previous incarnation still holds the roles until the emulator notices it left.
                lost_since = lost_since or time.monotonic()
                if give_up_s is not None and time.monotonic() - lost_since > give_up_s:
                    raise
                client._drop_socket()
                time.sleep(backoff)
                backoff = min(1.0, backoff * 2)
                continue
            except ServerGone as exc:
                log.warning("%s; reconnecting", exc)
                lost_since = time.monotonic()
                client._drop_socket()
                continue
            except ServerBye:
                break
            by_step: dict[int, dict[str, Any]] = {}
            for ind in batch:
                by_step.setdefault(ind.step, {})[ind.role] = policy_fn(ind)
            for step, actions in by_step.items():
                client.send_control(actions, step, world=batch[0].world)
            decisions += len(batch)
    finally:
        client.close("agent finished")
    return decisions
