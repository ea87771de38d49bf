"""DIRS pieces: Mantegna steps' heavy tail, greedy selection, search fitness = realised Φ, imitation, max vote, replay."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from agents.dirs.config import DirsConfig
from agents.dirs.imitation import Demonstrations, accuracy, demo_loss, pretrain
from agents.dirs.levy import (classic_levy_search, descent, egreedy_search, fitness_of, levy_search, levy_steps,
                              mantegna_sigma, normalised_gain)
from agents.dirs.networks import Ensemble, l2_norms, targets
from agents.dirs.training import PrioritizedReplay
from agents.dirs.world import MecWorld, scores_for
from bridge.mec_model import CostModel, evaluate, exhaustive_optimum, max_vote


@pytest.fixture(autouse=True)
def one_thread():
    # Several torch threads spin against each other on a loaded 2-core machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_model(rng, n=8, m=2) -> CostModel:
    cycles = np.full(n, 1e9)
    return CostModel(local_cost=np.full(n, 2.0), offload_cost=rng.uniform(0.2, 4.0, (n, m)),
                     sqrt_cycles=np.sqrt(cycles), cycles=cycles, tasks=np.ones(n, dtype=np.int64),
                     server_cpu_hz=np.full(m, 50e9), phi_t=1.0, exec_model="sqrt")


def test_mantegna_sigma_matches_eq_22_by_hand():
    # β = 1.5: Γ(2.5) = 1.32934, sin(0.75π) = 0.707107, Γ(1.25) = 0.906402, 2^0.25 = 1.189207.
    num = 1.329340388 * 0.707106781
    den = 0.906402477 * 1.5 * 1.189207115
    assert mantegna_sigma(1.5) == pytest.approx((num / den) ** (1 / 1.5), rel=1e-8)
    assert mantegna_sigma(1.0) == pytest.approx(1.0, rel=1e-12)  # Γ(2)·sin(π/2) / (Γ(1)·1·2^0) = 1
    with pytest.raises(ValueError, match="β"):
        mantegna_sigma(2.5)


@pytest.mark.parametrize("beta", [1.2, 1.5])
def test_mantegna_steps_have_the_power_law_tail_of_beta(beta):
    rng = np.random.default_rng(7)
    d = np.abs(levy_steps(rng, beta, 400_000))
    sigma = mantegna_sigma(beta)
    k = 4.0
    tail = np.mean(d > k * sigma)
    gauss = math.erfc(k / math.sqrt(2))  # a Gaussian of the same scale: 6.3e-5 beyond 4σ
    assert tail > 50 * gauss
    # P(|d| > x) ∝ x^(−β): the tail fraction drops by 2^β when x doubles (Mantegna's d = u/|v|^(1/β)).
    ratio = np.mean(d > 8 * sigma) / np.mean(d > 16 * sigma)
    assert math.log2(ratio) == pytest.approx(beta, abs=0.15)


def test_normalised_gain_is_the_chosen_servers_share_and_one_over_m_locally():
    gain = np.array([[1.0, 3.0], [2.0, 2.0], [4.0, 1.0]])
    assert normalised_gain(gain, np.array([2, 1, 0])) == pytest.approx([0.75, 0.5, 0.5])


@pytest.mark.parametrize("search", ["levy", "classic", "egreedy"])
def test_greedy_selection_never_worsens_the_fitness(search):
    rng = np.random.default_rng(3)
    for trial in range(5):
        model = random_model(rng)
        f = fitness_of(model)
        start = rng.integers(0, 3, 8)
        if search == "levy":
            res = levy_search(f, rng.uniform(0.1, 1, (8, 2)), start, rng, 1.5, 0.5, 60)
        elif search == "classic":
            res = classic_levy_search(f, 2, start, rng, 1.5, 60)
        else:
            res = egreedy_search(f, 2, start, rng, 0.2, 60)
        assert np.all(np.diff(res.curve) <= 0) and res.curve[0] == f(start)
        assert res.fitness == res.curve[-1] == f(res.assignment)
    # And it gets somewhere: from all-local, close to the exact optimum of this small instance.
    model = random_model(np.random.default_rng(11))
    best = exhaustive_optimum(model)[1]
    got = levy_search(fitness_of(model), np.ones((8, 2)), np.zeros(8, dtype=np.int64), np.random.default_rng(0),
                      1.1, 0.5, 400).fitness
    assert best <= got <= 1.05 * best


def test_descent_reaches_a_one_opt_local_minimum():
    model = random_model(np.random.default_rng(4))
    res = descent(model, np.zeros(8, dtype=np.int64))
    for i in range(8):
        for j in range(3):
            a = res.assignment.copy()
            a[i] = j
            assert evaluate(model, a[None])[0] >= res.fitness - 1e-12


def test_the_search_fitness_is_the_emulators_realised_objective():
    """Fitness (the emulator's cost model, rebuilt from the indication) = Φ the emulator measures
    when the batch runs as SimPy processes, for searched, greedy-like and all-local assignments."""
    world = MecWorld(seed=4, epochs=4, overrides={"mec.num_devices": 10})
    rng = np.random.default_rng(0)
    try:
        for a in (None, np.zeros(10, dtype=np.int64), np.full(10, 2)):
            ep = world.epoch
            f = fitness_of(ep.model)
            if a is None:
                a = levy_search(f, ep.gain, np.zeros(10, dtype=np.int64), rng, 1.5, 0.5, 50).assignment
            out = world.step(scores_for(a, 2))
            assert out["objective"] == pytest.approx(f(a), rel=1e-9)  # SimPy clock rounding only
            assert out["reward"] == pytest.approx(1.0 / f(a), rel=1e-12)
    finally:
        world.close()


def test_max_vote_on_hand_built_scores_through_the_ensemble():
    # Paper V-C(5): scores 0.7, 0.8, 0.2 → server 2; all below 0.5 → local.
    assert max_vote(np.array([[0.7, 0.3], [0.8, 0.1], [0.2, 0.4]])).tolist() == [2, 0]
    ens = Ensemble(num_devices=2, num_servers=3)
    probs = np.array([[0.7, 0.3], [0.8, 0.1], [0.2, 0.4]])
    with torch.no_grad():
        for j, net in enumerate(ens.agents):
            last = net[-1]
            last.weight.zero_()
            last.bias.copy_(torch.as_tensor(np.log(probs[j] / (1 - probs[j])), dtype=torch.float32))
    gain_db = np.random.default_rng(1).normal(-60, 5, (3, 2))
    assert ens.scores(gain_db) == pytest.approx(probs, abs=1e-6)
    assert ens.decide(gain_db).tolist() == [2, 0]
    # Decentralised: agent j alone gives the same scores from its own row only.
    assert ens.agent_scores(1, gain_db[1]) == pytest.approx(probs[1], abs=1e-6)


def test_demonstration_loss_adds_lambda1_times_each_agents_l2_norm():
    torch.manual_seed(0)
    ens = Ensemble(4, 2)
    x = torch.randn(5, 2, 4)
    y = torch.as_tensor(targets(np.array([[0, 1, 2, 1]] * 5), 2))
    base = demo_loss(ens, x, y, 1e-2, use_l2=False)
    norms = [math.sqrt(sum(float((p.detach()**2).sum()) for p in net.parameters())) for net in ens.agents]
    assert (demo_loss(ens, x, y, 1e-2, use_l2=True) - base).item() == pytest.approx(1e-2 * sum(norms), rel=1e-5)
    assert l2_norms(ens).tolist() == pytest.approx(norms, rel=1e-6)


def test_imitation_pretraining_learns_a_small_demonstration_set():
    """32 demonstrations of a rule each agent can see in its own state (offload to server j where
    h_ij is the device's better link and strong enough, else local): high accuracy after pre-training."""
    rng = np.random.default_rng(2)
    k, m, n = 48, 2, 6
    gain_db = rng.normal(-60.0, 6.0, (k, m, n))
    best = np.argmax(gain_db, axis=1)
    a = np.where(gain_db.max(axis=1) > -62.0, best + 1, 0)
    demos = Demonstrations(gain_db, a, np.zeros(k))
    train, test = demos.take(slice(0, 32)), demos.take(slice(32, k))
    torch.manual_seed(0)
    ens = Ensemble(n, m)
    cfg = DirsConfig(pretrain_steps=200, batch_size=32, learning_rate=5e-3)
    losses = pretrain(ens, train, cfg, seed=0)
    assert losses[-1] < 0.5 * losses[0]
    assert accuracy(ens, train) >= 0.9
    assert accuracy(ens, test) > 0.6  # above the 1/3 of guessing among local, server 1, server 2


def test_replay_keeps_demonstrations_and_prioritises_by_loss_plus_epsilon():
    cfg = DirsConfig(eps_demo=0.02, eps_agent=0.08, priority_exponent=0.6)
    buf = PrioritizedReplay(6, 2, 3, cfg, seed=0)
    demos = Demonstrations(np.zeros((2, 2, 3)), np.array([[1, 2, 0], [0, 0, 1]]), np.zeros(2))
    buf.add_demonstrations(demos)
    for t in range(9):
        buf.add(np.full((2, 3), float(t)), np.array([2, 2, 2]))
    assert buf.size == 6 and buf.is_demo[:2].all() and not buf.is_demo[2:].any()
    assert buf.labels[0].tolist() == [[1, 0, 0], [0, 1, 0]]  # demos survive the overwrites
    assert sorted(buf.gain_db[2:, 0, 0].tolist()) == [5.0, 6.0, 7.0, 8.0]  # the newest agent data
    buf.delta[:] = [0.0, 1.0, 0.0, 0.5, 0.0, 0.0]
    w = np.array([0.02, 1.02, 0.08, 0.58, 0.08, 0.08]) ** 0.6
    assert buf.probabilities() == pytest.approx(w / w.sum(), rel=1e-12)


def test_calibration_fit_averages_seeds_and_prefers_the_point_inside_every_interval():
    from agents.dirs.calibrate import fit, loss

    inside = {"near_opt_30": 27.0, "top_baseline_30": 90.0, "top_baseline_100": 324.0}
    assert loss(inside) < 1e-3
    assert loss({**inside, "top_baseline_100": 200.0}) == pytest.approx(
        math.log(300 / 200) ** 2 + 0.01 * (math.log(200) - 0.5 * math.log(300 * 350)) ** 2 + loss(inside)
        - 0.01 * (math.log(324) - 0.5 * math.log(300 * 350)) ** 2, rel=1e-12)

    def row(g, n, seed, greedy, near):
        return {"ref_gain_db": g, "fading": "rayleigh", "seed": seed, "num_devices": n, "local": 2.0 * n,
                "greedy": greedy, "random": greedy / 2, "near_opt": near}

    rows = [row(-27, 30, 1, 80, 26), row(-27, 30, 2, 100, 28), row(-27, 100, 1, 320, 130), row(-27, 100, 2, 330, 140),
            row(-30, 30, 1, 150, 33), row(-30, 100, 1, 370, 146)]
    table, best = fit(rows)
    assert [t["ref_gain_db"] for t in table] == [-30, -27] and best["ref_gain_db"] == -27
    assert best["greedy_30"] == 90 and best["near_opt_30"] == 27 and best["top_baseline_100"] == 325 and best["seeds"] == 2
