"""Scenario-file faults by kind (issue 10): non-finite numbers, parser abuse, bounds that break the
clock. Each is refused as one ConfigError line naming the file, the field (or line) and the rule."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emulator.config import load_scenario, parse_override
from emulator.errors import ConfigError
from emulator.yamlload import MAX_BYTES, MAX_DEPTH, load_yaml

REPO = Path(__file__).resolve().parents[2]
SCEN = REPO / "scenarios"


def one_line(exc: ConfigError, source: Path | str) -> str:
    text = str(exc)
    assert "\n" not in text and text.startswith(f"{source}: "), text
    return text


# -- 1. non-finite numbers ------------------------------------------------------------------------
@pytest.mark.parametrize("scenario,param,path", [
    ("quickstart.yaml", "ran.decision_period_s=.inf", "ran.decision_period_s"),
    ("quickstart.yaml", "duration=.inf", "duration"),
    ("quickstart.yaml", "clock.realtime_factor=.nan", "clock.realtime_factor"),
    ("slicing-12cell.yaml", "topology.layout.boresights_deg=[.nan, 150, 270]", "topology.layout.boresights_deg[0]"),
    ("mec-dirs.yaml", "topology.layout.sites[0].x_m=.nan", "topology.layout.sites[0].x_m"),
    ("mec-dirs.yaml", "topology.area.x_m=[0, .inf]", "topology.area.x_m[1]"),
    ("mec-dirs.yaml", "mec.server_cpu_hz=[.inf, 1.0e+9]", "mec.server_cpu_hz[0]"),
    ("slicing-12cell.yaml", "ran.slices[0].speed_mps=[1, .inf]", "ran.slices[0].speed_mps[1]"),
])
def test_non_finite_numbers_are_refused_where_they_are(scenario, param, path):
    with pytest.raises(ConfigError) as info:
        load_scenario(SCEN / scenario, [param])
    text = one_line(info.value, SCEN / scenario)
    assert text.startswith(f"{SCEN / scenario}: {path}") and "finite number" in text, text


def test_every_float_field_of_every_section_refuses_non_finite_values():
    # The rule sits in the shared base model, so a field added to any section later inherits it.
    from emulator.config import Scenario

    found = 0

    def walk(model, seen=()):
        nonlocal found
        if model in seen:
            return
        assert model.model_config.get("allow_inf_nan") is False, model.__name__
        found += 1
        for f in model.model_fields.values():
            for arg in _types(f.annotation):
                if isinstance(arg, type) and hasattr(arg, "model_fields"):
                    walk(arg, seen + (model,))

    walk(Scenario)
    assert found > 20  # every section reached, not just the top


def _types(annotation):
    out = [annotation]
    for a in getattr(annotation, "__args__", ()) or ():
        out += _types(a)
    meta = getattr(annotation, "__metadata__", None)
    if meta is not None:
        out += _types(annotation.__origin__)
    return out


# -- 3. parser abuse ------------------------------------------------------------------------------
def test_duplicate_keys_are_reported_with_both_lines(tmp_path):
    text = (SCEN / "quickstart.yaml").read_text()
    f = tmp_path / "dup.yaml"
    f.write_text(text.replace("seed: 1", "seed: 1\nseed: 2", 1))
    line = text.splitlines().index("seed: 1") + 2
    with pytest.raises(ConfigError) as info:
        load_scenario(f)
    assert one_line(info.value, f) == f"{f}: line {line}, column 1: duplicate key 'seed' (first set at line {line - 1})"


def test_duplicate_keys_in_nested_sections_and_overrides():
    with pytest.raises(ValueError, match="line 3, column 3: duplicate key 'b' .first set at line 2"):
        load_yaml("a:\n  b: 1\n  b: 2\n")
    with pytest.raises(ConfigError, match=r"--param: ran: cannot parse value .*duplicate key 'x'"):
        parse_override("ran={x: 1, x: 2}")
    # merge keys stay usable: explicit keys override merged ones by design
    assert load_yaml("base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n")["use"] == {"x": 1, "y": 3}


def alias_bomb(levels: int = 9) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    lines.append(f"ran: *{chr(96 + levels)}")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_before_anything_expands_it(tmp_path):
    f = tmp_path / "bomb.yaml"
    f.write_text(alias_bomb())
    assert len(f.read_bytes()) < 500  # 9**9 = 387 million values once expanded
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: expands to more than 1,000,000 values"):
        load_scenario(f)


def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path):
    f = tmp_path / "deep.yaml"
    f.write_text("seed: " + "[" * 1200 + "]" * 1200 + "\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(f)
    assert one_line(info.value, f).endswith(f"nested more than {MAX_DEPTH} levels deep")
    with pytest.raises(ConfigError, match="nested more than"):
        parse_override("ran=" + "{a: " * 1200 + "1" + "}" * 1200)


def test_files_over_the_size_limit_are_refused_without_reading_them_whole(tmp_path):
    f = tmp_path / "huge.yaml"
    with f.open("w") as fh:
        fh.write("description: ")
        fh.write("x" * (MAX_BYTES + 10))
    with pytest.raises(ConfigError) as info:
        load_scenario(f)
    assert one_line(info.value, f).endswith("file is over the 4 MiB limit for a scenario")


def test_huge_integers_and_odd_yaml_are_one_line(tmp_path):
    for body, expect in [("seed: " + "9" * 5000, "cannot read a value"),
                         ("seed: !!python/object:os.system ls", "could not determine a constructor"),
                         ("seed: *nowhere", "found undefined alias"),
                         ("? [a, b]\n: 1", "unhashable")]:
        f = tmp_path / "odd.yaml"
        f.write_text(body + "\n")
        with pytest.raises(ConfigError) as info:
            load_scenario(f)
        assert expect in one_line(info.value, f)


_LIMIT_SCRIPT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
from bridge.cli import main
sys.exit(main(["validate", *sys.argv[1:]]))
"""


