"""Scenario files: YAML validated into typed config objects, with located one-line errors."""
from __future__ import annotations

import copy
import ipaddress
import reprlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from emulator.errors import ConfigError, RanemuError
from emulator.mec.config import MecConfig, expand_num_servers
from emulator.radio.config import RadioConfig
from emulator.ran.config import RanConfig
from emulator.yamlload import MAX_BYTES, YamlLimitError, load_yaml
from topology.config import TopologyConfig
from topology.model import StrictModel


class ClockConfig(StrictModel):
    mode: Literal["fast", "realtime"] = "fast"
    # Simulated seconds per wall-clock second in real-time mode (1.0 = wall clock). Below 1e-3 a
    # second of simulated time would take over 16 minutes of wall time.
    realtime_factor: float = Field(1.0, ge=1e-3, le=1000)
    # LTE: 1 ms TTI (TS 36.211). Lower bound: the shortest NR slot, 1/64 ms at 960 kHz subcarrier
    # spacing (TS 38.211 Table 4.3.2-1); a smaller one (1e-300) would leave the clock standing still.
    tti_ms: float = Field(1.0, ge=1 / 64, le=1000)


class OutputConfig(StrictModel):
    dir: str = "runs"
    traces: bool = True
    report: bool = True
    # Rows buffered per trace table before a Parquet row group is written.
    flush_rows: int = Field(4096, ge=1)


def endpoint_host(endpoint: str) -> tuple[str, str]:
    """(transport, host) of a ZeroMQ endpoint we bind: `tcp://HOST:PORT`, `ipc://PATH`,
    `inproc://NAME`; raises ValueError saying what is malformed. HOST may be `[IPv6]`."""
    scheme, sep, rest = endpoint.partition("://")
    if not sep or not rest:
        raise ValueError(f"endpoint {endpoint!r} must look like tcp://127.0.0.1:5555 or ipc:///path")
    if scheme in ("ipc", "inproc"):
        return scheme, ""
    if scheme != "tcp":
        raise ValueError(f"endpoint {endpoint!r}: transport {scheme!r} not supported (tcp, ipc)")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not (port == "*" or (port.isdigit() and 0 < int(port) < 65536)):
        raise ValueError(f"endpoint {endpoint!r} must end with :PORT (1-65535) or :*")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"endpoint {endpoint!r}: unbalanced brackets around the IPv6 address")
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"endpoint {endpoint!r}: {host!r} is not an IPv6 address") from None
    elif ":" in host:
        raise ValueError(f"endpoint {endpoint!r}: write an IPv6 address in brackets, tcp://[{host}]:{port}")
    return scheme, host


