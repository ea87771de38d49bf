"""Compiled link budget against the numpy reference (RadioModel.evaluate), the Φ-table LOS test against erfc."""
import dataclasses
import math

import numpy as np
import pytest
from numba import njit

from emulator.radio.config import RadioConfig
from emulator.radio.linkbudget import PHI_TABLE, PHI_Z0, UE_BLOCK, los_bracket
from emulator.radio.model import RadioModel
from emulator.streams import RandomStreams
from topology.build import build_topology
from topology.config import TopologyConfig
from topology.query import cell_arrays

# Differences are rounding only (measured ≤ 3e-14); the bound leaves room for other CPUs' libm.
RTOL = 1e-12


def topo(num_sites=4, wrap=False, sectors=3, boresights=(30.0, 150.0, 270.0)):
    return build_topology(TopologyConfig.model_validate(
        {"layout": {"kind": "hex", "num_sites": num_sites, "isd_m": 500.0, "wrap_around": wrap,
                    "sectors": sectors, "boresights_deg": list(boresights) if sectors == 3 else [0.0]}}))


def positions(graph, n, seed):
    """n random positions over (and beyond) the area, a few on a site and a few far out of range."""
    rng = np.random.default_rng(seed)
    xmin, xmax, ymin, ymax = graph.graph["area"]
    xy = np.column_stack([rng.uniform(xmin - 300, xmax + 300, n), rng.uniform(ymin - 300, ymax + 300, n)])
    sites = cell_arrays(graph).site_xy
    xy[0] = sites[0]  # on a site: clamped to the minimum distance
    xy[1] = sites[-1] + np.array([3.0, -4.0])
    xy[2] = (1e5, -2e4)  # beyond the 5 km validity: clamped
    xy[3] = (-0.0, 0.0)  # signed zero on the site at the origin: atan2's conventions
    return xy


CASES = [
    ("winner_c2 draw", dict(), {}),
    ("winner_c2 expected", dict(los="expected"), {}),
    ("winner_b1 draw, 3-D antenna 36814", dict(pathloss="winner_b1", antenna={"pattern": "36814", "downtilt_deg": 12.0}), {}),
    ("uma draw, fixed sigma", dict(pathloss="uma", carrier_ghz=3.5, shadowing={"sigma_db": 5.0}), {}),
    ("umi expected, no shadowing", dict(pathloss="umi", los="expected", shadowing={"enabled": False}), {}),
    ("tr36942 draw, penetration", dict(pathloss="tr36942_macro", carrier_ghz=2.0, penetration_loss_db=20.0), {}),
    ("omni antenna with tilt", dict(antenna={"pattern": "omni", "downtilt_deg": 8.0}), {}),
    ("wrap-around 19 sites", dict(pathloss="uma"), dict(num_sites=19, wrap=True)),
    ("wrap-around 7 sites, bs height", dict(bs_height_m=32.0, ue_height_m=4.0), dict(num_sites=7, wrap=True)),
    ("1-sector sites", dict(), dict(sectors=1)),
    ("boresights outside [0, 360)", dict(), dict(boresights=(-330.0, 510.0, -90.0))),
    ("short min distance", dict(min_distance_m=2.0, pathloss="umi"), {}),
]


@pytest.mark.parametrize("label,radio,layout", CASES, ids=[c[0] for c in CASES])
def test_compiled_path_equals_the_numpy_reference(label, radio, layout):
    g = topo(**layout)
    rm = RadioModel(RadioConfig(**radio), g, RandomStreams(11), 1e-3)
    xy = positions(g, 3 * UE_BLOCK + 17, seed=len(label))  # several blocks and a partial one
    ref = rm.evaluate(xy)
    ref_validity = rm.validity
    out = rm.received_power_w(xy)
    assert out.shape == ref.rx_w.shape
    assert np.all(out > 0)
    np.testing.assert_allclose(out, ref.rx_w, rtol=RTOL, atol=0)
    assert rm.validity == ref_validity
    assert ref_validity.below_min >= 1 and ref_validity.above_max >= 1


