"""The per-TTI kernel: budgets, isolation, work conservation, RR fairness, PF, delivery and delay."""
from __future__ import annotations

import numpy as np
import pytest

from emulator.ran.scheduler import prb_budgets

from .helpers import bpp, engine


def test_budgets_largest_remainder_on_hand_numbers():
    assert prb_budgets(np.array([1 / 3, 1 / 3, 1 / 3]), 100).tolist() == [34, 33, 33]
    assert prb_budgets(np.array([0.125] * 8), 100).tolist() == [13, 13, 13, 13, 12, 12, 12, 12]
    assert prb_budgets(np.array([0.29, 0.71]), 100).tolist() == [29, 71]
    assert prb_budgets(np.array([0.004, 0.006, 0.99]), 100).tolist() == [0, 1, 99]
    assert prb_budgets(np.array([1.0, 0.0]), 100).tolist() == [100, 0]


def test_budgets_always_sum_to_num_prbs_and_stay_within_one_prb_of_quota():
    rng = np.random.default_rng(0)
    shares = rng.dirichlet(np.ones(5), size=500)
    b = prb_budgets(shares, 100)
    assert (b.sum(axis=1) == 100).all()
    assert (np.abs(b - shares * 100) < 1.0 + 1e-9).all()


def _poisson_arrivals(eng, n_tti, rate_pps, bits, rng):
    """Arrivals for every UE of `eng` over n_tti TTIs, ordered by eligible TTI as the kernel needs."""
    U = eng.U
    T = n_tti * eng.tti
    counts = rng.poisson(rate_pps * T, U)
    ue = np.repeat(np.arange(U), counts)
    t = rng.random(ue.size) * T
    k = np.ceil(t / eng.tti).astype(np.int64)
    order = np.lexsort((t, k))
    return t[order], ue[order], np.full(ue.size, float(bits)), k[order]