def test_validate_stays_bounded_in_time_and_memory(tmp_path):
    """A real `validate` process under a 1.5 GiB address-space cap and a 60 s guard: one line per
    file, exit 1, for an alias bomb, 1,200 levels of nesting and 0.5 MB of device positions."""
    bomb, deep, big = tmp_path / "bomb.yaml", tmp_path / "deep.yaml", tmp_path / "big.yaml"
    bomb.write_text(alias_bomb())
    deep.write_text("ran: " + "{a: " * 1200 + "1" + "}" * 1200 + "\n")
    # under the size limit: read by the C loader, then the model refuses the mismatch
    big.write_text("mec:\n  devices:\n    positions:\n" + "      - [1.5, 2.5]\n" * 20_000)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", _LIMIT_SCRIPT, str(bomb), str(deep), str(big)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 3, err
    assert lines[0].startswith(f"error: {bomb}: line ") and "expands to more than" in lines[0]
    assert lines[1] == f"error: {deep}: line 1, column {5 + 4 * (MAX_DEPTH - 1) + 1}: nested more than {MAX_DEPTH} levels deep"
    assert lines[2] == f"error: {big}: mec: devices.positions lists 20000 devices but num_devices is 30"


# -- 4. lower bounds that break the clock ------------------------------------------------------------
@pytest.mark.parametrize("param,expect", [
    ("clock.tti_ms=1.0e-300", "clock.tti_ms: Input should be greater than or equal to 0.015625"),
    ("clock.realtime_factor=1.0e-300", "clock.realtime_factor: Input should be greater than or equal to 0.001"),
    ("duration=1.0e+300", "duration: Input should be less than or equal to 1000000000"),
    ("agents.heartbeat_s=1.0e-300", "agents.heartbeat_s: Input should be greater than or equal to 0.01"),
    ("ran.slices[0].traffic={kind: cbr, packet_bytes: 100, interval_ms: 1.0e-300}",
     "ran.slices[0].traffic.interval_ms: Input should be greater than or equal to 0.001"),
])
def test_vanishing_periods_are_refused(param, expect):
    with pytest.raises(ConfigError) as info:
        load_scenario(SCEN / "quickstart.yaml", [param])
    assert expect in one_line(info.value, SCEN / "quickstart.yaml")


def test_mec_decision_period_has_a_floor():
    with pytest.raises(ConfigError, match="mec.decision_period_s: Input should be greater than or equal to 0.001"):
        load_scenario(SCEN / "mec-dirs.yaml", ["mec.decision_period_s=1.0e-300"])


def test_random_waypoint_refuses_a_minimum_speed_of_zero():
    with pytest.raises(ConfigError, match=r"ran.mobility: speed_mps: random_waypoint needs a positive minimum speed.*static"):
        load_scenario(SCEN / "quickstart.yaml", ["ran.mobility.speed_mps=[0, 1.5]"])
    with pytest.raises(ConfigError, match=r"ran: slices\[1\].speed_mps: random_waypoint needs a positive minimum"):
        load_scenario(SCEN / "quickstart.yaml", ["ran.slices[1].speed_mps=[0, 3]"])
    # still allowed where it has a steady state: other models, and a positive minimum
    assert load_scenario(SCEN / "quickstart.yaml", ["ran.mobility.model=random_direction",
                                                    "ran.mobility.speed_mps=[0, 1.5]"]).ran.mobility.speed_mps == (0, 1.5)
    assert load_scenario(SCEN / "quickstart.yaml", ["ran.mobility.speed_mps=[0.1, 1.5]"])


def test_loader_limits_leave_real_scenarios_alone():
    for f in sorted(SCEN.glob("*.yaml")):
        assert load_yaml(f.read_text()) == yaml.safe_load(f.read_text())