def endpoint_is_local(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// on a loopback address (127.0.0.0/8, [::1], localhost, lo);
    raises ValueError for a malformed endpoint."""
    scheme, host = endpoint_host(endpoint)
    if scheme != "tcp" or host in ("localhost", "lo"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # '*', an interface name or a host name: not provably loopback


class AgentProcessConfig(StrictModel):
    """An agent process `ranemu run` starts and supervises."""

    roles: list[str] = Field(min_length=1, description="control points this process serves, e.g. slice/cell3")
    command: list[str] = Field(min_length=1, description="argv; {endpoint}, {role}, {roles} are substituted")
    restart: Literal["never", "on-failure", "always"] = "on-failure"
    max_restarts: int = Field(3, ge=0)


class CurveConfig(StrictModel):
    server_secret_key: str = Field(description="path to the server's secret key file (ranemu keys)")
    authorized_keys: str = Field(description="directory of accepted client public key files")


class AgentsConfig(StrictModel):
    """How control points get their actions: in-process policies and/or agents over ZeroMQ."""

    # In-process policy per control-point kind, used when no remote agent serves a point,
    # e.g. {slice_partition: traffic_aware, offloading: greedy}. Unlisted kinds use the
    # point's default policy (hold the default action).
    policies: dict[str, str] = Field(default_factory=dict)
    processes: list[AgentProcessConfig] = Field(default_factory=list)
    endpoint: str = "tcp://127.0.0.1:5555"
    pub_endpoint: str | None = "tcp://127.0.0.1:5556"
    deadline_ms: float = Field(1000.0, gt=0, description="wall-clock wait for an answer in lockstep mode")
    fallback: Literal["hold", "default"] = "hold"
    heartbeat_s: float = Field(1.0, ge=0.01, le=3600, description="below 10 ms heartbeats would busy-loop")
    liveness: int = Field(3, ge=1, description="missed heartbeats before an agent counts as gone")
    wait_agents: int | None = Field(None, ge=0, description="agents that must attach before the clock starts; "
                                    "null (default): one per agents.processes entry, so the agents a run starts "
                                    "itself are attached before the first decision; 0: do not wait")
    wait_timeout_s: float = Field(30.0, gt=0)
    curve: CurveConfig | None = None

    @field_validator("endpoint", "pub_endpoint")
    @classmethod
    def _endpoint(cls, v):
        if v is not None:
            endpoint_host(v)
        return v

    @model_validator(mode="after")
    def _bind_safety(self):
        # Checked here (not only when the bridge binds) so `validate` refuses it and `run` refuses
        # it before making a run folder.
        if self.curve is None:
            for ep in (self.endpoint, self.pub_endpoint):
                if ep is not None and not endpoint_is_local(ep):
                    raise ValueError(
                        f"refusing to bind {ep}: it is not loopback or ipc, and agents.curve is not set "
                        "(make keys with `ranemu keys DIR`, or bind tcp://127.0.0.1:PORT / ipc://PATH)")
        return self


# Upper bound of a run's simulated time: at 1e9 s (31 years) float64 still resolves simulated time
# to ~1e-7 s, far below the shortest TTI; much later `t + TTI == t` and the clock would stand still.
MAX_DURATION_S = 1e9


class Scenario(StrictModel):
    name: str = Field("scenario", pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = Field(1, ge=0, le=2**63 - 1)
    duration: float = Field(10.0, gt=0, le=MAX_DURATION_S, description="simulated seconds")
    episode_steps: int | None = Field(None, ge=1, description="decision steps per episode; none = one episode")
    clock: ClockConfig = Field(default_factory=ClockConfig)
    topology: TopologyConfig = Field(default_factory=TopologyConfig)
    radio: RadioConfig = Field(default_factory=RadioConfig)
    ran: RanConfig | None = None
    mec: MecConfig | None = None
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @model_validator(mode="before")
    @classmethod
    def _mec_num_servers(cls, data):
        # `mec.num_servers` is a convenience that regenerates the topology's sites and servers
        # (emulator.mec.config.expand_num_servers), so sweeps can vary the server count.
        return expand_num_servers(data)


# Union-member tags pydantic puts into an error's location ("float", "list[float]", the `kind` of a
# discriminated union): not part of the file's path.
_TYPE_TAGS = {"float", "int", "str", "bool", "none", "list", "dict", "tuple"}
_kind_tags: set[str] | None = None


def _discriminator_tags() -> set[str]:
    """Every value of a `kind` field in the scenario's models (sections added later included)."""
    global _kind_tags
    if _kind_tags is None:
        tags: set[str] = set()
        seen: set[type] = set()

        def walk(tp) -> None:
            if isinstance(tp, type) and issubclass(tp, StrictModel):
                if tp in seen:
                    return
                seen.add(tp)
                for name, f in tp.model_fields.items():
                    if name == "kind":
                        tags.update(a for a in get_args(f.annotation) if isinstance(a, str))
                    walk(f.annotation)
            for arg in get_args(tp):
                walk(arg)

        walk(Scenario)
        _kind_tags = tags
    return _kind_tags


def _is_tag(part) -> bool:
    s = str(part)
    return (s in _TYPE_TAGS or "[" in s or s.startswith(("function-", "tagged-union"))
            or s in _discriminator_tags())


def _loc_to_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _is_tag(part):
            continue  # discriminator tags pydantic adds to the location; not part of the file's path
        else:
            out += ("." if out else "") + str(part)
    return out


# Bounded repr for error messages: a value may be a huge (or alias-shared) tree, and a plain repr
# would walk all of it. reprlib stops after a few items per level and a few levels.
_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxdict, _repr.maxlist, _repr.maxtuple = 2, 4, 4, 4
_repr.maxstring, _repr.maxother, _repr.maxlong = 60, 60, 40


def _short_repr(value: Any) -> str:
    return _repr.repr(value)


def format_validation_error(source: str, err: ValidationError) -> ConfigError:
    """Turn the first pydantic error into a one-line ConfigError naming file, field path and expectation."""
    errors = err.errors(include_url=False)
    first = errors[0]
    path = _loc_to_path(tuple(first.get("loc", ())))
    # A union field reports one error per member type (`float | list[float]`: "not a number" and,
    # for the list, "[0]: not finite"); the deepest one under the same field says what is wrong.
    for e in errors[1:]:
        p = _loc_to_path(tuple(e.get("loc", ())))
        if p.startswith(path) and len(e.get("loc", ())) > len(first.get("loc", ())) and p != path:
            first, path = e, p
    kind = first.get("type", "")
    msg = first.get("msg", "invalid value")
    if kind == "extra_forbidden":
        msg = "unknown key"
    elif kind == "missing":
        msg = "required field is missing"
    msg = msg.removeprefix("Value error, ")
    # A whole section as "input" (a model validator's refusal) would only repeat the file.
    if "input" in first and kind not in ("missing", "extra_forbidden", "model_type", "dict_type") \
            and not isinstance(first["input"], dict):
        shown = _short_repr(first["input"])
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg += f" (got {shown})"
    more = err.error_count() - 1
    if more > 0:
        msg += f" [+{more} more error{'s' if more > 1 else ''}]"
    return ConfigError(source, path, msg)


@contextmanager
def located(source: str):
    """Errors raised while building a world from a scenario name the scenario by its name
    (`scenario 'x'`); inside this block they name `source` (the file) instead, so `validate` and
    `run` print the same located line."""
    try:
        yield
    except ConfigError as exc:
        if exc.source.startswith("scenario ") and exc.source != source:
            raise ConfigError(source, exc.path, exc.message) from None
        raise
    except RanemuError as exc:
        raise RanemuError(f"{source}: {exc}") from None


def set_dotted(data: dict, dotted: str, value: Any, source: str = "--param") -> None:
    """Set `a.b[2].c` (dict keys and list indices) in a raw scenario dict."""
    node: Any = data
    parts: list[str | int] = []
    for tok in dotted.replace("]", "").replace("[", ".").split("."):
        if tok == "":
            raise ConfigError(source, dotted, "empty path component")
        parts.append(int(tok) if tok.isdigit() else tok)
    for i, key in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                raise ConfigError(source, dotted, f"index {key} out of range")
            node = node[key]
        else:
            if not isinstance(node, dict):
                raise ConfigError(source, dotted, f"{key!r} is not inside a mapping")
            if node.get(key) is None:
                node[key] = [] if isinstance(nxt, int) else {}
            node = node[key]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise ConfigError(source, dotted, f"index {last} out of range")
    elif not isinstance(node, dict):
        raise ConfigError(source, dotted, f"{last!r} is not inside a mapping")
    node[last] = value


def parse_override(text: str) -> tuple[str, Any]:
    """`a.b=3` → ("a.b", 3); the value is parsed as YAML so numbers, lists and booleans work."""
    if "=" not in text:
        raise ConfigError("--param", text, "expected PATH=VALUE")
    key, raw = text.split("=", 1)
    try:
        value = load_yaml(raw)
    except (yaml.YAMLError, YamlLimitError) as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError("--param", key, f"cannot parse value {_short_repr(raw)}: {problem}") from None
    return key.strip(), value


def read_raw(path: str | Path) -> dict:
    """Read a scenario file into a plain dict, with located errors for missing files and bad YAML."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(str(p), "", "file not found")
    if p.is_dir():
        raise ConfigError(str(p), "", "is a directory, expected a YAML scenario file")
    if not p.is_file():
        raise ConfigError(str(p), "", "is not a regular file, expected a YAML scenario file")
    try:
        with p.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)  # never read more than the limit (a FIFO, /dev/zero, a huge file)
        if len(raw) > MAX_BYTES:
            raise ConfigError(str(p), "", f"file is over the {MAX_BYTES >> 20} MiB limit for a scenario")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), "", f"cannot read: {exc}") from None
    try:
        data = load_yaml(text)
    except YamlLimitError as exc:
        raise ConfigError(str(p), exc.where, exc.message) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(str(p), where, f"invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(p), "", f"expected a mapping at the top level, got {type(data).__name__}")
    return data


def scenario_from_dict(data: dict, source: str = "<dict>") -> Scenario:
    """Validate a raw scenario dict; any refusal is one ConfigError naming `source` and the field."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise format_validation_error(source, err) from None
    except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        # A validator met a shape it did not expect (pydantic converts only ValueError and
        # AssertionError raised inside validators): still one line, not a traceback.
        raise ConfigError(source, "", f"invalid scenario: {type(exc).__name__}: {_short_repr(str(exc))}") from None


def load_scenario(path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario file; `overrides` are dotted `path=value` settings applied first."""
    data = read_raw(path)
    data.setdefault("name", Path(path).stem)
    if overrides:
        items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides)
        data = copy.deepcopy(data)
        for key, value in items:
            set_dotted(data, key, value)
    return scenario_from_dict(data, str(path))


def dump_scenario(scenario: Scenario) -> str:
    """YAML text that loads back into an equal Scenario (the run folder's config copy)."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
