"""The agent bridge's wire format: message schema, msgpack encoding with typed arrays, validation.

Every message is one ZeroMQ frame holding a msgpack map with at least `v` (protocol version) and
`type`. numpy arrays travel as maps `{"__nd__": 1, "dtype": "<f4", "shape": [...], "bytes": ...}`
so dtype and shape survive exactly (bit-for-bit traces). See bridge/PROTOCOL.md for the flows.
"""
from __future__ import annotations

import math
import threading
from enum import Enum
from typing import Any

import msgpack
import numpy as np

PROTOCOL_VERSION = 1

# One frame may not exceed this (answered with FAILURE too_large). A 12-cell observation is a few
# hundred bytes; 1 MiB leaves room for large observations while bounding what a peer can make us hold.
MAX_FRAME_BYTES = 1 << 20
# ZeroMQ drops (rather than delivers) frames above this, so we never even buffer a huge one.
HARD_FRAME_BYTES = 16 << 20
MAX_ROLES = 1024
MAX_NAME_CHARS = 128
MAX_ARRAY_ELEMENTS = 1 << 20
MAX_ARRAY_DIMS = 8

ARRAY_TAG = "__nd__"
# Fixed-width, little-endian (or byte-order-free) types only: no objects, strings or datetimes.
ALLOWED_DTYPES = frozenset(
    np.dtype(t).str for t in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                              "uint64", "float16", "float32", "float64")
)


class MsgType(str, Enum):
    HELLO = "HELLO"
    WELCOME = "WELCOME"
    REJECT = "REJECT"
    INDICATION = "INDICATION"
    CONTROL = "CONTROL"
    ACK = "ACK"
    FAILURE = "FAILURE"
    HEARTBEAT = "HEARTBEAT"
    RESET = "RESET"
    BYE = "BYE"


class Code(str, Enum):
    """FAILURE and REJECT causes (E2 "cause" in spirit): what went wrong, in one word."""

    TOO_LARGE = "too_large"          # frame above the size limit
    BAD_FRAME = "bad_frame"          # not exactly one non-empty frame
    DECODE = "decode"                # not msgpack, bad UTF-8, nested too deep, bad array encoding
    SCHEMA = "schema"                # not a map, missing/unknown field, wrong type or range
    VERSION = "version"              # protocol version not supported
    UNKNOWN_TYPE = "unknown_type"    # message type not in the table
    NOT_ATTACHED = "not_attached"    # CONTROL/RESET from a peer that has no session
    ALREADY_ATTACHED = "already_attached"  # a second HELLO on the same connection
    UNKNOWN_ROLE = "unknown_role"    # no such control point
    DUPLICATE_ROLE = "duplicate_role"  # the role is served by another attached agent
    NOT_OWNER = "not_owner"          # CONTROL for a role this session did not claim
    INVALID_ACTION = "invalid_action"  # the control point refused the action (shape, range, rule)
    STALE = "stale"                  # CONTROL for a step that is no longer awaited
    DUPLICATE = "duplicate"          # a second CONTROL for the same role and step
    NO_DECISION = "no_decision"      # CONTROL for a step that was never indicated


class ProtocolError(Exception):
    """A message that cannot be accepted; `code` goes back to the peer in a FAILURE."""

    def __init__(self, code: Code, message: str):
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message


# -- encoding ----------------------------------------------------------------------------------
# dtype -> its wire name, for the dtypes seen so far (dtype.str builds a new string on every call).
_DTYPE_STR: dict[np.dtype, str] = {}


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        dt = obj.dtype
        name = _DTYPE_STR.get(dt)
        if name is None:
            if dt.byteorder == ">":
                return _default(obj.astype(dt.newbyteorder("<")))
            name = _DTYPE_STR[dt] = dt.str
        # tobytes() is C order whatever the array's layout, so no contiguous copy is needed first.
        return {ARRAY_TAG: 1, "dtype": name, "shape": list(obj.shape), "bytes": obj.tobytes()}
    if isinstance(obj, np.generic):
        # Scalars keep their numpy type (a float32 stays float32 on the far side).
        return _default(np.asarray(obj))
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} in a bridge message")


# One Packer per thread: building one per message costs more than packing a small message.
_packers = threading.local()


def encode(msg: dict) -> bytes:
    """msgpack bytes for one message map (numpy arrays and scalars included)."""
    try:
        packer = _packers.packer
    except AttributeError:
        packer = _packers.packer = msgpack.Packer(default=_default, use_bin_type=True, autoreset=True)
    try:
        return packer.pack(msg)
    except BaseException:
        packer.reset()  # a failed pack (e.g. an unencodable object) leaves partial bytes behind
        raise


_TYPE_NAMES = {t: t.value for t in MsgType}


def message(type_: MsgType, **fields: Any) -> dict:
    return {"v": PROTOCOL_VERSION, "type": _TYPE_NAMES[type_], **fields}


