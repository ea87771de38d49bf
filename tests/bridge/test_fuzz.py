"""Thousands of random and malformed frames: the bridge answers each with FAILURE and stays up."""
from __future__ import annotations

import msgpack
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import protocol as P
from bridge.client import AgentClient
from tests.bridge.conftest import queue_scenario

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70).filter(lambda i: -2**63 <= i < 2**64),
                    st.floats(allow_nan=True), st.text(max_size=20), st.binary(max_size=20))
values = st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c, max_size=4)),
                      max_leaves=12)
# Messages that look like ours: right envelope, wrong or missing fields (never a valid HELLO for a real role).
shaped = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 1, 1, 0, 2, "1", None]),
     "type": st.sampled_from(["CONTROL", "HEARTBEAT", "RESET", "BYE", "WELCOME", "INDICATION", "NOPE", ""])},
    optional={"step": values, "actions": st.one_of(values, st.dictionaries(st.text(max_size=12), values, max_size=3)),
              "seed": values, "reason": values, "extra": values},
).map(lambda m: msgpack.packb(m, use_bin_type=True))
frames = st.one_of(st.binary(min_size=0, max_size=300), shaped,
                   values.map(lambda v: msgpack.packb(v, use_bin_type=True)),
                   st.binary(min_size=1, max_size=40).map(lambda b: b"\x81\xa2v\x01" + b))  # truncated maps
batches = st.lists(st.one_of(frames.map(lambda f: [f]), st.lists(frames, min_size=2, max_size=3)), min_size=10, max_size=40)


def test_random_frames_each_get_a_failure_and_the_server_stays_up(served):
    sc = queue_scenario(heartbeat_s=0.02, liveness=1000)  # a fast keeper thread serves between runs
    emu, bridge = served(sc)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(bridge.endpoint)
    sent = {"frames": 0}

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(batches)
    def check(batch):
        for parts in batch:
            sock.send_multipart(parts)
        for _ in batch:
            assert sock.poll(5000), "the bridge stopped answering"
            reply = P.decode(sock.recv())
            assert reply["type"] == "FAILURE" and reply["code"] in {c.value for c in P.Code}, reply
        assert not sock.poll(30)  # exactly one answer per message
        sent["frames"] += len(batch)

    try:
        check()
        # Still serving: a real agent attaches and is answered.
        with AgentClient(bridge.endpoint, ["queue/q0"], timeout_s=5) as c:
            assert c.connect().roles["queue/q0"].kind == "rate"
    finally:
        sock.close()
        ctx.term()
    assert sent["frames"] >= 1000
    assert sum(bridge.stats()["failures_sent"].values()) >= sent["frames"]


def test_oversized_frame_gets_too_large(served):
    sc = queue_scenario(heartbeat_s=0.02)
    emu, bridge = served(sc)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(bridge.endpoint)
    try:
        sock.send(b"\x00" * (P.MAX_FRAME_BYTES + 1))
        assert sock.poll(5000)
        assert P.decode(sock.recv())["code"] == "too_large"
    finally:
        sock.close()
        ctx.term()
