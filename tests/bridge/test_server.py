"""The bridge with agents in threads: handshake, lockstep equality, FAILURE paths, deadlines,
liveness, re-attach, reset, telemetry, real time and the bind policy."""
from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
import zmq

from bridge import protocol as P
from bridge.client import AgentClient, Rejected, ServerBye
from bridge.protocol import MsgType
from bridge.server import AgentBridge, is_local_endpoint
from emulator.errors import ConfigError, RanemuError
from tests.bridge.conftest import queue_emulation, queue_scenario, reference_trace
from tests.bridge.queue_policies import POLICIES

ROLES = ["queue/q0", "queue/q1", "queue/q2"]


class Raw:
    """A bare DEALER speaking the protocol by hand (to send what the SDK never would)."""

    def __init__(self, endpoint):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    def send(self, msg=None, raw=None, frames=None):
        if frames is not None:
            self.sock.send_multipart(frames)
        else:
            self.sock.send(raw if raw is not None else P.encode(msg))

    def recv(self, timeout_s=5.0, skip=("HEARTBEAT",)):
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(left * 1e3):
                raise TimeoutError("no reply")
            msg = P.decode(self.sock.recv(), P.HARD_FRAME_BYTES)
            if msg["type"] not in skip:
                return msg

    def close(self):
        self.sock.close()
        self.ctx.term()


def hello(roles, name="raw", **kw):
    return P.message(MsgType.HELLO, name=name, roles=roles, **kw)


def test_endpoint_locality():
    assert is_local_endpoint("tcp://127.0.0.1:5555") and is_local_endpoint("tcp://127.3.2.1:1")
    assert is_local_endpoint("tcp://[::1]:5555") and is_local_endpoint("tcp://localhost:5")
    assert is_local_endpoint("ipc:///tmp/x.sock")
    assert not is_local_endpoint("tcp://0.0.0.0:5555") and not is_local_endpoint("tcp://*:5555")
    assert not is_local_endpoint("tcp://10.1.2.3:5555") and not is_local_endpoint("tcp://eth0:5555")


@pytest.mark.parametrize("endpoint", ["tcp://0.0.0.0:*", "tcp://*:*", "tcp://192.168.1.10:5555"])
def test_binding_beyond_loopback_without_curve_is_refused(endpoint):
    # refused when the scenario is validated (`validate`, and `run` before it makes a run folder)
    with pytest.raises(ConfigError, match=r"agents: refusing to bind .* agents.curve is not set"):
        queue_scenario(endpoint=endpoint)
    # and by the bridge itself, for settings that skipped validation
    sc = queue_scenario()
    sc = sc.model_copy(update={"agents": sc.agents.model_copy(update={"endpoint": endpoint})})
    emu = queue_emulation(sc)
    bridge = AgentBridge(emu, sc.agents)
    with pytest.raises(RanemuError, match="refusing to bind .* agents.curve"):
        bridge.start()
    bridge.close()
    assert emu.decider is not bridge


def test_welcome_advertises_spaces_clock_and_deadline(served):
    sc = queue_scenario(deadline_ms=250.0)
    emu, bridge = served(sc)
    with AgentClient(bridge.endpoint, ["queue/q1"], name="w", timeout_s=5) as c:
        w = c.connect()
        spec = w.roles["queue/q1"]
        assert w.clock == "fast" and w.deadline_ms == 250.0 and w.heartbeat_s == 0.2 and w.liveness == 5
        assert spec.kind == "rate" and spec.decision_period == pytest.approx(0.1)
        assert spec.action_space == {"type": "box", "shape": [1], "low": 0.0, "high": 1.0, "dtype": "float32"}
        assert spec.observation_space["shape"] == [2]
        assert bridge.attached() == {"w": ["queue/q1"]}


def test_two_clients_one_role_each_equal_the_in_process_run(served, agent_threads):
    sc = queue_scenario(duration=1.0)
    ref = reference_trace(sc)
    emu, bridge = served(sc)
    agent_threads(bridge.endpoint, ["queue/q0", "queue/q2"], POLICIES["proportional"], name="a")
    agent_threads(bridge.endpoint, ["queue/q1"], POLICIES["proportional"], name="b")
    bridge.wait_for_agents(2, 10)
    emu.run()
    pd.testing.assert_frame_equal(ref, emu.traces.table("queues").to_pandas())
    st = bridge.stats()
    assert st["answered"] == 30 and st["fallbacks"] == 0 and st["round_ms"]["n"] == 10


