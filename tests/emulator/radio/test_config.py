"""The `radio` scenario section: defaults with their sources, and located one-line errors."""
import pytest

from emulator.config import scenario_from_dict
from emulator.errors import ConfigError
from emulator.radio.antenna import AntennaModel
from emulator.radio.config import RadioConfig


def load(radio):
    return scenario_from_dict({"ran": {"slices": [{"name": "a"}]}, "radio": radio}, "file.yaml")


def test_defaults():
    r = RadioConfig()
    assert (r.tx_power_dbm, r.num_prbs, r.noise_figure_db, r.pathloss) == (46.0, 100, 9.0, "winner_c2")
    assert r.prb_bandwidth_hz == 180e3 and r.carrier_hz == 2.6e9
    assert r.shadowing.inter_site_correlation == 0.5
    ant = AntennaModel(r.antenna)  # None fields resolve to the 36942 preset
    assert (r.antenna.pattern, ant.gain_dbi, ant.downtilt_deg, r.antenna.array) == ("36942", 15.0, None, None)
    assert (ant.spec.beamwidth_deg, ant.spec.max_attenuation_db) == (65.0, 20.0)
    assert (r.link.alpha, r.link.sinr_min_db, r.link.max_efficiency) == (0.6, -10.0, 4.4)


@pytest.mark.parametrize(
    "radio, path, words",
    [
        ({"carrier_ghz": 7.0}, "radio", "outside the winner_c2 model's range"),
        ({"num_prbs": 120}, "radio", "exceeds bandwidth_mhz"),
        ({"shadowing": {"inter_site_correlation": 1.5}}, "radio.shadowing.inter_site_correlation", "less than or equal to 1"),
        ({"antenna": {"pattern": "yagi"}}, "radio.antenna.pattern", "36942"),
        ({"los": "sometimes"}, "radio.los", "draw"),
        ({"ue_height_m": 0.5}, "radio.ue_height_m", "greater than or equal to 1"),
        ({"ue_height_m": 1.0}, "radio", "outside the winner_c2 model's UE height range 1.5–13 m"),
        ({"pathloss": "rma", "carrier_ghz": 3.5, "population": {"heights": "floors"}}, "radio",
         "UE heights 1.5–22.5 m (population.heights=floors) outside the rma model's UE height range 1–10 m"),
        ({"population": {"floors_min": 9}}, "radio.population", "floors_min=9 exceeds floors_max=8"),
        ({"population": {"indoor_fraction": 1.2}}, "radio.population.indoor_fraction", "less than or equal to 1"),
        ({"antenna": {"array": {"rows": 0}}}, "radio.antenna.array.rows", "greater than or equal to 1"),
        ({"handover": {"ttt": 0.1}}, "radio.handover.ttt", "unknown key"),
    ],
)
def test_bad_values_give_located_errors(radio, path, words):
    with pytest.raises(ConfigError) as exc:
        load(radio)
    assert exc.value.path == path
    assert words in exc.value.message
    assert "\n" not in str(exc.value)


def test_38901_models_accept_mmwave_carriers():
    assert load({"pathloss": "uma", "carrier_ghz": 28.0, "bandwidth_mhz": 100, "num_prbs": 100}).radio.carrier_ghz == 28.0


def test_pattern_names_read_as_numbers_are_accepted():
    # YAML and --param read an unquoted 38901 as an int; it names the preset all the same.
    assert load({"antenna": {"pattern": 38901}}).radio.antenna.pattern == "38901"
    with pytest.raises(ConfigError) as exc:
        load({"antenna": {"pattern": 12345}})
    assert exc.value.path == "radio.antenna.pattern"
