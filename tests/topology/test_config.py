"""Topology config validation: bad values fail with errors that name the field."""
import pytest
from pydantic import ValidationError

from topology.config import CoreMec, HexLayout, TopologyConfig


def err_of(data):
    with pytest.raises(ValidationError) as exc:
        TopologyConfig.model_validate(data)
    e = exc.value.errors()[0]
    return ".".join(str(p) for p in e["loc"]), e["msg"]


def test_wrap_around_needs_full_rings():
    loc, msg = err_of({"layout": {"kind": "hex", "num_sites": 4, "wrap_around": True}})
    assert loc.startswith("layout") and "wrap_around" in msg and "num_sites=4" in msg


def test_boresights_must_match_sectors():
    loc, msg = err_of({"layout": {"kind": "hex", "boresights_deg": [0, 90]}})
    assert loc.startswith("layout") and "boresights_deg" in msg
    loc, msg = err_of({"layout": {"kind": "explicit", "sites": [{"x_m": 0, "y_m": 0, "sectors": 1, "boresights_deg": [0, 1, 2]}]}})
    assert loc.startswith("layout.explicit.sites.0") and "boresights_deg" in msg


def test_mec_site_out_of_range_names_the_field():
    loc, msg = err_of({"layout": {"kind": "hex", "num_sites": 4}, "mec": {"servers": [{"site": 1}, {"site": 4}]}})
    assert "mec.servers[1].site = 4" in msg and "0..3" in msg
    loc, msg = err_of({"layout": {"kind": "explicit", "sites": [{"x_m": 0, "y_m": 0}]}, "mec": {"core": {"site": 1}}})
    assert "mec.core.site = 1" in msg


def test_mec_server_needs_site_or_coordinates():
    loc, msg = err_of({"mec": {"servers": [{"x_m": 3}]}})
    assert loc.startswith("mec.servers") and loc.endswith(".0") and "x_m and y_m" in msg


def test_duplicate_explicit_sites_rejected():
    loc, msg = err_of({"layout": {"kind": "explicit", "sites": [{"x_m": 1, "y_m": 2}, {"x_m": 1, "y_m": 2}]}})
    assert "sites[0] and sites[1]" in msg


def test_unknown_key_rejected():
    loc, _ = err_of({"neighbours": {"mode": "k_nearest", "kk": 3}})
    assert loc == "neighbours.kk"


def test_omni_hex_gets_default_boresight_and_free_core_mec_drops_site_default():
    assert HexLayout(sectors=1).boresights_deg == [0.0]
    assert CoreMec(x_m=1.0, y_m=2.0).site is None
    assert CoreMec().site == 0
    with pytest.raises(ValidationError, match="not both"):
        CoreMec(site=1, x_m=1.0, y_m=2.0)
