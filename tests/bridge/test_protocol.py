"""Wire format: arrays survive exactly, limits and schema violations map to the right FAILURE codes."""
from __future__ import annotations

import msgpack
import numpy as np
import pytest

from bridge import protocol as P
from bridge.protocol import Code, MsgType, ProtocolError


@pytest.mark.parametrize("dtype", ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                                   "uint64", "float16", "float32", "float64"])
def test_arrays_round_trip_bit_for_bit(dtype):
    rng = np.random.default_rng(1)
    arr = (rng.standard_normal((3, 4)) * 100).astype(dtype)
    out = P.decode(P.pack(MsgType.INDICATION, seq=1, deadline_ms=5.0, items=[{"observation": arr}]))
    got = out["items"][0]["observation"]
    assert got.dtype == arr.dtype and got.shape == arr.shape
    assert got.tobytes() == arr.tobytes()
    got[0, 0] = 0  # decoded arrays are writable copies, not views of the frame


def test_numpy_scalars_keep_their_type_and_big_endian_arrays_arrive_little_endian():
    x = np.float32(1.1)
    big = np.arange(5, dtype=">i4")
    out = P.decode(P.encode({"x": x, "big": big, "nan": np.float64("nan")}))
    assert type(out["x"]) is np.float32 and out["x"] == x
    assert out["big"].dtype == np.dtype("<i4") and out["big"].tolist() == [0, 1, 2, 3, 4]
    assert np.isnan(out["nan"])


def test_frame_limit_is_enforced_before_parsing():
    frame = P.encode({"v": 1, "type": "HEARTBEAT", "pad": b"x" * 2000})
    with pytest.raises(ProtocolError) as e:
        P.decode(frame, max_bytes=1000)
    assert e.value.code is Code.TOO_LARGE


@pytest.mark.parametrize("frame,code", [
    (b"", Code.BAD_FRAME),
    (b"\xc1", Code.DECODE),                                   # reserved msgpack byte
    (msgpack.packb([1, 2, 3]), Code.SCHEMA),                  # not a map
    (msgpack.packb({"a": 1}) + b"\x00", Code.DECODE),         # trailing bytes
    (msgpack.packb({1: 2}), Code.DECODE),                     # non-string map key
    (b"\x91" * 5000 + b"\x00", Code.DECODE),                  # nested too deep
    (msgpack.packb({"x": {"__nd__": 1, "dtype": "|O", "shape": [1], "bytes": b"\0" * 8}}), Code.DECODE),
    (msgpack.packb({"x": {"__nd__": 1, "dtype": "<f8", "shape": [2], "bytes": b"\0" * 8}}), Code.DECODE),
    (msgpack.packb({"x": {"__nd__": 1, "dtype": "<f8", "shape": [-1], "bytes": b""}}), Code.DECODE),
    (msgpack.packb({"x": {"__nd__": 1, "dtype": "<f8", "shape": [1]}}), Code.DECODE),
    (msgpack.packb({"x": msgpack.ExtType(1, b"ab")}), Code.DECODE),
    (b"\xa2\xff\xfe", Code.DECODE),                            # invalid UTF-8 string
])
def test_malformed_frames_get_the_right_code(frame, code):
    with pytest.raises(ProtocolError) as e:
        msg = P.decode(frame)
        P.check_agent_message(msg)
    assert e.value.code is code


def hello(**kw):
    return {"v": 1, "type": "HELLO", "name": "a", "roles": ["r"], **kw}


@pytest.mark.parametrize("msg,code", [
    ({"type": "HELLO"}, Code.SCHEMA),                                   # no version
    (hello(v=2), Code.VERSION),
    ({"v": 1, "type": "SUBSCRIBE"}, Code.UNKNOWN_TYPE),
    ({"v": 1, "type": 7}, Code.SCHEMA),
    (hello(roles=[]), Code.SCHEMA),
    (hello(roles=["x" * 129]), Code.SCHEMA),
    (hello(roles="r"), Code.SCHEMA),
    (hello(name=""), Code.SCHEMA),
    (hello(extra=1), Code.SCHEMA),
    (hello(pid=-1), Code.SCHEMA),
    (hello(ack="sometimes"), Code.SCHEMA),
    ({"v": 1, "type": "CONTROL", "step": -1, "actions": {"r": [0.5]}}, Code.SCHEMA),
    ({"v": 1, "type": "CONTROL", "step": True, "actions": {"r": [0.5]}}, Code.SCHEMA),
    ({"v": 1, "type": "CONTROL", "step": 1, "actions": {"r": "half"}}, Code.SCHEMA),
    ({"v": 1, "type": "CONTROL", "step": 1, "actions": {}}, Code.SCHEMA),
    ({"v": 1, "type": "CONTROL", "step": 1, "actions": {"r": [[[[[[[[[[0.5]]]]]]]]]]}}, Code.SCHEMA),
    ({"v": 1, "type": "CONTROL", "step": 1}, Code.SCHEMA),
    ({"v": 1, "type": "RESET", "seed": -3}, Code.SCHEMA),
])
def test_schema_violations(msg, code):
    with pytest.raises(ProtocolError) as e:
        P.check_agent_message(P.decode(msgpack.packb(msg)))
    assert e.value.code is code