def test_isolation_never_exceeds_any_slice_budget():
    rng = np.random.default_rng(1)
    n = 40
    ue_slice = np.repeat(np.arange(4), n // 4)
    eng = engine(ue_slice, rng.uniform(-5, 25, n), num_slices=4)
    eng.set_shares(0, np.array([0.1, 0.2, 0.3, 0.4]))
    eng.add_arrivals(*_poisson_arrivals(eng, 400, 400.0, 3000.0, rng))
    for _ in range(400):
        eng.run(1)
        assert (eng.last_alloc[0] <= eng.budgets[0]).all(), (eng.last_alloc, eng.budgets)
    assert (eng.acc["used"][0] <= eng.acc["alloc"][0] + 1e-9).all()
    # loaded enough that some slice hit its budget
    assert (eng.acc["alloc"][0] > 0.9 * 400 * eng.budgets[0]).any()


def test_work_conserving_gives_idle_prbs_to_a_backlogged_slice():
    ue_slice = np.array([0, 0, 1, 1])
    for sharing, expected in (("isolation", 10), ("work_conserving", 100)):
        eng = engine(ue_slice, [10, 10, 10, 10], num_slices=2, work_conserving=sharing == "work_conserving")
        eng.set_shares(0, np.array([0.1, 0.9]))
        eng.set_full_buffer(np.array([True, True, False, False]))  # slice 1 has no traffic
        eng.run(50)
        assert eng.last_alloc[0, 0] == expected
        assert eng.acc["used"][0, 0] == pytest.approx(50 * expected)
        assert eng.acc["alloc"][0, 1] == 0


def test_work_conserving_keeps_budgets_when_every_slice_is_backlogged():
    ue_slice = np.array([0, 0, 1, 1])
    eng = engine(ue_slice, [10, 10, 10, 10], num_slices=2, work_conserving=True)
    eng.set_shares(0, np.array([0.3, 0.7]))
    eng.set_full_buffer(np.ones(4, dtype=bool))
    eng.run(20)
    assert eng.last_alloc[0].tolist() == [30, 70]


def test_single_ue_full_buffer_gets_all_prbs_at_the_mapped_rate():
    eng = engine([0], [13.0])
    eng.set_full_buffer(np.array([True]))
    eng.run(1000)
    expected = 100 * bpp(13.0) * 1000  # bits in 1 s
    assert eng.served_bits[0] == pytest.approx(expected, rel=1e-9)
    assert eng.acc["busy"][0, 0] == pytest.approx(1.0)
    assert eng.acc["used"][0, 0] == pytest.approx(100 * 1000)


def test_round_robin_is_fair_across_equal_ues():
    eng = engine([0] * 7, [8.0] * 7, num_prbs=30)
    eng.set_full_buffer(np.ones(7, dtype=bool))
    per_prb = float(bpp(8.0))
    for _ in range(70):
        eng.run(1)
        # every TTI: 30 PRBs over 7 UEs → 4 or 5 each; cumulative shares never drift apart by more than 1 PRB
        spread = eng.served_bits.max() - eng.served_bits.min()
        assert spread <= per_prb * (1 + 1e-9)
    # after 7 TTIs the odd PRBs have gone round: exactly equal
    assert np.allclose(eng.served_bits, eng.served_bits[0], rtol=1e-12)
    assert eng.served_bits[0] == pytest.approx(70 * 30 / 7 * per_prb, rel=1e-12)


def test_round_robin_caps_each_ue_at_its_need_and_shares_the_rest():
    # UE 0 needs 3 PRBs (1000 bits at ~374 bit/PRB); UE 1 is full buffer: it gets the other 97.
    eng = engine([0, 0], [10.0, 10.0])
    eng.set_full_buffer(np.array([False, True]))
    eng.add_arrivals(np.array([0.0]), np.array([0]), np.array([1000.0]), np.array([0]))
    eng.run(1)
    per_prb = float(bpp(10.0))
    need = int(np.ceil(1000 / per_prb))
    assert need == 3
    assert eng.served_bits[0] == pytest.approx(1000.0)
    assert eng.served_bits[1] == pytest.approx((100 - need) * per_prb)


def test_proportional_fair_serves_the_better_channel_first_and_equalises_time():
    good, bad = 20.0, 5.0
    eng = engine([0, 0], [good, bad], discipline="pf", pf_time_constant_ttis=100)
    eng.set_full_buffer(np.ones(2, dtype=bool))
    eng.run(1)
    # equal (zero) history: the whole TTI goes to the higher rate
    assert eng.served_bits[0] == pytest.approx(100 * bpp(good))
    assert eng.served_bits[1] == 0.0
    eng.run(19_999)
    # PF with flat channels converges to equal time shares: throughput ratio = rate ratio
    ratio = eng.served_bits[0] / eng.served_bits[1]
    assert ratio == pytest.approx(float(bpp(good) / bpp(bad)), rel=0.02)
    assert eng.served_bits[0] > 2 * eng.served_bits[1]


def test_proportional_fair_prefers_a_starved_ue():
    eng = engine([0, 0], [10.0, 10.0], discipline="pf")
    eng.set_full_buffer(np.array([True, False]))
    eng.run(200)  # UE 0 builds up a high average
    eng.set_full_buffer(np.array([True, True]))
    eng.run(1)
    assert eng.last_alloc[0, 0] == 100
    assert eng.served_bits[1] == pytest.approx(100 * bpp(10.0))


def test_fluid_delivery_delay_of_one_packet():
    # one 2000-bit packet arriving at 0.4 ms: eligible at TTI 1 (t = 1 ms); the UE alone gets all
    # 100 PRBs, so its last bit arrives 2000 / (100·bpp) of the way through that TTI.
    eng = engine([0], [10.0])
    eng.add_arrivals(np.array([0.4e-3]), np.array([0]), np.array([2000.0]), np.array([1]))
    eng.run(3)
    expected = 1e-3 + 2000.0 / (100 * bpp(10.0)) * 1e-3 - 0.4e-3
    assert eng.acc["pkts"][0, 0] == 1
    assert eng.acc["delay"][0, 0] == pytest.approx(float(expected), rel=1e-9)
    # busy time is the fraction of the TTI until the last bit; PRB-time used likewise
    frac = 2000.0 / (100 * bpp(10.0))
    assert eng.acc["busy"][0, 0] == pytest.approx(float(frac) * 1e-3)
    assert eng.acc["used"][0, 0] == pytest.approx(float(frac) * 100)


def test_poisson_delay_in_a_lightly_loaded_cell_matches_the_fluid_formula():
    """One UE, all 100 PRBs, Poisson arrivals of S bits at rate λ, capacity C = 100·bpp per TTI.

    A packet waits for the next TTI start (uniform phase: ½ TTI on average) and then finishes at
    (bits ahead of it in the same TTI + S) / C of that TTI. The bits ahead are the packets that
    arrived earlier in the same TTI interval: Poisson with mean λ·TTI/2. Hence
        E[delay] = TTI · (½ + (S / C) · (1 + λ·TTI / 2))
    as long as a TTI's arrivals fit into C (here P(> C / S packets in a TTI) < 1e-12).
    """
    rng = np.random.default_rng(3)
    S, lam, n_tti = 2000.0, 200.0, 20_000
    eng = engine([0], [10.0])
    eng.add_arrivals(*_poisson_arrivals(eng, n_tti, lam, S, rng))
    eng.run(n_tti + 1)
    C = 100 * float(bpp(10.0))
    expected = 1e-3 * (0.5 + S / C * (1 + lam * 1e-3 / 2))
    mean = eng.acc["delay"][0, 0] / eng.acc["pkts"][0, 0]
    assert eng.acc["pkts"][0, 0] > 3500
    # std of the delay ≈ 0.29 ms → standard error ≈ 0.005 ms (< 1 %); 3 % is a 3.5σ band
    assert mean == pytest.approx(expected, rel=0.03)


def test_queue_overflow_drops_and_counts():
    eng = engine([0], [10.0], queue_packets=4)
    eng.add_arrivals(np.zeros(10), np.zeros(10, dtype=np.int64), np.full(10, 100.0), np.zeros(10, dtype=np.int64))
    eng.run(1)
    assert eng.acc["drops"][0, 0] == 6
    assert eng.acc["pkts"][0, 0] == 4


def test_interference_follows_neighbour_activity_of_the_previous_tti():
    # Two cells, one UE each; UE 0 hears cell 1 as strongly as its own cell (SIR 0 dB when cell 1
    # transmits on every PRB). UE 1 is full buffer from TTI 0, so cell 1 is fully active from then on.
    eng_args = dict(num_cells=2, cqi_period_ttis=1)
    eng = engine([0, 0], [30.0, 30.0], **eng_args)
    from .helpers import NOISE_W

    rx = np.array([[1000 * NOISE_W, 1000 * NOISE_W], [0.0, 1000 * NOISE_W]])
    eng.set_radio(rx, np.array([0, 1]))
    eng.set_full_buffer(np.array([True, True]))
    eng.run(1)  # TTI 0: previous activity was 0 → UE 0 sees SNR 30 dB
    assert eng.served_bits[0] == pytest.approx(100 * bpp(30.0))
    eng.run(1)  # TTI 1: cell 1 was fully active → SINR = 1000 / (1000 + 1) ≈ 0 dB
    second = eng.served_bits[0] - 100 * bpp(30.0)
    assert second == pytest.approx(100 * float(bpp(10 * np.log10(1000 / 1001))), rel=1e-9)
