"""Baseline offloading policies (local, random, greedy, exhaustive optimum) as pure functions of an Indication.

Everything a policy needs travels in the indication's `info` (see MecSubsystem.info), so an agent
process can run the same baseline from the INDICATION alone. Each function returns the full
assignment (N,) with 0 = local and j + 1 = MEC server j; `for_server` turns it into the score vector
an offloading point expects (1 where the device goes to that server, else 0), which the max vote
maps back to the same assignment.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Callable

import numpy as np

from emulator.control import Indication
from emulator.mec.objective import CostModel, exhaustive_optimum, trim_to_capacity

AssignmentPolicy = Callable[[Indication], np.ndarray]


def cost_model(info: dict) -> CostModel:
    """The epoch's cost terms, rebuilt from an indication's info."""
    return CostModel(
        local_cost=np.asarray(info["local_cost"], dtype=float),
        offload_cost=np.asarray(info["offload_cost"], dtype=float).reshape(len(info["local_cost"]), -1),
        sqrt_cycles=np.asarray(info["sqrt_cycles"], dtype=float),
        cycles=np.asarray(info["cycles"], dtype=float),
        tasks=np.asarray(info["tasks"], dtype=np.int64),
        server_cpu_hz=np.asarray(info["server_cpu_hz"], dtype=float),
        phi_t=float(info["phi_t"]),
        exec_model=str(info["exec_model"]),
    )


def local(ind: Indication) -> np.ndarray:
    """Every task runs on its device."""
    return np.zeros(len(ind.info["tasks"]), dtype=np.int64)


def random(ind: Indication) -> np.ndarray:
    """Uniform choice among local and the M servers per device; over-full servers send the most
    demanding devices home (paper VI-C). Seeded by the epoch's `policy_seed`, so every offloading
    point of one epoch (and a remote agent) draws the same assignment."""
    info = ind.info
    rng = np.random.default_rng(int(info["policy_seed"]))
    n, m = len(info["tasks"]), int(info["num_servers"])
    a = rng.integers(0, m + 1, size=n)
    a[np.asarray(info["tasks"]) == 0] = 0
    return trim_to_capacity(a, info["cycles"], info["local_cpu_hz"], info["server_cpu_hz"])


def greedy(ind: Indication) -> np.ndarray:
    """Every device offloads to its nearest server; over-full servers send the most demanding
    devices home (paper VI-C)."""
    info = ind.info
    dist = np.asarray(info["distance_m"], dtype=float).reshape(len(info["tasks"]), -1)
    if dist.shape[1] == 0:
        return local(ind)
    a = np.argmin(dist, axis=1) + 1
    a[np.asarray(info["tasks"]) == 0] = 0
    return trim_to_capacity(a, info["cycles"], info["local_cpu_hz"], info["server_cpu_hz"])


# Every offloading point of an epoch asks for the same optimum; remember the last few answers.
_OPTIMA: OrderedDict[bytes, np.ndarray] = OrderedDict()


def optimal(ind: Indication) -> np.ndarray:
    """Exact minimum of the epoch's objective by exhaustive search over (M+1)^N assignments
    (refused above `optimal_max_evals`). Exact for the √F and equal CPU splits without queueing."""
    info = ind.info
    if info.get("exec_model") is None:
        raise ValueError("optimal: the resource manager does not declare an execution model (exec_model)")
    model = cost_model(info)
    h = hashlib.blake2b(digest_size=16)
    for arr in (model.local_cost, model.offload_cost, model.sqrt_cycles, model.cycles, model.tasks, model.server_cpu_hz):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(repr((model.phi_t, model.exec_model, int(info["optimal_max_evals"]))).encode())
    key = h.digest()
    hit = _OPTIMA.get(key)
    if hit is None:
        hit, _ = exhaustive_optimum(model, int(info["optimal_max_evals"]))
        _OPTIMA[key] = hit
        while len(_OPTIMA) > 8:
            _OPTIMA.popitem(last=False)
    return hit.copy()


ASSIGNMENT_POLICIES: dict[str, AssignmentPolicy] = {"local": local, "random": random, "greedy": greedy, "optimal": optimal}


def for_server(assignment: np.ndarray, server: int) -> np.ndarray:
    """Scores for server `server`'s offloading point: 1 where the device goes there, else 0."""
    return (np.asarray(assignment) == server + 1).astype(np.float64)


def server_policy(name: str) -> Callable[[Indication], np.ndarray]:
    """An assignment baseline as a policy of an offloading (score) point."""
    fn = ASSIGNMENT_POLICIES[name]
    return lambda ind: for_server(fn(ind), int(ind.info["server"]))


def core_policy(name: str) -> Callable[[Indication], np.ndarray]:
    """An assignment baseline as a policy of the core assignment point."""
    fn = ASSIGNMENT_POLICIES[name]
    return lambda ind: fn(ind).astype(np.float64)