def test_info_with_numpy_values_travels_exactly(served, agent_threads):
    sc = queue_scenario(duration=0.5, policies={"rate": "informed"})
    ref = reference_trace(sc)
    emu, bridge = served(sc)
    agent_threads(bridge.endpoint, ROLES, POLICIES["informed"])
    bridge.wait_for_agents(1, 10)
    emu.run()
    pd.testing.assert_frame_equal(ref, emu.traces.table("queues").to_pandas())


def test_points_without_agent_use_in_process_policy(served, agent_threads):
    sc = queue_scenario(duration=0.5)
    ref = reference_trace(sc)
    emu, bridge = served(sc)
    agent_threads(bridge.endpoint, ["queue/q1"], POLICIES["proportional"])
    bridge.wait_for_agents(1, 10)
    emu.run()
    pd.testing.assert_frame_equal(ref, emu.traces.table("queues").to_pandas())
    pts = bridge.stats()["points"]
    assert pts["queue/q1"]["answered"] == 5 and pts["queue/q0"]["local"] == 5 and pts["queue/q2"]["local"] == 5


def test_duplicate_and_unknown_roles_are_rejected(served):
    sc = queue_scenario()
    emu, bridge = served(sc)
    with AgentClient(bridge.endpoint, ["queue/q0"], name="first") as a:
        a.connect()
        with AgentClient(bridge.endpoint, ["queue/q1", "queue/q0"], name="second") as b:
            with pytest.raises(Rejected) as e:
                b.connect()
            assert e.value.code == "duplicate_role" and "first" in e.value.message
        with AgentClient(bridge.endpoint, ["queue/q9"]) as c:
            with pytest.raises(Rejected) as e:
                c.connect()
            assert e.value.code == "unknown_role" and "queue/q0" in e.value.message
        raw = Raw(bridge.endpoint)
        try:
            raw.send(hello(["queue/q1", "queue/q1"]))
            assert raw.recv()["code"] == "duplicate_role"
            raw.send(hello(["queue/q1"], v=9))
            assert raw.recv() == {"v": 1, "type": "FAILURE", "code": "version",
                                  "message": "protocol version 9 not supported (this side speaks 1)"}
            raw.send(hello(["queue/q1"]))
            assert raw.recv()["type"] == "WELCOME"
            raw.send(hello(["queue/q2"]))
            assert raw.recv()["code"] == "already_attached"
        finally:
            raw.close()
    assert bridge.stats()["rejects"] == 4


def drive(emu, bridge, agent, until=None):
    """Run the emulation in this thread while `agent(raw_socket)` plays in another."""
    errors = []

    def target():
        try:
            agent()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    emu.run(until)
    t.join(timeout=20)
    if errors:
        raise errors[0]


def test_control_failures_invalid_duplicate_not_owner_stale_no_decision(served):
    sc = queue_scenario(duration=0.3, deadline_ms=3000.0)
    emu, bridge = served(sc)
    raw = Raw(bridge.endpoint)
    seen = []
    try:
        raw.send(hello(["queue/q0"]))
        assert raw.recv()["type"] == "WELCOME"

        def agent():
            ind = raw.recv()  # step 0
            assert ind["type"] == "INDICATION" and [i["role"] for i in ind["items"]] == ["queue/q0"]
            raw.send(P.message(MsgType.CONTROL, step=0, actions={"queue/q0": np.array([0.25])}))  # test rule
            seen.append(raw.recv())
            ind = raw.recv()  # step 1 (the invalid answer ended step 0)
            raw.send(P.message(MsgType.CONTROL, step=1, actions={"queue/q1": [0.5]}))
            seen.append(raw.recv())
            raw.send(P.message(MsgType.CONTROL, step=7, actions={"queue/q0": [0.5]}))
            seen.append(raw.recv())
            raw.send(P.message(MsgType.CONTROL, step=1, actions={"queue/q0": [0.9]}))
            seen.append(raw.recv())  # ACK
            raw.send(P.message(MsgType.CONTROL, step=1, actions={"queue/q0": [0.8]}))
            # The ACK ended step 1, so step 2's INDICATION and the FAILURE race: take both.
            two = sorted([raw.recv(), raw.recv()], key=lambda m: m["type"] == "INDICATION")
            assert two[1]["type"] == "INDICATION" and two[1]["items"][0]["step"] == 2
            seen.append(two[0])
            raw.send(P.message(MsgType.CONTROL, step=0, actions={"queue/q0": [0.8]}))
            seen.append(raw.recv())
            raw.send(P.message(MsgType.CONTROL, step=2, actions={"queue/q0": [1.5]}))
            seen.append(raw.recv())

        drive(emu, bridge, agent)
    finally:
        raw.close()
    codes = [m.get("code", m["type"]) for m in seen]
    assert codes == ["invalid_action", "not_owner", "no_decision", "ACK", "duplicate", "stale", "invalid_action"]
    assert "forbidden share" in seen[0]["message"] and seen[0]["role"] == "queue/q0" and seen[0]["step"] == 0
    cp = emu.control_points["queue/q0"]
    # step 0: refused (the default stays); step 1: 0.9 applied; step 2: 1.5 refused, 0.9 stays.
    assert cp.counters["invalid"] == 2 and cp.counters["applied"] == 1 and cp.counters["stale"] == 1
    assert float(cp.current_action[0]) == 0.9 and "outside [0.0, 1.0]" in seen[-1]["message"]
    st = bridge.stats()["points"]["queue/q0"]
    assert st == {"answered": 1, "fallbacks": 0, "detached": 0, "stale": 1, "invalid": 2, "local": 0}