def test_the_los_state_is_followed_not_just_the_probability():
    # The LOS draw moves received power by several dB: if the compiled path got states wrong, it would show.
    g = topo()
    rm = RadioModel(RadioConfig(pathloss="uma", shadowing={"enabled": False}), g, RandomStreams(2), 1e-3)
    xy = np.random.default_rng(5).uniform(-150.0, 150.0, (2000, 2))  # around site 0, where LOS is common
    ref = rm.evaluate(xy)
    assert 0.1 < ref.los[:, 0].mean() < 0.9
    np.testing.assert_allclose(rm.received_power_w(xy), ref.rx_w, rtol=RTOL, atol=0)


def test_update_runs_the_compiled_path_and_handover_on_its_output():
    g = topo()
    rm = RadioModel(RadioConfig(), g, RandomStreams(4), 1e-3)
    xy = positions(g, 500, seed=8)
    rm.update(xy)
    np.testing.assert_allclose(rm.rx_w, rm.evaluate(xy).rx_w, rtol=RTOL, atol=0)
    assert np.array_equal(rm.serving, np.argmax(rm.rx_w, axis=1))


def test_no_ues_and_bad_positions():
    rm = RadioModel(RadioConfig(), topo(), RandomStreams(1), 1e-3)
    assert rm.received_power_w(np.zeros((0, 2))).shape == (0, rm.num_cells)
    bad = positions(topo(), 100, seed=1)
    bad[77, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        rm.received_power_w(bad)
    bad[77, 1] = np.inf
    with pytest.raises(ValueError, match="finite"):
        rm.received_power_w(bad)


@njit(cache=True)
def _bracket_all(z, p, los, decided):
    for i in range(z.shape[0]):
        los[i], decided[i] = los_bracket(z[i], p[i])


def test_phi_table_decisions_equal_erfc_and_leave_few_open():
    rng = np.random.default_rng(3)
    n = 200_000
    z = rng.normal(0.0, 1.5, n)
    p = rng.uniform(0.0, 1.0, n)
    # Hard cases: p exactly at table entries and a hair either side of Φ(z); z on and off the table's range.
    k = rng.integers(0, len(PHI_TABLE), 2000)
    z[:2000] = PHI_Z0 + k / 64.0
    p[:2000] = PHI_TABLE[k]
    exact = np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in z[2000:4000]])
    p[2000:4000] = exact * (1.0 + rng.choice([-1e-15, 0.0, 1e-15], 2000))
    z[4000:4100] = rng.uniform(-40.0, -8.0, 100)
    z[4100:4200] = rng.uniform(8.0, 40.0, 100)
    p[4200:4300] = 0.0
    los = np.empty(n, dtype=bool)
    decided = np.empty(n, dtype=bool)
    _bracket_all(z, p, los, decided)
    truth = np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) < q for v, q in zip(z, p)])
    assert np.array_equal(los[decided], truth[decided])
    assert decided[4200:4300].all() and not los[4200:4300].any()
    # Random (z, p) pairs fall inside a table bracket rarely: the erfc pass stays small.
    assert (~decided[5000:]).mean() < 0.01


