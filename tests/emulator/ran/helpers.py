"""Small RAN scenarios and hand-built engines for the RAN tests."""
from __future__ import annotations

import copy

import numpy as np

from emulator.config import scenario_from_dict
from emulator.radio.link import LinkMapping, bits_per_prb
from emulator.radio.sinr import thermal_noise_w
from emulator.ran.engine import RanEngine

NOISE_W = thermal_noise_w(180e3, 9.0)

BASE = {
    "name": "ran-test",
    "seed": 7,
    "duration": 3.0,
    "topology": {"layout": {"kind": "hex", "num_sites": 1, "isd_m": 500}},
    "radio": {"carrier_ghz": 2.6, "pathloss": "winner_c2"},
    "ran": {
        "decision_period_s": 0.5,
        "mobility": {"model": "random_waypoint", "period_s": 0.1},
        "slices": [
            {"name": "a", "throughput_mbps": 2, "delay_ms": 5, "group_size": 4,
             "traffic": {"kind": "poisson", "packet_bytes": 500, "rate_pps": 100}},
            {"name": "b", "throughput_mbps": 1, "delay_ms": 2, "group_size": 4,
             "traffic": {"kind": "poisson", "packet_bytes": 200, "rate_pps": 200}},
        ],
    },
    "agents": {"policies": {"slice_partition": "traffic_aware"}},
}


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        # a dict with a "kind" is a tagged union member: it replaces, never merges
        if isinstance(v, dict) and isinstance(out.get(k), dict) and "kind" not in v:
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def scenario(**over):
    return scenario_from_dict(merge(BASE, over))


def engine(ue_slice, sinr_db, num_cells: int = 1, num_slices: int = 1, num_prbs: int = 100, **kw) -> RanEngine:
    """An engine whose UEs all sit in cell 0 at the given SINRs (no other cell is heard)."""
    ue_slice = np.asarray(ue_slice, dtype=np.int64)
    eng = RanEngine(num_cells, num_slices, ue_slice, num_prbs=num_prbs, tti_s=1e-3, link=LinkMapping.create(),
                    prb_bandwidth_hz=180e3, noise_w=NOISE_W, **kw)
    rx = np.zeros((ue_slice.size, num_cells))
    rx[:, 0] = NOISE_W * 10 ** (np.asarray(sinr_db, dtype=float) / 10.0)
    eng.set_radio(rx, np.zeros(ue_slice.size, dtype=np.int64))
    return eng


def bpp(sinr_db) -> np.ndarray:
    """Bits per PRB per 1 ms TTI from the radio module's default mapping."""
    return bits_per_prb(10 ** (np.asarray(sinr_db, dtype=float) / 10.0))
