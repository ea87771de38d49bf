"""Path-loss formulas against the reference table values, band/breakpoint continuity and clamping."""
import math

import numpy as np
import pytest

from emulator.radio import pathloss as pl

D = np.array([35.0, 100.0, 200.0, 500.0, 1000.0])


@pytest.mark.parametrize(
    "fn, h_bs, expected",
    [
        (pl.winner_c2_los_db, 25.0, [73.45, 85.30, 93.13, 104.61, 116.65]),
        (pl.winner_c2_nlos_db, 25.0, [91.26, 107.56, 118.32, 132.54, 143.30]),
        (pl.winner_b1_los_db, 10.0, [70.35, 80.70, 89.42, 105.34, 117.38]),
    ],
)
def test_winner_reference_values_at_2_6_ghz(fn, h_bs, expected):
    # The reference values are rounded to 0.01 dB, so a correct formula is within 0.005 dB.
    assert fn(D, 2.6, h_bs, 1.5) == pytest.approx(expected, abs=0.006)


def test_winner_c2_los_probability_reference_values():
    assert pl.p_los_winner(D[:4]) == pytest.approx([0.793, 0.348, 0.128, 0.036], abs=6e-4)


def test_b1_los_probability_uses_36_m():
    # min(18/100, 1)(1 − e^(−100/36)) + e^(−100/36)
    e = math.exp(-100.0 / 36.0)
    assert pl.MODELS["winner_b1"].p_los(np.array([100.0]))[0] == pytest.approx(0.18 * (1 - e) + e, rel=1e-12)
    assert pl.MODELS["winner_b1"].p_los(np.array([100.0]))[0] == pytest.approx(0.2310, abs=1e-4)


def test_los_probability_is_one_up_to_18_m_and_decreasing():
    d = np.linspace(10.0, 2000.0, 500)
    for p in (pl.p_los_winner(d), pl.p_los_38901(d), pl.p_los_38901(d, 18.0, 36.0)):
        assert p[d <= 18.0] == pytest.approx(1.0)
        assert np.all(np.diff(p) <= 1e-15)
        assert np.all((p > 0) & (p <= 1))


def test_breakpoints_match_the_reference():
    assert pl.breakpoint_m(25.0, 1.5, 2.6) == pytest.approx(416.0, abs=0.01)
    assert pl.breakpoint_m(10.0, 1.5, 2.6) == pytest.approx(156.0, abs=0.01)


@pytest.mark.parametrize("edge", [1.5, 2.0])
def test_c2_nlos_bands_join_continuously(edge):
    d = np.array([50.0, 300.0, 3000.0])
    below = pl.winner_c2_nlos_db(d, edge - 1e-9)
    above = pl.winner_c2_nlos_db(d, edge)
    assert np.max(np.abs(above - below)) < 0.01


def test_c2_nlos_band_coefficients():
    assert pl.winner_nlos_bc(1.0) == (16.33, 26.16)
    assert pl.winner_nlos_bc(1.8) == (14.78, 34.97)
    assert pl.winner_nlos_bc(2.6) == (18.38, 23.0)
    with pytest.raises(ValueError, match="0.45"):
        pl.winner_nlos_bc(7.0)


@pytest.mark.parametrize(
    "fn, h_bs, tol",
    [
        # WINNER+ coefficients are published rounded; the two LOS pieces meet within a few hundredths of a dB.
        (pl.winner_c2_los_db, 25.0, 0.05),
        (pl.winner_b1_los_db, 10.0, 0.05),
        # TR 38.901 PL2 is built to equal PL1 at the breakpoint.
        (pl.uma_los_db, 25.0, 1e-9),
        (pl.umi_los_db, 10.0, 1e-9),
    ],
)
def test_los_is_continuous_at_the_breakpoint(fn, h_bs, tol):
    for fc in (2.0, 2.6, 3.5):
        bp = pl.breakpoint_m(h_bs, 1.5, fc)
        a, b = fn(np.array([bp * (1 - 1e-12), bp * (1 + 1e-12)]), fc, h_bs, 1.5)
        assert abs(b - a) < tol


def _uma_los_ref(d2, fc, hbs, hue):
    d3 = math.hypot(d2, hbs - hue)
    bp = 4 * (hbs - 1) * (hue - 1) * fc * 1e9 / 3e8
    if d2 <= bp:
        return 28.0 + 22 * math.log10(d3) + 20 * math.log10(fc)
    return 28.0 + 40 * math.log10(d3) + 20 * math.log10(fc) - 9 * math.log10(bp**2 + (hbs - hue) ** 2)


