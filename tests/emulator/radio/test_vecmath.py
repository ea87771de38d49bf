"""vexp, vlog, vatan2_deg against libm (math.*) over their domains, special values and the ln 2 split."""
import math
from decimal import Decimal, getcontext

import numpy as np
import pytest
from numba import njit

from emulator.radio.vecmath import LN2_HI, LN2_LO, vatan2_deg, vexp, vlog

# A few ulp: the link budget's tolerance against the numpy reference (1e-12) rests on this.
RTOL = 1e-15


@njit(cache=True)
def _exp(x, out):
    for i in range(x.shape[0]):
        out[i] = vexp(x[i])


@njit(cache=True)
def _log(x, out):
    for i in range(x.shape[0]):
        out[i] = vlog(x[i])


@njit(cache=True)
def _atan2(y, x, out):
    for i in range(x.shape[0]):
        out[i] = vatan2_deg(y[i], x[i])


def apply(fn, *args):
    out = np.empty(len(args[0]))
    fn(*args, out)
    return out


def test_ln2_split_is_exact_enough():
    getcontext().prec = 40
    assert Decimal(LN2_HI) + Decimal(LN2_LO) - Decimal(2).ln() == pytest.approx(0, abs=1e-25)
    # LN2_HI has few enough bits that n·LN2_HI is exact for every exponent vexp uses.
    assert (LN2_HI * 2**32) == int(LN2_HI * 2**32)


def test_vexp_matches_libm():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-708.0, 709.0, 100_000), rng.uniform(-1.0, 1.0, 100_000),
                        [0.0, -0.0, 1.0, -1.0, math.log(2.0), 700.0, -700.0]])
    got = apply(_exp, x)
    want = np.exp(x)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)
    assert apply(_exp, np.array([0.0]))[0] == 1.0


def test_vexp_clamps_instead_of_overflowing():
    got = apply(_exp, np.array([-1e4, -745.0, 710.0, 1e4]))
    assert np.all(np.isfinite(got)) and np.all(got > 0)
    assert got[0] == pytest.approx(math.exp(-708.0), rel=RTOL)
    assert got[3] == pytest.approx(math.exp(709.0), rel=RTOL)


def test_vlog_matches_libm():
    rng = np.random.default_rng(1)
    x = np.concatenate([np.exp(rng.uniform(-700.0, 700.0, 100_000)), rng.uniform(10.0, 5000.0, 100_000),
                        [1.0, 2.0, math.sqrt(2.0), math.nextafter(math.sqrt(2.0), 2.0), 0.5, 1e-300, 1e300]])
    got = apply(_log, x)
    want = np.log(x)
    # Relative to |log x| or 1: near x = 1 the result is small and the error absolute.
    assert np.max(np.abs(got - want) / np.maximum(np.abs(want), 1.0)) < RTOL
    assert apply(_log, np.array([1.0]))[0] == 0.0


def test_vatan2_deg_matches_libm_in_every_quadrant():
    rng = np.random.default_rng(2)
    n = 200_000
    y = rng.normal(size=n) * np.exp(rng.uniform(-10.0, 10.0, n))
    x = rng.normal(size=n) * np.exp(rng.uniform(-10.0, 10.0, n))
    got = apply(_atan2, y, x)
    want = np.degrees(np.arctan2(y, x))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-13)


def test_vatan2_deg_axes_diagonals_and_signed_zeros():
    y = np.array([0.0, 0.0, -0.0, -0.0, 1.0, -1.0, 0.0, 0.0, 2.0, -2.0, 3.0, -3.0])
    x = np.array([0.0, -0.0, 0.0, -0.0, 0.0, 0.0, 1.0, -1.0, 2.0, -2.0, -3.0, 3.0])
    got = apply(_atan2, y, x)
    want = np.degrees(np.arctan2(y, x))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)
    assert np.array_equal(np.signbit(got), np.signbit(want))
