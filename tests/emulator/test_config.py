"""Scenario files: round trip, overrides, and one-line located errors for each kind of bad input."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from emulator.config import Scenario, dump_scenario, load_scenario, parse_override, scenario_from_dict, set_dotted
from emulator.errors import ConfigError

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def write(tmp_path, data, name="s.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return p


BASE = {"name": "t", "seed": 3, "duration": 5.0, "topology": {"layout": {"kind": "hex", "num_sites": 7, "isd_m": 500}}}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_bundled_scenarios_round_trip(path, tmp_path):
    sc = load_scenario(path)
    copy = write(tmp_path, dump_scenario(sc))
    assert load_scenario(copy) == sc


def test_round_trip_keeps_every_field(tmp_path):
    sc = scenario_from_dict(dict(BASE, clock={"mode": "realtime", "realtime_factor": 2.5, "tti_ms": 0.5}))
    again = load_scenario(write(tmp_path, dump_scenario(sc)))
    assert again == sc and again.clock.realtime_factor == 2.5 and again.topology.layout.isd_m == 500


@pytest.mark.parametrize(
    "patch,path,expect",
    [
        ({"seed": "abc"}, "seed", "valid integer"),  # wrong type
        ({"duration": -1}, "duration", "greater than 0"),  # out of range
        ({"clock": {"mode": "slow"}}, "clock.mode", "'fast' or 'realtime'"),  # not an allowed value
        ({"bogus": 1}, "bogus", "unknown key"),  # unknown key at the top
        ({"clock": {"tti": 1}}, "clock.tti", "unknown key"),  # unknown key nested
        ({"topology": {"layout": {"kind": "hex", "isd_m": 0}}}, "topology.layout.isd_m", "greater than 0"),
        ({"topology": {"layout": {"kind": "hex", "num_sites": 4, "wrap_around": True}}}, "topology.layout",
         "full-ring layout"),
        ({"agents": {"processes": [{"roles": ["a"], "command": []}]}}, "agents.processes[0].command", "at least 1"),
    ],
)
def test_invalid_file_gives_one_located_line(tmp_path, patch, path, expect):
    f = write(tmp_path, dict(BASE, **patch))
    with pytest.raises(ConfigError) as info:
        load_scenario(f)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{f}: {path}: "), text
    assert expect in text


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"line 2, column \d+: invalid YAML"):
        load_scenario(write(tmp_path, "seed: 1\nclock: mode: fast\n"))
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_scenario(write(tmp_path, "- 1\n- 2\n"))


def test_overrides_apply_before_validation(tmp_path):
    f = write(tmp_path, BASE)
    sc = load_scenario(f, ["seed=11", "topology.layout.num_sites=19", "clock.mode=realtime"])
    assert (sc.seed, sc.topology.layout.num_sites, sc.clock.mode) == (11, 19, "realtime")
    with pytest.raises(ConfigError, match=r"seed: Input should be a valid integer"):
        load_scenario(f, ["seed=x"])
    with pytest.raises(ConfigError, match="expected PATH=VALUE"):
        parse_override("seed")


def test_set_dotted_handles_lists_and_reports_bad_indices():
    data = {"a": {"b": [{"c": 1}, {"c": 2}]}}
    set_dotted(data, "a.b[1].c", 5)
    assert data["a"]["b"][1]["c"] == 5
    with pytest.raises(ConfigError, match="index 4 out of range"):
        set_dotted(data, "a.b[4].c", 1)


def test_defaults_are_sane():
    sc = Scenario()
    assert sc.clock.mode == "fast" and sc.clock.tti_ms == 1.0
    assert sc.agents.endpoint.startswith("tcp://127.0.0.1")  # loopback by default