def test_38901_uma_against_table_formulas():
    for d2 in (35.0, 100.0, 300.0, 1000.0, 3000.0):
        los = _uma_los_ref(d2, 2.0, 25.0, 1.5)
        nlos = max(los, 13.54 + 39.08 * math.log10(math.hypot(d2, 23.5)) + 20 * math.log10(2.0))
        assert pl.uma_los_db(np.array([d2]), 2.0)[0] == pytest.approx(los, abs=1e-9)
        assert pl.uma_nlos_db(np.array([d2]), 2.0)[0] == pytest.approx(nlos, abs=1e-9)
    # A far link (past the 300 m breakpoint at 2 GHz): 1000 m, hand-computed.
    assert pl.uma_nlos_db(np.array([1000.0]), 2.0)[0] == pytest.approx(13.54 + 39.08 * math.log10(math.hypot(1000, 23.5)) + 6.0206, abs=1e-3)


def test_38901_umi_against_table_formulas():
    d2 = 200.0
    d3 = math.hypot(d2, 8.5)
    bp = 4 * 9 * 0.5 * 3.5e9 / 3e8  # 210 m at 3.5 GHz
    los = 32.4 + 21 * math.log10(d3) + 20 * math.log10(3.5)
    nlos = 35.3 * math.log10(d3) + 22.4 + 21.3 * math.log10(3.5)
    assert d2 < bp
    assert pl.umi_los_db(np.array([d2]), 3.5)[0] == pytest.approx(los, abs=1e-9)
    assert pl.umi_nlos_db(np.array([d2]), 3.5)[0] == pytest.approx(max(los, nlos), abs=1e-9)


@pytest.mark.parametrize("name", sorted(pl.MODELS))
def test_nlos_never_below_los_and_increasing(name):
    m = pl.MODELS[name]
    d = np.geomspace(10.0, 5000.0, 400)
    los = m.los_db(d, 2.0, 25.0, 1.5)
    nlos = m.nlos_db(d, 2.0, 25.0, 1.5)
    assert np.all(nlos >= los - 1e-9)
    assert np.all(np.diff(los) > 0) and np.all(np.diff(nlos) > 0)


@pytest.mark.parametrize("name", sorted(pl.MODELS))
def test_no_nan_for_zero_and_huge_distances_they_are_clamped(name):
    m = pl.MODELS[name]
    d = np.array([0.0, 1e-9, 10.0, m.d_max_m, 1e12, np.inf])
    for fn in (m.los_db, m.nlos_db):
        out = fn(d, 2.0, 25.0, 1.5)
        assert np.all(np.isfinite(out))
        assert out[0] == out[1] == out[2]
        assert out[3] == out[4] == out[5]
    assert np.all(np.isfinite(m.p_los(d)))


def test_nan_distance_is_an_error_not_a_nan():
    with pytest.raises(ValueError, match="NaN"):
        pl.winner_c2_los_db(np.array([np.nan]), 2.0)


def test_out_of_range_counts_clamped_links():
    assert pl.out_of_range(np.array([0.0, 5.0, 10.0, 4000.0, 6000.0])) == (2, 1)


def test_heights_at_or_below_one_metre_are_rejected():
    with pytest.raises(ValueError, match="heights"):
        pl.winner_c2_los_db(np.array([100.0]), 2.0, 25.0, 1.0)


def test_tr36942_macro_is_the_36814_case1_law_at_2_ghz():
    d = np.array([100.0, 1000.0, 2000.0])
    out = pl.tr36942_macro_db(d, 2.0)
    assert out[1] == pytest.approx(128.1, abs=0.06)
    assert out[2] - out[1] == pytest.approx(37.6 * math.log10(2.0), abs=1e-9)


def test_expected_pathloss_mixes_los_and_nlos_by_probability():
    m = pl.MODELS["winner_c2"]
    d = np.array([35.0, 200.0])
    p = m.p_los(d)
    mean, sigma = pl.link_pathloss_db(m, d, 2.6, 25.0, 1.5, None)
    assert mean == pytest.approx(p * pl.winner_c2_los_db(d, 2.6) + (1 - p) * pl.winner_c2_nlos_db(d, 2.6))
    assert sigma == pytest.approx(np.sqrt(p * 16.0 + (1 - p) * 64.0))
    drawn, s = pl.link_pathloss_db(m, d, 2.6, 25.0, 1.5, np.array([True, False]))
    assert drawn == pytest.approx([float(pl.winner_c2_los_db(35.0, 2.6)), float(pl.winner_c2_nlos_db(200.0, 2.6))])
    assert s == pytest.approx([4.0, 8.0])


