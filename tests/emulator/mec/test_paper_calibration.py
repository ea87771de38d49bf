"""What the paper calibration added to the MEC model: noise as a density, Nakagami-m fading, the
calibrated scenario's local cost, the rewarded batch's realised T and E, and plugin policies by spec."""
from __future__ import annotations

import numpy as np
import pytest

from emulator.config import load_scenario
from emulator.emulation import Emulation
from emulator.errors import ConfigError
from emulator.mec.config import ChannelConfig
from emulator.mec.world import Geometry, draw_gains
from pathlib import Path

from tests.emulator.mec.test_subsystem import Recording, scenario, tasks_of

REPO_SCENARIO = Path(__file__).resolve().parents[3] / "scenarios" / "mec-paper.yaml"


def test_noise_density_times_bandwidth_is_the_noise_power():
    assert ChannelConfig().noise_w == 1e-12  # default unchanged
    assert ChannelConfig(noise_density_w_per_hz=1e-12, bandwidth_hz=2e6).noise_w == pytest.approx(2e-6, rel=1e-15)
    with pytest.raises(ValueError, match="not both"):
        ChannelConfig(noise_density_w_per_hz=1e-12, noise_power_w=1e-6)


def test_a_density_gives_the_same_world_as_the_equal_noise_power():
    runs = []
    for ch in ({"noise_power_w": 1e-6}, {"noise_density_w_per_hz": 1e-12}):
        emu = Emulation(scenario({"channel": {"bandwidth_hz": 1e6, "ref_gain_db": -20.0, **ch}}))
        emu.run()
        runs.append(tasks_of(emu))
        emu.close()
    assert runs[0]["rate_bps"].notna().any()
    assert runs[0].equals(runs[1])


def test_nakagami_fading_has_unit_mean_and_variance_one_over_m():
    n, m_srv = 400, 3
    d = np.full((n, m_srv), 10.0)
    geo = Geometry(np.zeros((n, 2)), np.zeros((0, 2)), np.zeros((m_srv, 2)), np.full(m_srv, -1), np.zeros((n, 0)), d,
                   np.full(n, -1), np.zeros((n, m_srv)), np.full((n, m_srv), np.inf), np.zeros((n, m_srv), dtype=int))
    ch = ChannelConfig(fading="nakagami", nakagami_m=4.0, uplink="direct", ref_gain_db=-30.0)
    rng = np.random.default_rng(5)
    fades = np.concatenate([draw_gains(rng, geo, ch).server.ravel() / (1e-3 / 100.0) for _ in range(20)])
    assert fades.mean() == pytest.approx(1.0, abs=0.02)
    assert fades.var() == pytest.approx(1 / 4.0, rel=0.08)  # Rayleigh's law (m = 1) would give 1


def test_paper_scenario_local_costs_two_per_device_and_info_carries_realised_time_and_energy():
    sc = load_scenario(REPO_SCENARIO, {"agents.policies.offloading": "local", "duration": 3 * 3600.0})
    dec = Recording(sc.agents.policies)
    emu = Emulation(sc, decider=dec)
    emu.run()
    df = emu.traces.table("mec").to_pandas()
    emu.close()
    # Table I: F = 1e9 cycles at 1e9 cycles/s: 1 s and κ·f²·F = 1 J per device, 60 at N = 30.
    assert df["objective"].tolist() == [60.0, 60.0, 60.0]
    later = [ind.info for ind in dec.seen if ind.info["reward_step"] == 0]
    assert later and later[0]["reward_objective"] == 60.0
    assert later[0]["reward_mean_time_s"] == 1.0 and later[0]["reward_mean_energy_j"] == pytest.approx(1.0, rel=1e-12)
    first = dec.seen[0].info
    assert first["reward_step"] == -1 and first["reward_objective"] is None


def test_a_plugin_policy_by_spec_decides_for_the_offloading_points():
    spec = "tests.emulator.mec.plugin_policy:constant?score=0.9&server=1"
    emu = Emulation(scenario(agents={"policies": {"offloading": spec}}))
    emu.run(until=6.0)
    df = tasks_of(emu)
    emu.close()
    assert len(df) and (df["target"] == 2).all()  # every device voted to server 1 (target j + 1)


@pytest.mark.parametrize("spec,message", [
    ("tests.emulator.mec.plugin_policy:refuse?checkpoint=x", "refused: no checkpoint here"),
    ("tests.emulator.mec.no_such_module:make", "cannot load policy plugin"),
    ("tests.emulator.mec.plugin_policy:constant?score", "cannot parse the parameters"),
    ("greedyy", "unknown policy 'greedyy'"),
])
def test_a_bad_plugin_spec_is_one_located_config_error(spec, message):
    with pytest.raises(ConfigError, match="agents.policies.offloading") as err:
        Emulation(scenario(agents={"policies": {"offloading": spec}}))
    assert message in str(err.value) and "\n" not in str(err.value)