POP = {"indoor_fraction": 0.8, "high_loss_fraction": 0.5, "heights": "floors"}
ARRAY = {"pattern": "38901", "array": {"rows": 10, "spacing_wavelengths": 0.5, "electrical_downtilt_deg": 12.0}}
POPULATION_CASES = [
    # Every new feature on: UMa with floors up to 22.5 m (C'(hUT) LOS and the height-dependent NLOS term),
    # indoor O2I, the 38.901 element in a tilted array, wrap-around.
    ("uma population, 38901 array, wrap-around", dict(pathloss="uma", carrier_ghz=6.0, population=POP, antenna=ARRAY,
                                                       shadowing={"inter_site_correlation": 0.0, "grid_points_per_decorrelation": 4}),
     dict(num_sites=19, wrap=True)),
    ("umi expected, population, 36814 tilt", dict(pathloss="umi", los="expected", population=POP,
                                                  antenna={"pattern": "36814", "downtilt_deg": 6.0}), {}),
    ("rma draw, indoor, array", dict(pathloss="rma", carrier_ghz=3.5, bs_height_m=35.0,
                                     population={"indoor_fraction": 0.5, "heights": "floors", "floors_min": 2, "floors_max": 3},
                                     antenna={"pattern": "38901", "array": {"rows": 4, "electrical_downtilt_deg": 3.0}}),
     dict(num_sites=7, wrap=True)),
    ("rma no population", dict(pathloss="rma", carrier_ghz=0.8), {}),
    # Every UE indoors in an 8-floor building, expected LOS: the per-link h_E of TR 38.901 UMa note 1 moves the
    # breakpoint of the high UEs' links, and the P_LOS-weighted mix carries the LOS law beyond it into every link.
    ("uma expected, 8-floor buildings, per-link h_E", dict(pathloss="uma", carrier_ghz=6.0, los="expected",
                                                   population={"indoor_fraction": 1.0, "heights": "floors",
                                                               "floors_min": 8, "floors_max": 8}),
     dict(num_sites=7, wrap=True)),
]


@pytest.mark.parametrize("label,radio,layout", POPULATION_CASES, ids=[c[0] for c in POPULATION_CASES])
def test_compiled_path_equals_the_numpy_reference_with_the_new_features(label, radio, layout):
    g = topo(**layout)
    rm = RadioModel(RadioConfig(**radio), g, RandomStreams(13), 1e-3)
    xy = positions(g, 2 * UE_BLOCK + 9, seed=len(label))
    pop = rm.draw_population(len(xy)) if rm.cfg.population.enabled else None
    ref = rm.evaluate(xy, population=pop)
    ref_validity = rm.validity
    out = rm.received_power_w(xy, population=pop)
    assert np.all(out > 0)
    np.testing.assert_allclose(out, ref.rx_w, rtol=RTOL, atol=0)
    assert rm.validity == ref_validity
    if pop is not None:
        # The population is not a no-op: as outdoor UEs at 1.5 m the same positions receive other powers.
        assert not np.allclose(rm.received_power_w(xy), out, rtol=1e-6, atol=0)
    if pop is not None and pop.h_e_u is not None and rm.cfg.los == "expected":
        no_he = dataclasses.replace(pop, h_e_u=None, h_e_alt_m=None)
        assert not np.allclose(rm.evaluate(xy, population=no_he).rx_w, ref.rx_w, rtol=1e-6, atol=0)


def test_update_draws_the_population_once_per_ue_count_and_only_when_asked():
    g = topo()
    rm = RadioModel(RadioConfig(pathloss="uma", population=POP), g, RandomStreams(3), 1e-3)
    xy = positions(g, 100, seed=2)
    rm.update(xy)
    first = rm.population
    assert first is not None and first.size == 100 and first.indoor.any()
    rm.update(xy + 1.0, 0.1)
    assert rm.population is first  # moving UEs keep their building, floor and O2I loss
    np.testing.assert_allclose(rm.rx_w, rm.evaluate(xy + 1.0, population=first).rx_w, rtol=RTOL, atol=0)
    plain = RadioModel(RadioConfig(pathloss="uma"), g, RandomStreams(3), 1e-3)
    plain.update(xy)
    assert plain.population is None
    # A fixed UMa height above 13 m still needs the per-link h_E draws.
    high = RadioModel(RadioConfig(pathloss="uma", ue_height_m=19.5), g, RandomStreams(3), 1e-3)
    high.update(xy)
    assert high.population is not None and high.population.h_e_u.shape == (100, 4)
    assert not high.population.indoor.any() and np.all(high.population.h_ue_m == 19.5)