def pack(type_: MsgType, **fields: Any) -> bytes:
    return encode({"v": PROTOCOL_VERSION, "type": _TYPE_NAMES[type_], **fields})


# Wire dtype name -> dtype, for the allowed ones (the lookup also checks that a name is allowed).
_DTYPES = {name: np.dtype(name) for name in ALLOWED_DTYPES}


def _array_hook(obj: dict) -> Any:
    if ARRAY_TAG not in obj:
        return obj
    dtype, shape, data = obj.get("dtype"), obj.get("shape"), obj.get("bytes")
    if len(obj) != 4 or not isinstance(dtype, str) or not isinstance(shape, list) or not isinstance(data, bytes):
        raise ProtocolError(Code.DECODE, "array must be {__nd__, dtype, shape, bytes}")
    dt = _DTYPES.get(dtype)
    if dt is None:
        raise ProtocolError(Code.DECODE, f"array dtype {dtype!r} not allowed")
    if len(shape) == 1:  # the common case, without a generator per array
        count = shape[0]
        if type(count) is not int or not 0 <= count <= MAX_ARRAY_ELEMENTS:
            raise ProtocolError(Code.DECODE, f"array shape {shape!r} invalid")
    elif len(shape) > MAX_ARRAY_DIMS or not all(type(n) is int and 0 <= n <= MAX_ARRAY_ELEMENTS for n in shape):
        raise ProtocolError(Code.DECODE, f"array shape {shape!r} invalid")
    else:
        count = math.prod(shape)
    if count > MAX_ARRAY_ELEMENTS or count * dt.itemsize != len(data):
        raise ProtocolError(Code.DECODE, f"array of shape {shape} and dtype {dtype} needs "
                                         f"{count * dt.itemsize} bytes, got {len(data)}")
    arr = np.frombuffer(bytearray(data), dtype=dt)  # writable, and not a view of the frame
    if len(shape) == 1:
        return arr
    return arr.reshape(shape) if shape else arr.reshape(())[()]


# How the array tag appears in a frame (a msgpack fixstr), to count the arrays before unpacking.
_TAG_KEY = msgpack.packb(ARRAY_TAG)


def _lift_values(d: dict) -> int:
    """Turn array maps among the values of `d` into arrays in place; return how many."""
    n = 0
    for k, v in d.items():
        if type(v) is dict and ARRAY_TAG in v:
            d[k] = _array_hook(v)
            n += 1
    return n


def _lift_known_arrays(msg: dict, tags: int) -> int:
    """Turn the array maps where the per-decision messages carry them (CONTROL actions, INDICATION
    observations, then info values) into arrays in place, stopping once `tags` are found; return
    how many were turned."""
    n = 0
    t = msg.get("type")
    if t == "CONTROL":
        actions = msg.get("actions")
        if type(actions) is dict:
            n += _lift_values(actions)
    elif t == "INDICATION":
        items = msg.get("items")
        items = [it for it in items if type(it) is dict] if type(items) is list else []
        for item in items:
            v = item.get("observation")
            if type(v) is dict and ARRAY_TAG in v:
                item["observation"] = _array_hook(v)
                n += 1
        for item in items if n < tags else ():  # info rarely holds arrays: look only if some are left
            info = item.get("info")
            if type(info) is dict:
                n += _lift_values(info)
    return n


def _unpack(frame: bytes, max_bytes: int, hook) -> Any:
    return msgpack.unpackb(
        frame, raw=False, object_hook=hook, strict_map_key=True, use_list=True,
        max_str_len=max_bytes, max_bin_len=max_bytes,
        max_array_len=MAX_ARRAY_ELEMENTS, max_map_len=MAX_ARRAY_ELEMENTS, max_ext_len=0,
    )


def decode(frame: bytes, max_bytes: int = MAX_FRAME_BYTES) -> dict:
    """Bytes → message map, or ProtocolError (never anything else) for any malformed input.

    Arrays may sit anywhere in a message. An object hook that looks at every map finds them, but
    costs a Python call per map; so a frame is unpacked plainly, the arrays are lifted where
    INDICATION and CONTROL carry them, and only if that misses some of the frame's array tags
    (counted in the bytes: a tag inside a string or array data also counts, which errs towards
    the full path) is it unpacked again with the hook. Both paths give the same result.
    """
    if len(frame) > max_bytes:
        raise ProtocolError(Code.TOO_LARGE, f"frame of {len(frame)} bytes exceeds the {max_bytes}-byte limit")
    if not frame:
        raise ProtocolError(Code.BAD_FRAME, "empty frame")
    try:
        tags = frame.count(_TAG_KEY)
        obj = _unpack(frame, max_bytes, None)
        if tags and not (type(obj) is dict and _lift_known_arrays(obj, tags) == tags):
            obj = _unpack(frame, max_bytes, _array_hook)
    except ProtocolError:
        raise
    except Exception as exc:  # msgpack raises a zoo of types (ExtraData, StackError, ValueError, ...)
        raise ProtocolError(Code.DECODE, f"not a msgpack message: {type(exc).__name__}: {exc}"[:200]) from None
    if not isinstance(obj, dict):
        raise ProtocolError(Code.SCHEMA, f"message must be a map, got {type(obj).__name__}")
    return obj


