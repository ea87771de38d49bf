"""Protocol sessions under faults (issue 10, kinds 9-14): answers across a reset, a frozen agent that
must re-attach, deadlines of queued INDICATIONs, refused messages that change nothing and get one
reply, untrusted names in logs, IPv6 loopback."""
from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest

from bridge import protocol as P
from bridge.client import AgentClient, ServerBye, SessionLost
from bridge.protocol import MsgType
from emulator.errors import ConfigError
from tests.bridge.conftest import queue_scenario
from tests.bridge.test_server import Raw, hello


def _until(pred, timeout_s=10.0, what="condition"):
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, f"no {what} within {timeout_s} s"
        time.sleep(0.01)


def _no_more(raw: Raw, window_s: float = 0.4) -> list[dict]:
    """Whatever else (not heartbeats) arrives within `window_s`."""
    out = []
    try:
        while True:
            out.append(raw.recv(window_s))
    except TimeoutError:
        return out


# -- 9. answers across a reset -----------------------------------------------------------------------
@pytest.mark.parametrize("clock", [None, {"mode": "realtime", "realtime_factor": 0.1}], ids=["lockstep", "realtime"])
def test_a_late_answer_to_the_world_before_a_reset_is_refused(served, clock):
    kw = {"clock": clock} if clock else {}
    sc = queue_scenario(duration=0.2, deadline_ms=5000.0, **kw)
    emu, bridge = served(sc, k=2)
    a = AgentClient(bridge.endpoint, ["queue/q0"], name="a", timeout_s=5)
    b = AgentClient(bridge.endpoint, ["queue/q1"], name="b", timeout_s=5)
    errors = []
    try:
        a.connect()
        b.connect()

        def agent_a():
            try:
                first = a.recv(10)
                assert first[0].step == 0 and getattr(first[0], "world", 0) == 0
                a.reset()  # while B still holds world 0's step 0
                while True:
                    batch = a.recv(10)
                    a.send_control({i.role: np.array([0.5]) for i in batch}, batch[0].step)
            except ServerBye:
                pass
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        def agent_b():
            try:
                old = b.recv(10)
                assert old[0].step == 0 and getattr(old[0], "world", 0) == 0
                # (not stats(): it waits for the bridge's lock, which a lockstep round holds)
                _until(lambda: bridge._counters.resets == 1, what="reset")
                b.send_control({"queue/q1": np.array([0.9])}, 0)  # late: world 0 (the SDK's default)
                while True:
                    batch = b.recv(10)
                    assert getattr(batch[0], "world", 1) == 1
                    b.send_control({i.role: np.array([0.1]) for i in batch}, batch[0].step)
            except ServerBye:
                pass
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=f, daemon=True) for f in (agent_a, agent_b)]
        for t in threads:
            t.start()
        emu.run()
        bridge.close()
        for t in threads:
            t.join(10)
    finally:
        a.close()
        b.close()
    assert not errors, errors
    old_world = [f for f in b.failures if "world 0 is over" in f.message]
    assert len(old_world) == 1 and old_world[0].code == "stale" and old_world[0].step == 0
    assert not [f for f in b.failures if f.code == "duplicate"]  # the real answer was not refused
    stats = bridge.stats()
    assert stats["resets"] == 1
    df = emu.traces.table("queues").to_pandas()
    q1 = df[df["queue"] == 1]
    # world 1's step 1 row shows the share B set for world 1's step 0: its real answer, not the late one
    assert q1["step"].tolist()[-2:] == [0, 1] and q1["share"].tolist()[-1] == 0.1
    if clock is None:  # lockstep: exactly this, nothing left to timing
        assert stats["failures_sent"] == {"stale": 1} and stats["points"]["queue/q1"]["answered"] == 2
        assert q1["step"].tolist() == [0, 0, 1]


# -- 10. a frozen agent is detached; on not_attached the SDK resumes ---------------------------------
def test_not_attached_means_the_session_is_lost_and_reconnect_resumes_it(served):
    sc = queue_scenario(heartbeat_s=0.05, liveness=4)
    emu, bridge = served(sc)
    with AgentClient(bridge.endpoint, ["queue/q0"], name="frozen", timeout_s=5) as c:
        w = c.connect()
        c._hb_stop.set()  # as if the process were stopped: nothing is sent any more
        c._hb_thread.join(2)
        _until(lambda: not bridge.attached(), what="detach")
        with pytest.raises(SessionLost, match="no longer holds our session"):
            c.recv(5)  # its own heartbeat is answered with not_attached
        assert c.welcome is None
        again = c.reconnect()
        assert again.session == w.session and bridge.attached() == {"frozen": ["queue/q0"]}


# -- 11. deadlines of queued INDICATIONs; superseded ones are dropped ---------------------------------
def test_a_queued_indication_reports_its_deadline_from_arrival_and_stale_ones_are_dropped(served):
    sc = queue_scenario(duration=0.3, deadline_ms=150.0)
    emu, bridge = served(sc)
    roles = ["queue/q0", "queue/q1", "queue/q2"]
    with AgentClient(bridge.endpoint, roles, name="busy", timeout_s=5) as c:
        c.connect()
        emu.run()  # the agent is "busy": three INDICATIONs queue up, each deadline passes
        assert bridge.stats()["fallbacks"] == 9
        batch = c.recv(5)
        now = time.monotonic()
        # only the newest is served: steps 0 and 1 were over before the agent looked
        assert [i.step for i in batch] == [2, 2, 2] and c.superseded == 6
        # counted from arrival, this deadline has passed (the emulator already fell back)
        assert all(i.deadline <= now for i in batch)


