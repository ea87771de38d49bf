"""Assignment objective, exhaustive optimum, max-vote rule and capacity trimming; baselines against the optimum."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from emulator.control import Indication
from emulator.mec import baselines
from emulator.mec.allocation import cpu_split
from emulator.mec.objective import CostModel, evaluate, exhaustive_optimum, max_vote, trim_to_capacity


def random_model(rng, n, m, exec_model="sqrt"):
    cycles = rng.uniform(1e8, 2e9, n)
    return CostModel(
        local_cost=2e-9 * cycles,
        offload_cost=rng.uniform(0.02, 0.6, (n, m)),
        sqrt_cycles=np.sqrt(cycles),
        cycles=cycles,
        tasks=np.ones(n, dtype=np.int64),
        server_cpu_hz=rng.choice([5e9, 10e9, 50e9], m),
        phi_t=1.0,
        exec_model=exec_model,
    )


def info_of(model, rng, server=None):
    n, m = model.num_devices, model.num_servers
    info = {
        "num_servers": m, "tasks": model.tasks.tolist(), "cycles": model.cycles.tolist(),
        "sqrt_cycles": model.sqrt_cycles.tolist(), "local_cost": model.local_cost.tolist(),
        "offload_cost": model.offload_cost.tolist(), "server_cpu_hz": model.server_cpu_hz.tolist(),
        "local_cpu_hz": [1e9] * n, "distance_m": rng.uniform(2, 70, (n, m)).tolist(), "phi_t": model.phi_t,
        "phi_e": 1.0, "exec_model": model.exec_model, "optimal_max_evals": 10**6,
        "policy_seed": int(rng.integers(2**63)),
    }
    if server is not None:
        info["server"] = server
    return Indication("mec/core", 0, 0.0, np.zeros(1), 0.0, info=info)


def test_evaluate_equals_the_sum_of_per_task_costs():
    rng = np.random.default_rng(5)
    model = random_model(rng, 5, 2)
    a = np.array([0, 1, 2, 1, 0])
    expect = model.local_cost[[0, 4]].sum() + model.offload_cost[[1, 3], 0].sum() + model.offload_cost[2, 1]
    for j, members in ((0, [1, 3]), (1, [2])):
        f = cpu_split(model.cycles[members], model.server_cpu_hz[j])
        expect += (model.cycles[members] / f).sum()  # φ_T = 1
    assert evaluate(model, a)[0] == pytest.approx(expect, rel=1e-12)
    eq = CostModel(*[getattr(model, k) for k in ("local_cost", "offload_cost", "sqrt_cycles", "cycles", "tasks",
                                                 "server_cpu_hz", "phi_t")], exec_model="equal")
    # Equal split on server 0: two tasks at F/2 each → Σ T = 2·(F1 + F3)/F.
    expect_eq = (model.local_cost[[0, 4]].sum() + model.offload_cost[[1, 3], 0].sum() + model.offload_cost[2, 1]
                 + 2 * model.cycles[[1, 3]].sum() / model.server_cpu_hz[0] + model.cycles[2] / model.server_cpu_hz[1])
    assert evaluate(eq, a)[0] == pytest.approx(expect_eq, rel=1e-12)


@pytest.mark.parametrize("exec_model", ["sqrt", "equal"])
@pytest.mark.parametrize("seed", range(4))
def test_exhaustive_optimum_equals_plain_enumeration(seed, exec_model):
    rng = np.random.default_rng(seed)
    model = random_model(rng, 6, 2, exec_model)
    best, val = exhaustive_optimum(model, chunk=37)  # an odd chunk exercises the chunk boundaries
    every = np.array(list(itertools.product(range(3), repeat=6)))
    vals = evaluate(model, every)
    assert val == pytest.approx(vals.min(), rel=1e-12)
    assert evaluate(model, best)[0] == pytest.approx(val, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_exhaustive_optimum_is_no_worse_than_any_baseline(seed):
    rng = np.random.default_rng(100 + seed)
    n, m = int(rng.integers(3, 8)), int(rng.integers(1, 4))
    model = random_model(rng, n, m)
    ind = info_of(model, rng)
    opt = evaluate(model, baselines.optimal(ind))[0]
    for name in ("local", "random", "greedy"):
        assert opt <= evaluate(model, baselines.ASSIGNMENT_POLICIES[name](ind))[0] * (1 + 1e-12), name


def test_exhaustive_search_refuses_above_the_limit_and_skips_idle_devices():
    rng = np.random.default_rng(1)
    model = random_model(rng, 14, 2)
    with pytest.raises(ValueError, match=r"3\^14 = 4.78e\+06 assignments exceeds the limit"):
        exhaustive_optimum(model, max_evals=10**6)
    idle = CostModel(model.local_cost, model.offload_cost, model.sqrt_cycles, model.cycles,
                     np.r_[np.ones(6, dtype=np.int64), np.zeros(8, dtype=np.int64)], model.server_cpu_hz, 1.0, "sqrt")
    best, _ = exhaustive_optimum(idle, max_evals=3**6)  # only the 6 devices with a task are searched
    assert np.all(best[6:] == 0)


def test_max_vote_follows_the_paper_example_and_the_half_threshold():
    # Paper V-C(5): scores 0.7, 0.8, 0.2 for one IoTD → server 2 (1-based), i.e. index 1 → value 2.
    scores = np.array([[0.7, 0.4, 0.5, 0.9, 0.6],
                       [0.8, 0.3, 0.1, 0.9, 0.2],
                       [0.2, 0.49, 0.0, 0.1, 0.6]])
    np.testing.assert_array_equal(max_vote(scores), [2, 0, 1, 1, 1])  # all < 0.5 → local; 0.5 offloads; ties → lower index
    assert max_vote(np.zeros((0, 3))).tolist() == [0, 0, 0]


def test_trim_sends_the_most_demanding_devices_home():
    a = np.array([1, 1, 1, 1, 2])
    cycles = np.array([5e8, 2e9, 1e9, 1.5e9, 3e9])
    # Server 0 fits two devices at 1 GHz local CPU each: the two smallest tasks stay.
    out = trim_to_capacity(a, cycles, np.full(5, 1e9), np.array([2e9, 5e9]))
    np.testing.assert_array_equal(out, [1, 0, 1, 0, 2])


def test_server_policies_map_back_to_the_same_assignment_through_the_vote():
    rng = np.random.default_rng(3)
    model = random_model(rng, 7, 3)
    for name in ("random", "greedy", "optimal"):
        ind = info_of(model, np.random.default_rng(9))
        a = baselines.ASSIGNMENT_POLICIES[name](ind)
        scores = []
        for j in range(3):
            ind.info["server"] = j
            scores.append(baselines.server_policy(name)(ind))
        np.testing.assert_array_equal(max_vote(np.array(scores)), a)


def test_greedy_picks_the_nearest_server():
    rng = np.random.default_rng(4)
    model = random_model(rng, 6, 3)
    ind = info_of(model, rng)
    a = baselines.greedy(ind)
    np.testing.assert_array_equal(a, np.argmin(np.array(ind.info["distance_m"]), axis=1) + 1)
