"""A 1-cell slicing world for agent tests: the paper scenario shrunk to one omni cell with 0.1 s epochs."""
from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def tiny_slicing(path: Path, duration: float = 10.0, slice1_rate_pps: float = 200.0, seed: int = 3) -> Path:
    """Write the 1-cell scenario to `path` and return it.

    One omni cell, 8 UEs per slice at constant masks, decisions every 0.1 s. At 200 packets/s per
    slice-1 UE, slice 1 needs about 0.4–0.7 of the PRBs: the equal split (what an untrained softmax
    actor plays) earns about 0.34, uniform random shares about 0.06, shares like (0.5, 0.17, 0.17,
    0.17) earn 1.
    """
    data = yaml.safe_load((REPO / "scenarios" / "slicing-12cell.yaml").read_text())
    data["name"] = "slicing-1cell-test"
    data["seed"] = seed
    data["duration"] = duration
    data["topology"] = {"layout": {"kind": "hex", "num_sites": 1, "sectors": 1, "isd_m": 500}}
    data["ran"]["requirements"] = []
    data["ran"]["decision_period_s"] = 0.1
    for s in data["ran"]["slices"]:
        s["group_size"] = 8
        s["mask"] = {"kind": "constant", "value": 1.0}
    data["ran"]["slices"][0]["traffic"]["rate_pps"] = slice1_rate_pps
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
