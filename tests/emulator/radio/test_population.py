"""UE population (TR 38.901 7.4.3 O2I, Table 7.8-1 heights): statistics of the draws against the formulas."""
import math

import numpy as np
import pytest

from emulator.radio.config import PopulationConfig
from emulator.radio.population import SIGMA_HIGH_LOSS_DB, SIGMA_LOW_LOSS_DB, draw_population, o2i_wall_loss_db

N = 200_000


def draw(seed=1, fc=6.0, **cfg):
    return draw_population(PopulationConfig(**cfg), N, fc, 1.5, 25.0, np.random.default_rng(seed))


def test_wall_losses_are_the_table_7_4_3_2_formulas():
    fc = 6.0
    low = 5 - 10 * math.log10(0.3 * 10 ** (-(2 + 0.2 * fc) / 10) + 0.7 * 10 ** (-(5 + 4 * fc) / 10))
    high = 5 - 10 * math.log10(0.7 * 10 ** (-(23 + 0.3 * fc) / 10) + 0.3 * 10 ** (-(5 + 4 * fc) / 10))
    assert o2i_wall_loss_db(fc, False) == pytest.approx(low, abs=1e-12)
    assert o2i_wall_loss_db(fc, True) == pytest.approx(high, abs=1e-12)
    # Hand values at 6 GHz: 8.40 + 5 = 13.40 dB (low loss), 25.69 + 5 = 30.69 dB (high loss).
    assert o2i_wall_loss_db(fc, False) == pytest.approx(13.40, abs=0.01)
    assert o2i_wall_loss_db(fc, True) == pytest.approx(30.69, abs=0.01)


def test_o2i_loss_mean_and_sigma_per_building_type():
    p = draw(indoor_fraction=1.0, high_loss_fraction=0.5)
    # d_2D-in = min of two U(0, 25): mean 25/3, so PL_in = 0.5 d_in has mean 25/6 and variance 0.25·25²/18.
    var_in = 0.25 * 25.0**2 / 18.0
    for high, sigma in ((False, SIGMA_LOW_LOSS_DB), (True, SIGMA_HIGH_LOSS_DB)):
        sel = p.high_loss == high
        loss = p.o2i_db[sel]
        se = math.sqrt((sigma**2 + var_in) / sel.sum())
        assert loss.mean() == pytest.approx(o2i_wall_loss_db(6.0, high) + 25.0 / 6.0, abs=4 * se)
        assert loss.std() == pytest.approx(math.sqrt(sigma**2 + var_in), rel=0.01)
        # Removing the indoor-distance part leaves N(wall, σ_P).
        rest = loss - 0.5 * p.d_in_m[sel]
        assert rest.std() == pytest.approx(sigma, rel=0.01)
    assert p.high_loss.mean() == pytest.approx(0.5, abs=0.005)
    assert p.d_in_m.mean() == pytest.approx(25.0 / 3.0, abs=0.05) and p.d_in_m.max() <= 25.0


def test_indoor_fraction_and_outdoor_ues_carry_no_o2i():
    p = draw(indoor_fraction=0.8)
    assert p.indoor.mean() == pytest.approx(0.8, abs=0.004)
    out = ~p.indoor
    assert not p.high_loss[out].any()
    assert np.all(p.o2i_db[out] == 0.0) and np.all(p.d_in_m[out] == 0.0)


def test_floor_heights_follow_table_7_8_1():
    p = draw(indoor_fraction=0.8, heights="floors")
    h_in = p.h_ue_m[p.indoor]
    assert np.all(p.h_ue_m[~p.indoor] == 1.5)
    # h = 3(n_fl − 1) + 1.5 with n_fl ~ U{1..N_fl}, N_fl ~ U{4..8}: P(n_fl = k) = (1/5) Σ_{N ≥ max(k,4)} 1/N.
    floors = np.rint((h_in - 1.5) / 3.0).astype(int) + 1
    assert set(np.unique(floors)) == set(range(1, 9))
    expect = {k: sum(1.0 / n for n in range(max(k, 4), 9)) / 5.0 for k in range(1, 9)}
    for k, pk in expect.items():
        assert (floors == k).mean() == pytest.approx(pk, abs=0.005)
    assert h_in.max() == 22.5


def test_fixed_heights_and_reproducible_draws():
    a = draw(seed=5, indoor_fraction=0.3)
    b = draw(seed=5, indoor_fraction=0.3)
    assert np.all(a.h_ue_m == 1.5)
    assert np.array_equal(a.o2i_db, b.o2i_db) and np.array_equal(a.indoor, b.indoor)
    assert not PopulationConfig().enabled and PopulationConfig(heights="floors").enabled


def test_uma_effective_height_draw_follows_note_1():
    from emulator.radio.pathloss import uma_effective_height_m

    p = draw_population(PopulationConfig(indoor_fraction=1.0, heights="floors", floors_min=8, floors_max=8),
                        50_000, 6.0, 1.5, 25.0, np.random.default_rng(2), n_site=3)
    assert p.h_e_u.shape == (50_000, 3)
    top = p.h_ue_m == 22.5  # 8-floor buildings: 1 UE in 8 on the top floor
    assert top.mean() == pytest.approx(1 / 8, abs=0.005)
    assert np.all(p.h_e_alt_m[p.h_ue_m < 13.5] == 1.0)  # below 13.5 m there is no other h_E
    # The other h_E is uniform over {12, 15, 18, 21} (21 = hUT − 1.5) for a 22.5 m UE.
    vals, counts = np.unique(p.h_e_alt_m[top], return_counts=True)
    assert list(vals) == [12.0, 15.0, 18.0, 21.0] and np.all(np.abs(counts / counts.sum() - 0.25) < 0.02)
    # h_E = 1 m with probability 1/(1 + C), C = ((22.5 − 13)/10)^1.5 · (5/4)(2)³ e^(−200/150) at 200 m.
    c = 0.95**1.5 * 1.25 * 8.0 * math.exp(-200.0 / 150.0)
    he = uma_effective_height_m(200.0, 22.5, p.h_e_u[top], p.h_e_alt_m[top])
    assert (he == 1.0).mean() == pytest.approx(1.0 / (1.0 + c), abs=0.02)
    assert np.all(uma_effective_height_m(15.0, 22.5, p.h_e_u, p.h_e_alt_m) == 1.0)  # g(d) = 0 up to 18 m
