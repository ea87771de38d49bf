"""Antenna patterns: boresight, −3 dB points, floors, vertical tilt and the combined cap."""
import numpy as np
import pytest

from emulator.radio.antenna import (
    AntennaModel,
    antenna_gain_db,
    horizontal_attenuation_db,
    vertical_attenuation_db,
    wrap_angle_deg,
)
from emulator.radio.config import AntennaConfig


@pytest.mark.parametrize("pattern, bw, am", [("36942", 65.0, 20.0), ("36814", 70.0, 25.0)])
def test_horizontal_pattern_checks(pattern, bw, am):
    g = antenna_gain_db(np.array([30.0, 30.0 + bw / 2, 30.0 - bw / 2, 30.0 + 180.0, 30.0 + 120.0]), 30.0, pattern, 15.0)
    assert g[0] == pytest.approx(15.0)  # A(0) = 0
    assert g[1] == pytest.approx(12.0) and g[2] == pytest.approx(12.0)  # −3 dB at ±θ3dB/2
    assert g[3] == pytest.approx(15.0 - am)  # back lobe floor
    # 120° off boresight (the neighbouring sector's boresight) is past the main lobe for both.
    assert g[4] == pytest.approx(15.0 - am)


def test_horizontal_attenuation_folds_angles():
    assert horizontal_attenuation_db(360.0 + 10.0) == pytest.approx(horizontal_attenuation_db(10.0))
    assert horizontal_attenuation_db(-10.0) == pytest.approx(horizontal_attenuation_db(10.0))
    assert wrap_angle_deg(np.array([190.0, -190.0, 540.0])) == pytest.approx([-170.0, 170.0, -180.0])


def test_omni_is_flat():
    g = antenna_gain_db(np.linspace(-180, 180, 13), 30.0, "omni", 8.0)
    assert np.all(g == 8.0)


def test_vertical_pattern_and_combined_cap():
    assert vertical_attenuation_db(15.0, 15.0) == 0.0
    assert vertical_attenuation_db(np.array([10.0, 20.0]), 15.0) == pytest.approx([-3.0, -3.0])
    assert vertical_attenuation_db(90.0, 15.0) == pytest.approx(-20.0)
    # Back lobe (−20 / −25) plus vertical floor (−20) is capped at Am.
    g = antenna_gain_db(180.0, 0.0, "36814", 14.0, elevation_deg=80.0, downtilt_deg=10.0)
    assert g == pytest.approx(14.0 - 25.0)
    g = antenna_gain_db(0.0, 0.0, "36814", 14.0, elevation_deg=15.0, downtilt_deg=10.0)
    assert g == pytest.approx(14.0 - 12.0 * 0.25)
    # Without a downtilt the vertical angle is ignored.
    assert antenna_gain_db(0.0, 0.0, "36942", 15.0, elevation_deg=60.0) == pytest.approx(15.0)


def test_model_omni_cells_keep_only_the_vertical_pattern():
    m = AntennaModel(AntennaConfig(pattern="36942", gain_dbi=15.0, downtilt_deg=10.0))
    g = m.gain_db(np.array([[180.0, 180.0]]), np.array([[10.0, 15.0]]), np.array([[False, True]]))
    assert g[0, 0] == pytest.approx(15.0 - 20.0)
    assert g[0, 1] == pytest.approx(15.0 - 3.0)


def test_38901_element_half_power_points_floor_and_gain():
    ant = AntennaModel(AntennaConfig(pattern="38901"))
    assert (ant.gain_dbi, ant.downtilt_deg, ant.spec.max_attenuation_db) == (8.0, 0.0, 30.0)
    az = np.array([0.0, 32.5, -32.5, 0.0, 0.0, 180.0, 90.0])
    el = np.array([0.0, 0.0, 0.0, 32.5, -32.5, 0.0, 60.0])
    g = ant.gain_db(az, el)
    assert g[0] == pytest.approx(8.0)  # G_max at boresight (zenith 90°)
    assert g[1:5] == pytest.approx([5.0] * 4)  # −3 dB at ±φ3dB/2 and ±θ3dB/2 (65°)
    assert g[5] == pytest.approx(8.0 - 30.0)  # A_m floor behind
    assert g[6] == pytest.approx(8.0 - 30.0)  # A_H + A_V capped at A_m


def test_lte_presets_are_the_configurable_pattern_with_other_numbers():
    lte = AntennaModel(AntennaConfig(pattern="36942"))
    custom = AntennaModel(AntennaConfig(pattern="38901", horizontal_beamwidth_deg=65.0, max_attenuation_db=20.0,
                                        gain_dbi=15.0, vertical_beamwidth_deg=10.0, vertical_sla_db=20.0,
                                        downtilt_deg=None))
    az = np.linspace(-180.0, 180.0, 73)
    # downtilt None on the 38901 preset falls back to its 0° tilt; compare the horizontal cut at the horizon.
    assert custom.gain_db(az, np.zeros_like(az)) == pytest.approx(lte.gain_db(az))


def test_array_factor_at_the_tilt_and_at_the_horizon():
    from emulator.radio.antenna import array_factor

    # Array gain 10 log10 M at the steering angle; at the horizon the closed form sin²(Mψ/2)/(M sin²(ψ/2)).
    assert 10 * np.log10(array_factor(12.0, 10, 0.5, 12.0)) == pytest.approx(10.0)
    psi = 2 * np.pi * 0.5 * np.sin(np.radians(12.0))
    expect = np.sin(5 * psi) ** 2 / (10 * np.sin(psi / 2) ** 2)
    assert array_factor(0.0, 10, 0.5, 12.0) == pytest.approx(expect, rel=1e-12)
    assert 10 * np.log10(array_factor(0.0, 10, 0.5, 12.0)) == pytest.approx(-18.26, abs=0.01)
    # Brute-force sum of the element phasors agrees everywhere.
    el = np.linspace(-60.0, 80.0, 57)
    m = np.arange(10)[:, None]
    ph = 2j * np.pi * 0.5 * m * (np.sin(np.radians(12.0)) - np.sin(np.radians(el)))[None, :]
    brute = np.abs(np.exp(ph).sum(axis=0)) ** 2 / 10
    assert array_factor(el, 10, 0.5, 12.0) == pytest.approx(brute, rel=1e-9, abs=1e-12)
    ant = AntennaModel(AntennaConfig(pattern="38901", array={"rows": 10}))
    assert ant.gain_db(np.array([0.0]), np.array([12.0]))[0] == pytest.approx(
        8.0 - 12 * (12.0 / 65.0) ** 2 + 10.0)  # element at 12° below boresight + full array gain