def test_valid_agent_messages_pass():
    for msg in (hello(), hello(pid=12, resume="ab" * 16, ack="failures"),
                {"v": 1, "type": "CONTROL", "step": 3, "actions": {"r": np.array([0.5]), "s": [[1, 2], [3.5, 4]]}},
                {"v": 1, "type": "HEARTBEAT"}, {"v": 1, "type": "RESET"}, {"v": 1, "type": "RESET", "seed": 9},
                {"v": 1, "type": "BYE", "reason": "done"}):
        assert P.check_agent_message(P.decode(P.encode(msg))) == msg["type"]


def _same(a, b) -> bool:
    """Structural equality in which arrays must match in type, dtype, shape and bytes."""
    if isinstance(a, (np.ndarray, np.generic)) or isinstance(b, (np.ndarray, np.generic)):
        return type(a) is type(b) and a.dtype == b.dtype and np.shape(a) == np.shape(b) and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _hook_decode(frame: bytes) -> dict:
    return msgpack.unpackb(frame, raw=False, object_hook=P._array_hook, strict_map_key=True)


@pytest.mark.parametrize("msg", [
    # arrays only where the per-decision messages carry them: the plain-unpack path
    {"v": 1, "type": "INDICATION", "seq": 1, "deadline_ms": 5.0, "items": [
        {"role": "a", "observation": np.arange(4, dtype=np.float32), "info": {"x": np.eye(2), "y": [1.0, 2.0]}},
        {"role": "b", "observation": np.float32(3.5), "info": {}}]},
    {"v": 1, "type": "CONTROL", "step": 2, "actions": {"a": np.array([0.25, 0.75]), "b": [0.5, 0.5]}},
    # arrays elsewhere too (nested in lists, in other fields, in a nested info map): the full path
    {"v": 1, "type": "INDICATION", "seq": 1, "deadline_ms": 5.0, "items": [
        {"role": "a", "observation": np.zeros(3), "info": {"deep": {"z": np.ones(2, dtype=np.int8)},
                                                           "list": [np.arange(3), 4]}}]},
    {"v": 1, "type": "CONTROL", "step": 2, "actions": {"a": [np.array([0.25]), np.array([0.75])]}},
    {"v": 1, "type": "WELCOME", "roles": {"a": {"low": np.zeros(2)}}},
    # the tag's bytes inside a string or inside array data: counted, so the full path runs
    {"v": 1, "type": "CONTROL", "step": 2, "actions": {"x__nd__": np.array([1.0])}},
    {"v": 1, "type": "CONTROL", "step": 2, "actions": {"a": np.frombuffer(b"\xa6__nd__", dtype=np.uint8)}},
])
def test_decoding_finds_every_array_wherever_it_sits(msg):
    frame = P.encode(msg)
    got = P.decode(frame)
    assert _same(got, _hook_decode(frame))
    assert _same(got, msg)


def test_a_malformed_array_where_arrays_are_expected_is_a_decode_error():
    bad = {"__nd__": 1, "dtype": "<f8", "shape": [3], "bytes": b"\0" * 8}
    for msg in ({"v": 1, "type": "CONTROL", "step": 1, "actions": {"a": bad}},
                {"v": 1, "type": "INDICATION", "seq": 1, "deadline_ms": 1.0, "items": [{"observation": bad}]}):
        with pytest.raises(ProtocolError) as e:
            P.decode(msgpack.packb(msg))
        assert e.value.code is Code.DECODE


def test_indication_and_control_arrays_are_all_found_without_the_hook():
    for msg in ({"v": 1, "type": "INDICATION", "seq": 1, "deadline_ms": 5.0, "items": [
                    {"observation": np.zeros(16, dtype=np.float32), "info": {"a": np.ones(3), "b": [1.0]}}] * 12},
                {"v": 1, "type": "CONTROL", "step": 0, "actions": {f"r{i}": np.full(4, 0.25) for i in range(12)}}):
        frame = P.encode(msg)
        plain = msgpack.unpackb(frame, raw=False)
        tags = frame.count(P._TAG_KEY)
        assert P._lift_known_arrays(plain, tags) == tags > 0
