"""ControlPoint.validate: the one-pass check accepts exactly what the detailed checks accept, and
a refused action names its fault (shape, NaN/infinity, bounds, kind rule) on both array sizes."""
from __future__ import annotations

import numpy as np
import pytest

from emulator.control import BoxSpec, ControlPoint
from emulator.errors import ActionError


class Point(ControlPoint):
    kind = "test"

    def __init__(self, n: int, low: float, high: float):
        self.n = n
        super().__init__("test/p", BoxSpec((n,), 0.0, 1.0), BoxSpec((n,), low, high), 1.0)

    def observe(self):
        return np.zeros(self.n)

    def reward(self):
        return 0.0

    def default_action(self):
        return np.zeros(self.n)

    def check(self, action):
        if action[0] == 0.5:
            raise ValueError("first entry may not be 0.5")


# 4 entries take the Python pass, 200 the numpy reductions.
@pytest.mark.parametrize("n", [4, 200])
def test_bounds_are_inclusive_and_values_come_back_as_float64(n):
    p = Point(n, -1.0, 2.0)
    a = np.linspace(-1.0, 2.0, n)
    out = p.validate(a.tolist())
    assert out.dtype == np.float64 and out.tolist() == a.tolist()
    assert p.validate(np.full(n, 2, dtype=np.int64)).tolist() == [2.0] * n


@pytest.mark.parametrize("n", [4, 200])
@pytest.mark.parametrize("bad,reason", [
    (np.nan, "NaN or infinity"), (np.inf, "NaN or infinity"), (-np.inf, "NaN or infinity"),
    (2.0000001, r"outside \[-1.0, 2.0\]: min -1, max 2"), (-1.5, r"outside \[-1.0, 2.0\]: min -1.5, max 0"),
])
def test_a_single_bad_value_anywhere_is_refused_with_its_reason(n, bad, reason):
    p = Point(n, -1.0, 2.0)
    for pos in (0, n // 2, n - 1):
        a = np.zeros(n)
        a[pos] = bad
        if bad == 2.0000001:
            a[(pos + 1) % n] = -1.0
        with pytest.raises(ActionError, match=reason):
            p.validate(a)


@pytest.mark.parametrize("n", [4, 200])
def test_infinite_bounds_still_refuse_infinity_and_nan(n):
    p = Point(n, -np.inf, np.inf)
    big = np.full(n, -1e308)
    big[-1] = 1.7976931348623157e308  # the largest finite float is a valid value
    assert p.validate(big)[-1] == 1.7976931348623157e308
    for bad in (np.inf, -np.inf, np.nan):
        a = np.zeros(n)
        a[-1] = bad
        with pytest.raises(ActionError, match="NaN or infinity"):
            p.validate(a)


def test_shape_type_and_kind_rule_errors():
    p = Point(4, 0.0, 1.0)
    with pytest.raises(ActionError, match=r"shape \(3,\), expected \(4,\)"):
        p.validate([0.1, 0.2, 0.3])
    with pytest.raises(ActionError, match="not numeric"):
        p.validate(["a", "b", "c", "d"])
    with pytest.raises(ActionError, match="first entry may not be 0.5"):
        p.validate([0.5, 0.0, 0.0, 0.0])


def test_apply_keeps_the_previous_action_and_counts_a_refusal():
    p = Point(4, 0.0, 1.0)
    p.apply([0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ActionError):
        p.apply([0.1, np.nan, 0.3, 0.4])
    assert p.current_action.tolist() == [0.1, 0.2, 0.3, 0.4]
    assert p.counters["applied"] == 1 and p.counters["invalid"] == 1