def test_slow_agent_misses_deadline_falls_back_and_its_late_answers_are_stale(served, agent_threads):
    sc = queue_scenario(duration=0.5, deadline_ms=60.0, heartbeat_s=1.0)
    emu, bridge = served(sc)

    def slow(ind):
        time.sleep(0.15 if ind.step % 2 == 0 else 0.0)
        return POLICIES["proportional"](ind)

    agent_threads(bridge.endpoint, ["queue/q0"], slow)
    bridge.wait_for_agents(1, 10)
    emu.run()
    st = bridge.stats()["points"]["queue/q0"]
    cp = emu.control_points["queue/q0"]
    assert st["fallbacks"] >= 3 and st["answered"] + st["fallbacks"] == 5
    assert cp.counters["fallbacks"] == st["fallbacks"] and cp.counters["applied"] == st["answered"]
    assert st["stale"] >= 1


def test_silent_agent_is_detached_points_fall_back_and_resume_after_reattach(served):
    sc = queue_scenario(duration=3.0, deadline_ms=2000.0, heartbeat_s=0.05, liveness=3)
    emu, bridge = served(sc)
    raw = Raw(bridge.endpoint)
    reattached = {}
    try:
        raw.send(hello(["queue/q0"], name="quiet"))
        token = raw.recv()["session"]

        def agent():
            ind = raw.recv()
            raw.send(P.message(MsgType.CONTROL, step=ind["items"][0]["step"], actions={"queue/q0": [0.9]}))
            # ...then silence: no heartbeats, no answers; the bridge must detach us.
            deadline = time.monotonic() + 10
            while bridge.attached() and time.monotonic() < deadline:
                time.sleep(0.01)
            # Come back on a new connection resuming the session, and serve the rest.
            c = AgentClient(bridge.endpoint, ["queue/q0"], name="quiet", resume=token, ack="failures")
            c.connect()
            reattached["step"] = None
            try:
                while True:
                    batch = c.recv(5.0)
                    reattached["step"] = reattached["step"] if reattached["step"] is not None else batch[0].step
                    c.send_control({i.role: np.array([0.6]) for i in batch}, batch[0].step)
            except ServerBye:
                pass
            finally:
                c.close()

        t = threading.Thread(target=agent, daemon=True)
        t.start()
        emu.run(0.5)
        deadline = time.monotonic() + 10
        while "step" not in reattached and time.monotonic() < deadline:
            time.sleep(0.01)
        emu.run()
        bridge.close()
        t.join(10)
    finally:
        raw.close()
    st = bridge.stats()
    p = st["points"]["queue/q0"]
    assert st["attaches"] == 2 and st["detaches"] >= 1
    assert p["fallbacks"] >= 1 and p["detached"] >= 1 and p["answered"] >= 10
    assert p["answered"] + p["fallbacks"] == 30
    assert reattached["step"] is not None and reattached["step"] > 0  # resumed mid-run, not from step 0


