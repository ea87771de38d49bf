"""Fuzzing the scenario loader: mutated bundled scenarios (wrong types, non-finite, huge, empty values;
duplicate keys, deep nesting, aliases in the text) load or are refused as one located line — never
a traceback, never a hang. Mutations that still validate must also build their world (or be
refused the same way), as `ranemu validate` does."""
from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.config import located, read_raw, scenario_from_dict
from emulator.emulation import Emulation
from emulator.errors import ConfigError, RanemuError
from emulator.yamlload import load_yaml

SCEN = Path(__file__).resolve().parents[2] / "scenarios"
BUNDLED = {p.name: read_raw(p) for p in sorted(SCEN.glob("*.yaml"))}
# Small worlds are cheap to build; the 12-cell one is fuzzed through loading only.
BUILDABLE = ("quickstart.yaml", "mec-dirs.yaml")

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

BAD_VALUES = st.sampled_from([
    "text", "", [], {}, None, True, -1, 0, 10**30, -(10**30), 1e308, -1e308, float("inf"), float("-inf"),
    float("nan"), 1e-300, [1.0, float("nan")], [[1, 2], [3]], {"kind": "nope"}, "x" * 5000, [0] * 3000,
    {"a": {"b": {"c": {}}}}, 2**63, 0.5,
])


BAD_NUMBERS = st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -1e308, 1e-300, -1e-300,
                               0, -1, 10**30, 2**64])


def _paths(node, prefix=()):
    """Every (path, value) in a raw scenario tree."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _set(tree, path, value):
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@st.composite
def mutated(draw, names=tuple(BUNDLED)):
    name = draw(st.sampled_from(names))
    tree = copy.deepcopy(BUNDLED[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p, _ in _paths(tree) if p]
        numbers = [p for p, v in _paths(tree) if p and type(v) in (int, float)]
        how = draw(st.sampled_from(["number", "number", "value", "drop"]))
        if how == "number" and numbers:  # the numbers are where the clock and the models break
            _set(tree, draw(st.sampled_from(numbers)), draw(BAD_NUMBERS))
        elif how != "drop":
            _set(tree, draw(st.sampled_from(paths)), draw(BAD_VALUES))
        else:  # drop a key / an item
            path = draw(st.sampled_from(paths))
            parent = tree
            for key in path[:-1]:
                parent = parent[key]
            del parent[path[-1]]
    return name, tree


def _check_refusal(exc: BaseException, source: str) -> None:
    assert isinstance(exc, ConfigError), f"{type(exc).__name__}: {exc}"
    text = str(exc)
    assert "\n" not in text and text.startswith(f"{source}:") and len(text) < 1000, text


@FUZZ
@given(mutated())
def test_mutated_scenarios_load_or_are_one_located_line(tmp_path_factory, case):
    name, tree = case
    f = tmp_path_factory.mktemp("fuzz") / name
    f.write_text(yaml.safe_dump(tree, sort_keys=False))
    from emulator.config import load_scenario

    try:
        sc = load_scenario(f)
    except Exception as exc:  # noqa: BLE001 - the assertion says what it was
        _check_refusal(exc, str(f))
        return
    # what is accepted is usable: no inf/nan reaches the clock or the models
    bad = [p for p, v in _paths(sc.model_dump()) if isinstance(v, float) and not math.isfinite(v)]
    assert not bad, f"non-finite values accepted at {bad}"


@settings(FUZZ, max_examples=12)
@given(mutated(BUILDABLE))
def test_mutated_scenarios_that_validate_also_build_or_are_one_line(tmp_path_factory, case):
    name, tree = case
    f = tmp_path_factory.mktemp("fuzz") / name
    f.write_text(yaml.safe_dump(tree, sort_keys=False))
    from emulator.config import load_scenario

    try:
        sc = load_scenario(f)
    except ConfigError:
        return  # covered above
    sc = sc.model_copy(update={"output": sc.output.model_copy(update={"traces": False})})
    try:
        with located(str(f)):
            if sc.ran is None and sc.mec is None:
                raise ConfigError(str(f), "", "nothing to emulate")
            Emulation(sc, None).close(report=False)
    except RanemuError as exc:
        _check_refusal(exc if isinstance(exc, ConfigError) else ConfigError(str(f), "", str(exc)), str(f))


TEXT_ATTACKS = st.sampled_from(["dup", "deep", "alias", "bomb", "tab", "binary", "anchor_loop"])


@FUZZ
@given(st.sampled_from(sorted(BUNDLED)), TEXT_ATTACKS, st.integers(1, 2000))
def test_text_level_attacks_are_one_line(tmp_path_factory, name, attack, n):
    text = (SCEN / name).read_text()
    lines = text.splitlines()
    keys = [i for i, line in enumerate(lines) if line and not line[0].isspace() and not line.startswith("#") and ":" in line]
    i = keys[n % len(keys)]
    if attack == "dup":
        lines.insert(i + 1, lines[i].split(":")[0] + ": 1")
    elif attack == "deep":
        lines.append("description: " + "[" * n + "]" * n)
    elif attack == "alias":
        lines = ["_base: &b {x: 1}"] + lines + ["output: *b"]
    elif attack == "bomb":
        k = 2 + n % 8
        lines = [f"_0: &a0 [{', '.join(['lol'] * k)}]"] + [
            f"_{j}: &a{j} [{', '.join([f'*a{j - 1}'] * k)}]" for j in range(1, 12)] + lines
    elif attack == "tab":
        lines[i] = "\t" + lines[i]
    elif attack == "binary":
        lines.insert(i, "\x00\x07 junk")
    else:
        lines.append("x: &x [*x]")
    f = tmp_path_factory.mktemp("text") / name
    f.write_text("\n".join(lines) + "\n")
    from emulator.config import load_scenario

    with pytest.raises(Exception) as info:  # each attack leaves a file that must be refused
        load_scenario(f)
    _check_refusal(info.value, str(f))


def test_fuzz_corpus_is_the_bundled_scenarios():
    assert {"quickstart.yaml", "mec-dirs.yaml", "slicing-12cell.yaml"} <= set(BUNDLED)
    for name in BUNDLED:
        assert load_yaml((SCEN / name).read_text()) == BUNDLED[name]


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_every_number_of_every_bundled_scenario_refuses_non_finite_values(name):
    """Exhaustive, not sampled: each numeric leaf set to inf, -inf and nan is refused, naming it."""
    tree = BUNDLED[name]
    numbers = [p for p, v in _paths(tree) if p and type(v) in (int, float)]
    assert len(numbers) > 5
    for path in numbers:
        where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")
        for value in (float("inf"), float("-inf"), float("nan")):
            bad = copy.deepcopy(tree)
            _set(bad, path, value)
            with pytest.raises(ConfigError) as info:
                scenario_from_dict(bad, name)
            text = str(info.value)
            assert "\n" not in text and text.startswith(f"{name}: {where.split('[')[0]}"), (where, text)
