"""agents.vae: the similarity distance (eq. 7 / Lemma 1) and the source choice (eq. 10)."""
from __future__ import annotations

import numpy as np
import pytest

from agents.vae import VaeConfig, choose_source, pairwise_mean_sq, similarity, write_similarity


def test_closed_form_equals_the_mean_over_all_pairs():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 4)), rng.normal(1.0, 2.0, size=(20, 4))
    brute = np.mean([((x - y) ** 2).sum() for x in a for y in b])
    assert pairwise_mean_sq(a, b) == pytest.approx(brute)


def test_distance_is_zero_for_identical_sets_and_grows_with_a_shift(tmp_path):
    rng = np.random.default_rng(1)
    base = rng.normal(0.0, 0.3, size=(100, 17))
    shifts = [0.0, 0.5, 1.0, 2.0]
    samples = {"ref": base, "copy": base.copy(), **{f"shift{s}": base + s for s in shifts[1:]}}
    res = similarity(samples, VaeConfig(epochs=25, seed=0))
    names, d = res["names"], res["distance"]
    at = {n: d[names.index("ref"), names.index(n)] for n in names}
    assert at["copy"] == pytest.approx(0.0, abs=1e-9)
    grow = [at["copy"]] + [at[f"shift{s}"] for s in shifts[1:]]
    assert all(b > a for a, b in zip(grow, grow[1:])), grow
    assert np.allclose(d, d.T) and np.all(np.diag(d) == 0.0)
    # eq. 10: the most similar source of "ref" (itself excluded) is its copy, the least the largest shift
    assert choose_source(names, d, "ref") == "copy"
    assert choose_source(names, d, "ref", most_similar=False) == "shift2.0"
    files = write_similarity(res, tmp_path)
    assert all(f.stat().st_size > 0 for f in files)


def test_choose_source_never_returns_the_target():
    d = np.array([[0.0, 5.0], [5.0, 0.0]])
    assert choose_source(["a", "b"], d, "a") == "b"
    with pytest.raises(ValueError):
        choose_source(["a"], np.zeros((1, 1)), "a")
