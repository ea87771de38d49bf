"""Resource manager (paper problem 13): closed-form CPU split and optimal transmit power against brute force."""
from __future__ import annotations

import numpy as np
import pytest

from emulator.mec.allocation import (
    Batch,
    EqualResourceManager,
    OptimalResourceManager,
    cpu_split,
    cpu_split_total_time,
    load_resource_manager,
    optimal_tx_power,
    upload_cost,
)


def test_cpu_split_is_proportional_to_sqrt_cycles_and_uses_the_capacity():
    f = cpu_split([1e9, 4e9, 9e9], 60e9)
    np.testing.assert_allclose(f, [10e9, 20e9, 30e9])
    assert cpu_split_total_time([1e9, 4e9, 9e9], 60e9) == pytest.approx((1 + 2 + 3) ** 2 * 1e9 / 60e9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cpu_split_matches_brute_force_within_one_percent(seed):
    rng = np.random.default_rng(seed)
    cycles = rng.uniform(1e8, 2e9, size=3)
    cap = 50e9
    # Brute force over the simplex of shares (f1, f2, f3 = cap - f1 - f2) on a fine grid.
    s = np.linspace(1e-3, 1 - 1e-3, 1200)
    s1, s2 = np.meshgrid(s, s, indexing="ij")
    s3 = 1 - s1 - s2
    ok = s3 > 1e-3
    total = cycles[0] / (s1[ok] * cap) + cycles[1] / (s2[ok] * cap) + cycles[2] / (s3[ok] * cap)
    closed = (cycles / cpu_split(cycles, cap)).sum()
    assert closed <= total.min() * (1 + 1e-9)
    assert closed == pytest.approx(total.min(), rel=0.01)


@pytest.mark.parametrize("phi_t,phi_e", [(1.0, 1.0), (1.0, 0.05), (0.1, 10.0), (3.0, 0.5)])
def test_optimal_power_matches_brute_force_within_one_percent(phi_t, phi_e):
    # a = h/σ² spans deep fades to a device next to the antenna (1/W).
    a = np.array([1e-2, 1.0, 1e2, 1e4, 1.6e4, 1e6, 1e8])
    p = optimal_tx_power(a, phi_t, phi_e, 1.5)
    grid = np.linspace(1e-6, 1.5, 300_001)
    cost = upload_cost(8e5, 1e6, a[:, None], grid[None, :], phi_t, phi_e)
    mine = upload_cost(8e5, 1e6, a, p, phi_t, phi_e)
    assert np.all(p > 0) and np.all(p <= 1.5)
    assert np.all(mine <= cost.min(axis=1) * (1 + 1e-9))
    np.testing.assert_allclose(mine, cost.min(axis=1), rtol=0.01)


def test_optimal_power_stationarity_and_limits():
    a = np.array([[1e4, 1e6], [1e2, 1e-3]])  # works on any array shape
    p = optimal_tx_power(a, 1.0, 1.0, 1.5)
    assert p.shape == a.shape
    # Interior optimum: φ_E·[(1+ap)ln(1+ap) − ap] = a·φ_T (the derivative of the upload cost is 0).
    x = a[0] * p[0]
    np.testing.assert_allclose((1 + x) * np.log1p(x) - x, a[0] * 1.0, rtol=1e-9)
    assert p[1, 1] == 1.5  # very weak link: H(P_max) < 0, full power
    assert np.all(optimal_tx_power(a, 1.0, 0.0, 1.5) == 1.5)  # time only: full power
    with pytest.raises(ValueError, match="phi_t"):
        optimal_tx_power(a, 0.0, 1.0, 1.5)


def batch(target):
    k = len(target)
    return Batch(device=np.arange(k), target=np.array(target), cycles=np.array([1e9, 4e9, 9e9, 1e9][:k]),
                 bits=np.full(k, 8e5), snr_per_w=np.full(k, 1e4), server_cpu_hz=np.array([60e9, 10e9]),
                 p_max=1.5, phi_t=1.0, phi_e=1.0)


def test_managers_allocate_per_server_and_leave_local_tasks_alone():
    b = batch([1, 1, 1, 0])
    opt = OptimalResourceManager().allocate(b)
    np.testing.assert_allclose(opt.cpu_hz[:3], [10e9, 20e9, 30e9])
    assert np.isnan(opt.cpu_hz[3]) and opt.tx_power_w[3] == 0
    assert 0 < opt.tx_power_w[0] < 1.5
    eq = EqualResourceManager().allocate(batch([1, 2, 1, 0]))
    np.testing.assert_allclose(eq.cpu_hz[:3], [30e9, 10e9, 30e9])
    np.testing.assert_allclose(eq.tx_power_w, [1.5, 1.5, 1.5, 0.0])


def test_resource_manager_loading_errors_are_clear():
    assert load_resource_manager("equal").exec_model == "equal"
    with pytest.raises(ValueError, match="unknown resource manager"):
        load_resource_manager("fastest")
    with pytest.raises(ValueError, match="cannot load"):
        load_resource_manager("no_such_module_xyz:factory")
    rm = load_resource_manager("emulator.mec.allocation:OptimalResourceManager")
    assert rm.exec_model == "sqrt"