# -- 12. a refused message changes nothing and gets one reply ---------------------------------------
def test_a_refused_hello_does_not_evict_the_session_it_names(served):
    sc = queue_scenario()
    emu, bridge = served(sc)
    live = Raw(bridge.endpoint)
    thief = Raw(bridge.endpoint)
    try:
        live.send(hello(["queue/q0"], name="live"))
        token = live.recv()["session"]
        for bad_roles in (["nope"], ["queue/q1", "queue/q1"]):
            thief.send(hello(bad_roles, name="thief", resume=token))
            assert thief.recv()["type"] == "REJECT"
        assert bridge.attached() == {"live": ["queue/q0"]}
        live.send(P.message(MsgType.HEARTBEAT))
        assert _no_more(live, 0.3) == []  # still attached: no not_attached
        # an accepted resume does replace it
        thief.send(hello(["queue/q0"], name="heir", resume=token))
        assert thief.recv()["type"] == "WELCOME" and bridge.attached() == {"heir": ["queue/q0"]}
    finally:
        live.close()
        thief.close()


def test_one_control_naming_many_foreign_roles_gets_one_failure_and_applies_nothing(served):
    sc = queue_scenario()
    emu, bridge = served(sc)
    raw = Raw(bridge.endpoint)
    try:
        raw.send(hello(["queue/q0"], name="r"))
        assert raw.recv()["type"] == "WELCOME"
        actions = {f"x{i}": 0.5 for i in range(1023)}
        actions["queue/q0"] = [0.5]
        raw.send(P.message(MsgType.CONTROL, step=0, actions=actions))
        first = raw.recv()
        assert first["type"] == "FAILURE" and first["code"] == "unknown_role"
        assert "and 1022 more" in first["message"] and "nothing in this CONTROL was applied" in first["message"]
        raw.send(P.message(MsgType.CONTROL, step=0, actions={"queue/q0": [0.5], "queue/q1": [0.5]}))
        second = raw.recv()
        assert second["code"] == "not_owner"
        assert _no_more(raw) == []  # one reply per frame
        assert bridge.stats()["failures_sent"] == {"unknown_role": 1, "not_owner": 1}
    finally:
        raw.close()


def test_a_non_ascii_resume_token_is_a_schema_failure_not_an_internal_error(served, caplog):
    sc = queue_scenario()
    emu, bridge = served(sc)
    raw, other = Raw(bridge.endpoint), Raw(bridge.endpoint)
    try:
        other.send(hello(["queue/q1"], name="other"))  # a live session to compare tokens against
        assert other.recv()["type"] == "WELCOME"
        with caplog.at_level(logging.INFO, logger="ranemu"):
            for token in ("é" * 10, "\x00" * 8, "токен"):
                raw.send(hello(["queue/q0"], name="r", resume=token))
                reply = raw.recv()
                assert reply["type"] == "FAILURE" and reply["code"] == "schema" and "'resume'" in reply["message"]
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        assert bridge.attached() == {"other": ["queue/q1"]}
    finally:
        raw.close()
        other.close()


# -- 13. untrusted strings never reach the log raw -----------------------------------------------------
def test_control_characters_in_names_are_refused_and_reasons_are_logged_escaped(served, caplog):
    sc = queue_scenario()
    emu, bridge = served(sc)
    raw = Raw(bridge.endpoint)
    try:
        with caplog.at_level(logging.INFO, logger="ranemu"):
            for name in ("evil\n2026-01-01 WARNING ranemu: forged", "\x1b[2J\x1b[31mred", "zero\u200bwidth"):
                raw.send(hello(["queue/q0"], name=name))
                reply = raw.recv()
                assert reply["type"] == "FAILURE" and reply["code"] == "schema" and "'name'" in reply["message"]
            raw.send(hello(["queue/q0"], name="ok"))
            assert raw.recv()["type"] == "WELCOME"
            raw.send(P.message(MsgType.BYE, reason="bye\n2026-01-01 ERROR ranemu: forged \x1b[31m"))
            _until(lambda: not bridge.attached(), what="detach")
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert "said BYE" in text and "\\n2026-01-01 ERROR" in text
        assert not any("\n" in r.getMessage() or "\x1b" in r.getMessage() for r in caplog.records)
    finally:
        raw.close()


# -- 14. IPv6 loopback ---------------------------------------------------------------------------------
def test_ipv6_loopback_binds_and_serves(served):
    sc = queue_scenario(endpoint="tcp://[::1]:*", duration=0.2)
    emu, bridge = served(sc)
    assert bridge.endpoint.startswith("tcp://[::1]:")
    with AgentClient(bridge.endpoint, ["queue/q0"], name="v6", timeout_s=5) as c:
        assert c.connect().roles["queue/q0"].kind == "rate"


def test_malformed_ipv6_endpoints_are_config_errors():
    for endpoint, expect in [("tcp://[::1:5", "unbalanced brackets"), ("tcp://[zz]:5", "is not an IPv6 address"),
                             ("tcp://::1:5", "in brackets")]:
        with pytest.raises(ConfigError, match=expect):
            queue_scenario(endpoint=endpoint)
