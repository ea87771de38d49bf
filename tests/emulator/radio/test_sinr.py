"""Thermal noise, the SINR kernel and the handover state machine."""
import numpy as np
import pytest
from numba import njit

from emulator.radio.handover import handover_kernel
from emulator.radio.sinr import sinr_kernel, thermal_noise_w


def test_noise_per_prb_is_minus_112_45_dbm():
    n = thermal_noise_w(180e3, 9.0)
    assert 10 * np.log10(n * 1e3) == pytest.approx(-112.45, abs=0.005)


def test_sinr_kernel_weights_interference_by_activity():
    rx = np.array([[1.0, 0.5, 0.25], [0.1, 0.2, 0.4]])
    out = np.empty(2)
    sinr_kernel(rx, np.array([0, 2]), np.array([1.0, 1.0, 0.5]), 0.1, out)
    assert out == pytest.approx([1.0 / (0.5 + 0.125 + 0.1), 0.4 / (0.1 + 0.2 + 0.1)])
    sinr_kernel(rx, np.array([0, -1]), np.zeros(3), 0.1, out)
    assert out == pytest.approx([10.0, 0.0])


@njit
def _caller(rx, serving, activity, noise, out):
    sinr_kernel(rx, serving, activity, noise, out)
    return out.max()


def test_sinr_kernel_is_callable_from_njit():
    out = np.empty(1)
    assert _caller(np.array([[2.0, 1.0]]), np.array([0]), np.ones(2), 1.0, out) == pytest.approx(1.0)


def _state(n):
    return np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64), np.zeros(n)


def test_handover_attach_hysteresis_and_time_to_trigger():
    serving, cand, timer = _state(1)
    hyst = 10 ** (3 / 10)
    assert handover_kernel(np.array([[1.0, 0.5]]), serving, cand, timer, hyst, 0.25, 0.0) == 0
    assert serving[0] == 0  # attach: strongest
    # Neighbour 2 dB better: inside the hysteresis, no candidate.
    rx = np.array([[1.0, 10 ** 0.2]])
    handover_kernel(rx, serving, cand, timer, hyst, 0.25, 0.1)
    assert serving[0] == 0 and cand[0] == -1
    # 4 dB better: the TTT starts now and must run for 0.25 s (three more 0.1 s updates).
    rx = np.array([[1.0, 10 ** 0.4]])
    made = [handover_kernel(rx, serving, cand, timer, hyst, 0.25, 0.1) for _ in range(4)]
    assert made == [0, 0, 0, 1] and serving[0] == 1
    # One update where the condition fails restarts the count.
    rx_back = np.array([[10 ** 0.4, 1.0]])
    handover_kernel(rx_back, serving, cand, timer, hyst, 0.25, 0.1)
    handover_kernel(np.array([[1.0, 1.0]]), serving, cand, timer, hyst, 0.25, 0.1)
    handover_kernel(rx_back, serving, cand, timer, hyst, 0.25, 0.1)
    assert serving[0] == 1 and timer[0] == 0.0


def test_handover_without_ttt_is_immediate_past_hysteresis():
    serving, cand, timer = _state(2)
    handover_kernel(np.array([[1.0, 0.1], [0.1, 1.0]]), serving, cand, timer, 1.0, 0.0, 0.0)
    assert list(serving) == [0, 1]
    assert handover_kernel(np.array([[0.5, 1.0], [0.1, 1.0]]), serving, cand, timer, 1.0, 0.0, 0.1) == 1
    assert list(serving) == [1, 1]
