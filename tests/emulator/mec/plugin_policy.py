"""A policy plugin for the control-point hook tests: constant scores, or a refusal."""
from __future__ import annotations

import numpy as np


def constant(description: dict, score: str = "0.9", server: str = "0"):
    """Server `server` scores every device `score`; the others score 0 (so the vote sends all there)."""
    if description["kind"] != "offloading":
        raise ValueError(f"offloading points only, not {description['kind']}")
    n = int(description["observation_space"]["shape"][0])
    mine = description["name"] == f"mec/server{int(server)}"
    value = float(score) if mine else 0.0
    return lambda ind: np.full(n, value)


def refuse(description: dict, **params):
    raise ValueError("no checkpoint here")
