"""Decentralised inference evaluated beside the baselines on identical epochs (paper §VI-C, Figs. 9–10, Table III).

After training, the world runs on (fresh fading draws the agents never saw). Each epoch the trained
agents decide (max vote) and their decision is applied; on the very same epoch the emulator's local,
greedy and random baselines, a near-optimal assignment (1-opt descent from the best of those and
the DIRS decision) and, where (M+1)^N allows, the exact optimum are evaluated on the emulator's cost
model. The applied decision's realised Φ (measured when its batch finished) is recorded beside its
cost-model Φ: they must agree (no queueing between one-shot epochs).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from agents.dirs.calibrate import baselines_on, near_optimal
from agents.dirs.networks import Ensemble
from agents.dirs.world import MecWorld
from bridge.mec_model import evaluate, exhaustive_optimum, max_vote, search_space

POLICIES = ("dirs", "greedy", "random", "local", "near_opt", "optimal")


def evaluate_ensemble(world: MecWorld, ens: Ensemble, epochs: int, exact_max_evals: int = 200_000) -> dict[str, Any]:
    """Mean Φ and mean 1/Φ per policy over `epochs` epochs, DIRS's inference time, realised-vs-model gap."""
    m = world.num_servers
    phi: dict[str, list[float]] = {p: [] for p in POLICIES}
    realised, infer = [], []
    for _ in range(epochs):
        ep = world.epoch
        t0 = time.perf_counter()
        # Decentralised: agent j alone on its own state, then the vote (what the emulator runs).
        scores = np.stack([ens.agent_scores(j, ep.gain_db[j]) for j in range(m)])
        a = max_vote(scores)
        infer.append(time.perf_counter() - t0)
        phi["dirs"].append(float(evaluate(ep.model, a[None, :])[0]))
        base = baselines_on(ep.info)
        for name, b in base.items():
            phi[name].append(float(evaluate(ep.model, b[None, :])[0]))
        _, f = near_optimal(ep.model, ep.gain, [base["local"], base["greedy"], a])
        phi["near_opt"].append(f)
        if search_space(ep.model.num_devices, m) <= exact_max_evals:
            phi["optimal"].append(exhaustive_optimum(ep.model, exact_max_evals)[1])
        realised.append(world.step(scores)["objective"])
    out: dict[str, Any] = {"epochs": epochs}
    for name, v in phi.items():
        if v:
            arr = np.array(v)
            out[f"phi_{name}"] = float(arr.mean())
            out[f"reward_{name}"] = float(np.mean(1.0 / arr))
    out["phi_dirs_realised"] = float(np.mean(realised))
    out["reward_dirs_realised"] = float(np.mean(1.0 / np.array(realised)))
    out["realised_vs_model_max_rel"] = float(np.max(np.abs(np.array(realised) - np.array(phi["dirs"]))
                                                    / np.array(phi["dirs"])))
    out["inference_s"] = float(np.mean(infer))
    out["per_epoch"] = {k: v for k, v in phi.items() if v}
    return out