def test_bye_on_close_and_close_is_idempotent(served, agent_threads):
    sc = queue_scenario(duration=0.2)
    emu, bridge = served(sc)
    res = agent_threads(bridge.endpoint, ROLES, POLICIES["proportional"])
    bridge.wait_for_agents(1, 10)
    emu.run()
    bridge.close()
    bridge.close()
    deadline = time.monotonic() + 10
    while "decisions" not in res and "error" not in res and time.monotonic() < deadline:
        time.sleep(0.01)
    assert res.get("decisions") == 6  # run_agent returned normally on BYE
    assert bridge.stats()["answered"] == 6


def test_wait_for_agents_times_out_with_a_clear_message(served):
    sc = queue_scenario()
    emu, bridge = served(sc)
    with pytest.raises(RanemuError, match=r"timed out after 0.2 s waiting for 2 agent.*attached: none.*agents.baseline"):
        bridge.wait_for_agents(2, 0.2)


def test_agent_reset_restarts_the_world_in_place(served):
    sc = queue_scenario(duration=0.5)
    emu, bridge = served(sc)
    steps = []
    with AgentClient(bridge.endpoint, ROLES, ack="failures") as c:
        c.connect()

        def agent():
            try:
                while True:
                    batch = c.recv(5.0)
                    steps.append(batch[0].step)
                    if len(steps) == 3:
                        c.reset(seed=5)
                        continue  # this round is abandoned; the fresh world indicates step 0 next
                    c.send_control({i.role: POLICIES["proportional"](i) for i in batch}, batch[0].step)
            except ServerBye:
                pass

        t = threading.Thread(target=agent, daemon=True)
        t.start()
        emu.run()
        bridge.close()
        t.join(10)
    assert steps[:4] == [0, 1, 2, 0] and len(steps) == 3 + 5
    assert emu.scenario.seed == 5 and bridge.stats()["resets"] == 1
    df = emu.traces.table("queues").to_pandas()
    assert df["step"].tolist()[::3] == [0, 1, 2, 0, 1, 2, 3, 4]


def test_telemetry_is_published_by_topic(served):
    sc = queue_scenario(duration=0.5, pub_endpoint="tcp://127.0.0.1:*")
    emu, bridge = served(sc)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(bridge.pub_endpoint)
    sub.setsockopt(zmq.SUBSCRIBE, b"queues.kpi")
    try:
        # PUB/SUB "slow joiner": publish probes until the subscription has reached the publisher.
        deadline = time.monotonic() + 5
        while not sub.poll(20):
            emu.publish("queues.kpi", {"step": -1})
            assert time.monotonic() < deadline
        while sub.poll(50):
            sub.recv_multipart()
        emu.run()
        got = []
        while sub.poll(500):
            topic, payload = sub.recv_multipart()
            got.append((topic, P.decode(payload)))
    finally:
        sub.close()
        ctx.term()
    df = emu.traces.table("queues").to_pandas()
    assert [p["step"] for _, p in got] == [0, 1, 2, 3, 4] and all(t == b"queues.kpi" for t, _ in got)
    np.testing.assert_array_equal(got[4][1]["backlog"], df[df.step == 4]["backlog"].to_numpy())


def test_realtime_actions_apply_when_they_arrive_misses_fall_back_once(served, agent_threads):
    sc = queue_scenario(duration=0.6, clock={"mode": "realtime", "realtime_factor": 2.0, "tti_ms": 10},
                        deadline_ms=1000.0)
    emu, bridge = served(sc)
    agent_threads(bridge.endpoint, ["queue/q0"], POLICIES["proportional"])
    raw = Raw(bridge.endpoint)  # q1: attached but never answers
    try:
        raw.send(hello(["queue/q1"]))
        assert raw.recv()["type"] == "WELCOME"
        bridge.wait_for_agents(2, 10)
        emu.run()
        st = bridge.stats()
    finally:
        raw.close()
    q0, q1 = st["points"]["queue/q0"], st["points"]["queue/q1"]
    c0, c1 = emu.control_points["queue/q0"].counters, emu.control_points["queue/q1"].counters
    # Every decision ends once: applied (answered), invalid or fallen back — never twice.
    assert c0["decisions"] == 6 and q0["answered"] >= 3 and c0["applied"] == q0["answered"]
    assert c0["applied"] + c0["fallbacks"] + c0["invalid"] <= 6
    assert c1["applied"] == 0 and c1["fallbacks"] == q1["fallbacks"] >= 5
    assert st["lateness_ms"]["ticks"] > 0
    # The WELCOME'd deadline in real time is one decision period in wall seconds (0.1 s / 2).
    assert bridge._deadline_s(emu) == pytest.approx(0.05)
