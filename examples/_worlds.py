"""Small worlds for the recipes' --quick runs (what the tests run): seconds, not minutes.

QUICK_SLICING: the paper's slicing scenario cut to one site (3 cells, 4 slices, its requirements
for cells 0-2) with 0.2 s decision periods and a 4 s horizon (19 steps per episode); a random
partition scores about 0.2 there, the equal split 1.0, so a mapping that starves slices shows.
QUICK_MEC: the MEC scenario with 10 devices and 10-step episodes.
"""
SLICING = "scenarios/slicing-12cell.yaml"
MEC = "scenarios/mec-dirs.yaml"

QUICK_SLICING = {
    "duration": 4.0,
    "ran.decision_period_s": 0.2,
    "topology.layout.num_sites": 1,
    "ran.requirements": [{"cells": [0, 1, 2], "throughput_mbps": [4, 3, 2, 1], "delay_ms": [3, 2, 1, 1]}],
}
QUICK_MEC = {"episode_steps": 10, "duration": 50.0, "mec.num_devices": 10}
