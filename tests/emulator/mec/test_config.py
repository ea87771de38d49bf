"""The `mec` scenario section: defaults from the paper, located errors, and the num_servers expansion."""
from __future__ import annotations

from pathlib import Path

import pytest

from emulator.config import dump_scenario, load_scenario, scenario_from_dict
from emulator.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def test_bundled_scenario_has_the_paper_setting():
    sc = load_scenario(ROOT / "scenarios" / "mec-dirs.yaml")
    m = sc.mec
    assert m.num_devices == 30 and len(sc.topology.mec.servers) == 2
    assert m.server_cpu_hz == 50e9 and m.channel.bandwidth_hz == 1e6 and m.devices.tx_power_max_w == 1.5
    assert m.tasks.data_bits.kind == "fixed" and m.tasks.data_bits.value == 8e5  # 100 kB
    assert m.devices.kappa == 1e-27 and m.devices.nu == 3
    assert sc.topology.area.x_m == (0, 50) and sc.topology.area.y_m == (0, 50)
    assert sc.agents.policies["offloading"] == "greedy" and sc.ran is None


@pytest.mark.parametrize(
    "mec,path,expect",
    [
        ({"devices": {"local_cpu_hz": 2e9}}, "mec.devices", "exceeds tx_power_max_w"),
        ({"tasks": {"cycles": {"kind": "uniform", "low": 1e9}}}, "mec.tasks.cycles", "needs `high`"),
        ({"tasks": {"cycles": {"kind": "fixed", "value": 1e9, "mean": 2}}}, "mec.tasks.cycles", "not mean"),
        ({"tasks": {"cycles": {"kind": "uniform", "low": 3.0, "high": 2.0}}}, "mec.tasks.cycles", "low <= high"),
        ({"num_devices": 2, "devices": {"positions": [[1, 1]]}}, "mec", "lists 1 devices"),
        ({"phi_t": 0}, "mec.phi_t", "greater than 0"),
        ({"channel": {"uplink": "wired"}}, "mec.channel.uplink", "'serving_site' or 'direct'"),
        ({"server_cpu_hz": [1e9, -1]}, "mec", "positive"),
        ({"bogus": 1}, "mec.bogus", "unknown key"),
    ],
)
def test_bad_values_give_located_errors(mec, path, expect):
    with pytest.raises(ConfigError) as err:
        scenario_from_dict({"name": "t", "mec": mec})
    assert err.value.path == path and expect in err.value.message


def test_num_servers_regenerates_sites_and_round_trips(tmp_path):
    sc = load_scenario(ROOT / "scenarios" / "mec-dirs.yaml", ["mec.num_servers=5"])
    sites = sc.topology.layout.sites
    assert len(sites) == 5 and all(s.sectors == 1 for s in sites)
    assert [(s.x_m, s.y_m) for s in sites] == [(25 / 3, 12.5), (25.0, 12.5), (125 / 3, 12.5), (25 / 3, 37.5), (25.0, 37.5)]
    assert [srv.site for srv in sc.topology.mec.servers] == [0, 1, 2, 3, 4]
    copy = tmp_path / "c.yaml"
    copy.write_text(dump_scenario(sc))
    assert load_scenario(copy) == sc
    # Two servers reproduce the bundled placement.
    two = load_scenario(ROOT / "scenarios" / "mec-dirs.yaml", ["mec.num_servers=2"])
    assert [(s.x_m, s.y_m) for s in two.topology.layout.sites] == [(12.5, 25.0), (37.5, 25.0)]


@pytest.mark.parametrize(
    "topology,expect",
    [
        ({"layout": {"kind": "hex", "num_sites": 1}}, "layout.kind: explicit"),
        ({"layout": {"kind": "explicit", "sites": [{"x_m": 0, "y_m": 0}]}}, "needs topology.area"),
        ({"layout": {"kind": "explicit", "sites": [{"x_m": 0, "y_m": 0}]}, "area": {"x_m": [0, 1], "y_m": [0, 1]},
          "mec": {"core": {"site": 0}}}, "core MEC placed by x_m/y_m"),
    ],
)
def test_num_servers_needs_an_explicit_layout_an_area_and_a_free_core(topology, expect):
    with pytest.raises(ConfigError, match=expect):
        scenario_from_dict({"name": "t", "topology": topology, "mec": {"num_servers": 3}})


def test_loguniform_task_sizes_spread_over_decades_with_the_stated_mean():
    import math

    import numpy as np

    from emulator.mec.config import Distribution
    from emulator.mec.world import draw

    d = Distribution(kind="loguniform", low=1e7, high=1e9)
    x = draw(d, np.random.default_rng(0), 200_000)
    assert x.min() >= 1e7 and x.max() <= 1e9
    # log10 of the samples is uniform on [7, 9]: a third of them in each third of the range
    assert abs(np.mean(np.log10(x) < 7 + 2 / 3) - 1 / 3) < 0.01
    assert d.expected == pytest.approx((1e9 - 1e7) / math.log(100))
    assert np.mean(x) == pytest.approx(d.expected, rel=0.01)
    with pytest.raises(ValueError, match="loguniform needs low <= high"):
        Distribution(kind="loguniform", low=5, high=1)