def test_c2_los_sigma_grows_beyond_the_breakpoint():
    m = pl.MODELS["winner_c2"]
    s = m.sigma_db(np.array([100.0, 1000.0]), np.array([True, True]), 2.6, 25.0, 1.5)
    assert s == pytest.approx([4.0, 6.0])


@pytest.mark.parametrize("name", sorted(pl.MODELS))
def test_site_coefficients_reproduce_the_model_formulas(name):
    # The compiled link budget evaluates these folded constants; they must be the same laws.
    m = pl.MODELS[name]
    fc = 0.9 if name == "tr36942_macro" else 2.6
    h_bs = np.array([10.0, 25.0, 32.0])
    h_ue = 1.5 if name.startswith("winner") else 4.0
    co = pl.site_coefficients(m, fc, h_bs, h_ue)
    d = np.geomspace(10.0, 5000.0, 300)
    for s, h in enumerate(h_bs):
        # Both sides of each breakpoint, where the LOS law switches.
        dd = np.sort(np.concatenate([d, co.breakpoint_m[s] * np.array([0.999, 1.0, 1.001])]))
        dd = dd[(dd >= 10.0) & (dd <= 5000.0)]
        x = np.sqrt(dd**2 + co.dh2_m2[s]) if co.use_d3 else dd
        lx = np.log10(x)
        los = np.where(dd <= co.breakpoint_m[s], co.a_near[s] + co.b_near * lx + co.c_near * x, co.a_far[s] + co.b_far * lx)
        nlos = co.a_nlos[s] + co.b_nlos[s] * lx
        if co.nlos_floor_los:
            nlos = np.maximum(los, nlos)
        assert los == pytest.approx(m.los_db(dd, fc, h, h_ue), abs=1e-9)
        assert nlos == pytest.approx(m.nlos_db(dd, fc, h, h_ue), abs=1e-9)


# ns-3 src/propagation/test/three-gpp-propagation-loss-model-test-suite.cc (ThreeGppRmaPropagationLossModelTestCase,
# nsnam/ns-3-dev-git): BS at 35 m, UT at 1.5 m, 5 GHz, W = 20 m, h = 5 m, received power for 0 dBm sent, tol 5e-2.
NS3_RMA = [(10.0, True, 77.3784), (100.0, True, 87.2965), (1000.0, True, 108.5577), (10000.0, True, 140.3896),
           (10.0, False, 77.3784), (100.0, False, 95.7718), (1000.0, False, 133.5223), (5000.0, False, 160.5169)]


@pytest.mark.parametrize("d,los,expect", NS3_RMA)
def test_rma_matches_the_ns3_test_vectors(d, los, expect):
    fn = pl.rma_los_db if los else pl.rma_nlos_db
    assert fn(np.array([d]), 5.0, 35.0, 1.5)[0] == pytest.approx(expect, abs=5e-4)


def test_rma_los_probability_sigma_and_validity():
    m = pl.MODELS["rma"]
    assert m.p_los(np.array([5.0, 10.0, 1010.0]))[[0, 1, 2]] == pytest.approx([1.0, 1.0, math.exp(-1.0)])
    bp = 2 * math.pi * 35.0 * 1.5 * 3.5e9 / 3e8
    assert m.sigma_db(np.array([bp * 0.99, bp * 1.01, 100.0]), np.array([True, True, False]), 3.5, 35.0, 1.5) == \
        pytest.approx([4.0, 6.0, 8.0])
    assert (m.carrier_range_ghz, m.ue_height_range_m, m.d_max_m) == ((0.5, 30.0), (1.0, 10.0), 10_000.0)


def test_uma_los_probability_grows_for_high_ues():
    m = pl.MODELS["uma"]
    d = np.array([15.0, 100.0, 200.0])
    base = m.p_los(d)
    assert m.p_los(d, 12.0) == pytest.approx(base)  # C'(hUT) = 0 up to 13 m
    c = ((22.5 - 13.0) / 10.0) ** 1.5
    g = 1.25 * (d / 100.0) ** 3 * np.exp(-d / 150.0)
    assert m.p_los(d, 22.5) == pytest.approx(base * (1 + c * np.where(d > 18, g, 0.0)))


def test_schema_names_come_from_the_model_records():
    from typing import get_args

    from emulator.radio.config import RadioConfig

    assert set(get_args(RadioConfig.model_fields["pathloss"].annotation)) == set(pl.MODELS)