# -- validation --------------------------------------------------------------------------------
def _is_int(x: Any) -> bool:
    return (type(x) is int) or isinstance(x, np.integer)


def _is_num(x: Any) -> bool:
    return (type(x) in (int, float)) or isinstance(x, (np.integer, np.floating))


def _name(x: Any) -> bool:
    # Printable only: names and roles end up in logs, where a newline or an ANSI escape from a
    # peer would forge lines or rewrite the terminal.
    return isinstance(x, str) and 0 < len(x) <= MAX_NAME_CHARS and x.isprintable()


def _token(x: Any) -> bool:
    return isinstance(x, str) and len(x) <= 64 and x.isascii() and x.isprintable()


def _opt(check):
    return lambda x: x is None or check(x)


def _role_list(x: Any) -> bool:
    return isinstance(x, list) and 0 < len(x) <= MAX_ROLES and all(_name(r) for r in x)


def _action(x: Any, depth: int = 0) -> bool:
    # An action is an array, a number, or (for clients without numpy) nested lists of numbers at
    # most MAX_ARRAY_DIMS deep; the control point then checks shape and range.
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "biuf"
    if _is_num(x) and not isinstance(x, bool):
        return True
    return isinstance(x, list) and depth < MAX_ARRAY_DIMS and all(_action(e, depth + 1) for e in x)


def _actions(x: Any) -> bool:
    return isinstance(x, dict) and 0 < len(x) <= MAX_ROLES and all(_name(k) and _action(v) for k, v in x.items())


# field -> (check, required). Incoming on the emulator side (from agents).
AGENT_MESSAGES: dict[str, dict[str, tuple]] = {
    "HELLO": {"name": (_name, True), "roles": (_role_list, True),
              "pid": (_opt(lambda x: _is_int(x) and 0 <= x < 2**32), False),
              "resume": (_opt(_token), False),
              "ack": (_opt(lambda x: x in ("all", "failures")), False)},
    "CONTROL": {"step": (lambda x: _is_int(x) and 0 <= x < 2**63, True), "actions": (_actions, True),
                "world": (_opt(lambda x: _is_int(x) and 0 <= x < 2**63), False)},
    "HEARTBEAT": {},
    "RESET": {"seed": (_opt(lambda x: _is_int(x) and 0 <= x < 2**63), False)},
    "BYE": {"reason": (_opt(lambda x: isinstance(x, str) and len(x) <= 1024), False)},
}

# Incoming on the agent side (from the emulator): checked more loosely, the emulator is trusted.
SERVER_MESSAGES: dict[str, tuple[str, ...]] = {
    "WELCOME": ("session", "roles", "clock", "deadline_ms", "heartbeat_s", "liveness"),
    "REJECT": ("code", "message"),
    "INDICATION": ("seq", "deadline_ms", "items"),
    "ACK": ("step", "roles"),
    "FAILURE": ("code", "message"),
    "HEARTBEAT": (),
    "BYE": (),
}


def _check_envelope(msg: dict, table) -> str:
    v = msg.get("v")
    if not _is_int(v):
        raise ProtocolError(Code.SCHEMA, "field 'v' (protocol version) must be an integer")
    if v != PROTOCOL_VERSION:
        raise ProtocolError(Code.VERSION, f"protocol version {v} not supported (this side speaks {PROTOCOL_VERSION})")
    t = msg.get("type")
    if not isinstance(t, str):
        raise ProtocolError(Code.SCHEMA, "field 'type' must be a string")
    if t not in table:
        raise ProtocolError(Code.UNKNOWN_TYPE, f"unknown message type {t[:40]!r}")
    return t


def check_agent_message(msg: dict) -> str:
    """Validate a message sent by an agent; return its type or raise ProtocolError."""
    t = _check_envelope(msg, AGENT_MESSAGES)
    spec = AGENT_MESSAGES[t]
    for key in msg:
        if key not in spec and key not in ("v", "type"):
            raise ProtocolError(Code.SCHEMA, f"{t}: unknown field {str(key)[:40]!r}")
    for key, (check, required) in spec.items():
        if key not in msg:
            if required:
                raise ProtocolError(Code.SCHEMA, f"{t}: missing field {key!r}")
            continue
        if not check(msg[key]):
            raise ProtocolError(Code.SCHEMA, f"{t}: field {key!r} has a wrong type or value")
    return t


def check_server_message(msg: dict) -> str:
    """Validate a message sent by the emulator; return its type or raise ProtocolError."""
    t = _check_envelope(msg, SERVER_MESSAGES)
    for key in SERVER_MESSAGES[t]:
        if key not in msg:
            raise ProtocolError(Code.SCHEMA, f"{t}: missing field {key!r}")
    return t
