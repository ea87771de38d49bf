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
