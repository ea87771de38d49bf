"""Scenario files: YAML validated into typed config objects, with located one-line errors."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from emulator.errors import ConfigError
from emulator.mec.config import MecConfig, expand_num_servers
from emulator.radio.config import RadioConfig
from emulator.ran.config import RanConfig
from topology.config import TopologyConfig
from topology.model import StrictModel


class ClockConfig(StrictModel):
    mode: Literal["fast", "realtime"] = "fast"
    # Simulated seconds per wall-clock second in real-time mode (1.0 = wall clock).
    realtime_factor: float = Field(1.0, gt=0, le=1000)
    # LTE: 1 ms TTI (TS 36.211).
    tti_ms: float = Field(1.0, gt=0, le=1000)


class OutputConfig(StrictModel):
    dir: str = "runs"
    traces: bool = True
    report: bool = True
    # Rows buffered per trace table before a Parquet row group is written.
    flush_rows: int = Field(4096, ge=1)


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
    heartbeat_s: float = Field(1.0, gt=0)
    liveness: int = Field(3, ge=1, description="missed heartbeats before an agent counts as gone")
    wait_agents: int = Field(0, ge=0)
    wait_timeout_s: float = Field(30.0, gt=0)
    curve: CurveConfig | None = None


class Scenario(StrictModel):
    name: str = Field("scenario", pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    seed: int = Field(1, ge=0, le=2**63 - 1)
    duration: float = Field(10.0, gt=0, description="simulated seconds")
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


def _loc_to_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("hex", "explicit") or str(part).startswith(("function-", "tagged-union")):
            continue  # discriminator tags pydantic adds to the location; not part of the file's path
        else:
            out += ("." if out else "") + str(part)
    return out


def format_validation_error(source: str, err: ValidationError) -> ConfigError:
    """Turn the first pydantic error into a one-line ConfigError naming file, field path and expectation."""
    first = err.errors(include_url=False)[0]
    path = _loc_to_path(tuple(first.get("loc", ())))
    kind = first.get("type", "")
    msg = first.get("msg", "invalid value")
    if kind == "extra_forbidden":
        msg = "unknown key"
    elif kind == "missing":
        msg = "required field is missing"
    msg = msg.removeprefix("Value error, ")
    if "input" in first and kind not in ("missing", "extra_forbidden", "model_type", "dict_type"):
        shown = repr(first["input"])
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg += f" (got {shown})"
    more = len(err.errors()) - 1
    if more > 0:
        msg += f" [+{more} more error{'s' if more > 1 else ''}]"
    return ConfigError(source, path, msg)


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
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError("--param", key, f"cannot parse value {raw!r}: {exc}") from None
    return key.strip(), value


def read_raw(path: str | Path) -> dict:
    """Read a scenario file into a plain dict, with located errors for missing files and bad YAML."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(str(p), "", "file not found")
    if p.is_dir():
        raise ConfigError(str(p), "", "is a directory, expected a YAML scenario file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), "", f"cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
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
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise format_validation_error(source, err) from None


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
