"""SINR → efficiency mappings (36.942 Shannon, CQI table) and bits per PRB, incl. use from njit code."""
import numpy as np
import pytest
from numba import njit

from emulator.radio.link import (
    CQI_EFFICIENCY,
    CQI_SINR_THRESHOLDS,
    CQI_SINR_THRESHOLDS_DB,
    UPLINK,
    LinkMapping,
    bits_per_prb,
    bits_per_prb_kernel,
    efficiency_kernel,
    spectral_efficiency,
)


def db(x):
    return 10.0 ** (np.asarray(x, dtype=float) / 10.0)


def test_shannon_reference_table():
    eff = spectral_efficiency(db([0.0, 10.0, 20.0]))
    assert eff == pytest.approx([0.600, 2.076, 3.995], abs=5e-4)


def test_shannon_floor_and_cap():
    eff = spectral_efficiency(db([-10.5, -10.0, 22.0, 22.1, 40.0]))
    assert eff[0] == 0.0
    assert eff[1] == pytest.approx(0.6 * np.log2(1.1))
    assert eff[2] < 4.4  # the cap is reached at 22.05 dB
    assert eff[3] == 4.4 and eff[4] == 4.4


def test_uplink_variant():
    eff = spectral_efficiency(db([10.0, 20.0, -11.0]), params=UPLINK)
    assert eff == pytest.approx([0.4 * np.log2(11.0), 2.0, 0.0])


def test_cqi_thresholds_follow_the_documented_rule():
    assert CQI_SINR_THRESHOLDS == pytest.approx(2.0 ** (CQI_EFFICIENCY / 0.6) - 1.0)
    assert np.all(np.diff(CQI_SINR_THRESHOLDS_DB) > 0)
    assert CQI_SINR_THRESHOLDS_DB[0] == pytest.approx(-7.2, abs=0.05)
    assert CQI_SINR_THRESHOLDS_DB[-1] == pytest.approx(27.9, abs=0.05)


def test_cqi_mapping_steps():
    thr = CQI_SINR_THRESHOLDS
    s = np.concatenate([[thr[0] * 0.99], thr, thr[1:] * 0.999, [1e6]])
    eff = spectral_efficiency(s, "cqi")
    assert eff[0] == 0.0
    assert eff[1:16] == pytest.approx(CQI_EFFICIENCY)
    assert eff[16:30] == pytest.approx(CQI_EFFICIENCY[:-1])
    assert eff[-1] == pytest.approx(5.5547)
    # The rule guarantees CQI never promises more than the uncapped 36.942 curve.
    x = db(np.linspace(-15, 35, 501))
    assert np.all(spectral_efficiency(x, "cqi") <= 0.6 * np.log2(1 + x) + 1e-12)


def test_bits_per_prb():
    assert bits_per_prb(db([30.0]))[0] == pytest.approx(4.4 * 180e3 * 1e-3)  # 792 bit
    assert bits_per_prb(db([30.0]), tti_s=0.5e-3)[0] == pytest.approx(396.0)
    assert bits_per_prb(db([0.0]), "cqi")[0] == pytest.approx(CQI_EFFICIENCY[2] * 180.0)
    out = bits_per_prb(db(np.zeros((2, 3))))
    assert out.shape == (2, 3)


def test_nan_and_negative_sinr_give_zero():
    assert spectral_efficiency(np.array([np.nan, -1.0, 0.0])) == pytest.approx([0.0, 0.0, 0.0])


def test_unknown_mapping_is_rejected():
    with pytest.raises(ValueError, match="mapping"):
        spectral_efficiency(np.ones(1), "turbo")


@njit
def _from_compiled_code(sinr, mapping, alpha, sinr_min, max_eff, thr, eff, out_eff, out_bits):
    efficiency_kernel(sinr, mapping, alpha, sinr_min, max_eff, thr, eff, out_eff)
    bits_per_prb_kernel(sinr, mapping, alpha, sinr_min, max_eff, thr, eff, 180e3, 1e-3, out_bits)
    return out_bits.sum()


def test_kernels_are_callable_from_other_njit_functions():
    s = db([0.0, 10.0, 20.0])
    args = LinkMapping.create("shannon").kernel_args()
    e, b = np.empty(3), np.empty(3)
    total = _from_compiled_code(s, *args, e, b)
    assert e == pytest.approx([0.600, 2.076, 3.995], abs=5e-4)
    assert total == pytest.approx(e.sum() * 180.0)
