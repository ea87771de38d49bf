"""agents.transfer and the replay buffers in agents.td3 checkpoints: exact copies of weights and samples."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.td3 import CellAgents, TD3Config, read_replay
from agents.transfer import NETS, transferred_team

ROLES = [f"slice/cell{i}" for i in range(3)]


def filled_team(seed: int, adds: int, capacity: int = 64) -> CellAgents:
    """A team whose networks moved away from their initialisation and whose buffers hold `adds` transitions."""
    team = CellAgents(ROLES, np.zeros(16), np.full(16, 10.0), 4, TD3Config(buffer_size=capacity, batch_size=8), seed)
    rng = np.random.default_rng(seed)
    for _ in range(adds):
        obs = {r: rng.random(16) * 10 for r in ROLES}
        acts = team.act(obs, "random")
        team.store(obs, acts, {r: rng.random() for r in ROLES}, {r: rng.random(16) * 10 for r in ROLES},
                   {r: False for r in ROLES}, {r: {} for r in ROLES})
        team.learn()
    return team


def test_replay_buffers_survive_a_checkpoint_round_trip(tmp_path):
    team = filled_team(1, adds=90, capacity=64)  # wrapped around: the oldest 26 are gone
    team.save(tmp_path, replay=True)
    back = CellAgents.load(tmp_path)
    assert back.buffer.size == 64
    for i in range(3):
        a, b = team.buffer.member_arrays(i), back.buffer.member_arrays(i)
        for f in a:
            np.testing.assert_array_equal(a[f], b[f])
    # Oldest first: the newest stored transition is the last row.
    assert np.array_equal(read_replay(tmp_path, ROLES[0])["rew"][-1], team.buffer.rew[0, (team.buffer.pos - 1) % 64])
    # Without replay files the buffer starts empty.
    team.save(tmp_path / "plain")
    assert CellAgents.load(tmp_path / "plain").buffer.size == 0


@pytest.fixture()
def source(tmp_path):
    team = filled_team(2, adds=40)
    team.save(tmp_path / "src", replay=True)
    return team, tmp_path / "src"


ASSIGN = {"slice/cell0": "slice/cell2", "slice/cell1": "slice/cell0", "slice/cell2": "slice/cell0"}


def test_model_transfer_copies_the_source_networks_exactly(source):
    src, folder = source
    fresh = CellAgents(ROLES, np.zeros(16), np.full(16, 10.0), 4, TD3Config(batch_size=8), 9)
    team = transferred_team("model", ROLES, np.zeros(16), np.full(16, 10.0), 4, TD3Config(batch_size=8), 9, folder,
                            {"slice/cell0": "slice/cell2"})
    for name in NETS:
        got, want, init = (getattr(t, name).state_dict() for t in (team, src, fresh))
        for key in got:
            assert torch.equal(got[key][0], want[key][2]), f"{name}.{key}"
            assert torch.equal(got[key][1], init[key][1]), "an unassigned target keeps its own initialisation"
    assert team.buffer.size == 0  # model transfer alone moves no samples


def test_instance_transfer_copies_the_source_samples(source):
    src, folder = source
    team = transferred_team("instance", ROLES, np.zeros(16), np.full(16, 10.0), 4, TD3Config(batch_size=8), 9, folder,
                            ASSIGN, instances=25)
    assert team.buffer.size == 25
    for k, target in enumerate(ROLES):
        want = src.buffer.member_arrays(ROLES.index(ASSIGN[target]))
        got = team.buffer.member_arrays(k)
        for f in want:
            np.testing.assert_array_equal(got[f], want[f][-25:])  # the newest 25, oldest first
    fresh = CellAgents(ROLES, np.zeros(16), np.full(16, 10.0), 4, TD3Config(batch_size=8), 9)
    assert torch.equal(team.actor.net[0].weight, fresh.actor.net[0].weight)  # networks stay untouched


def test_combined_transfer_does_both_and_keeps_learning(source):
    src, folder = source
    team = transferred_team("combined", ROLES, np.zeros(16), np.full(16, 10.0), 4, TD3Config(batch_size=8), 9, folder,
                            ASSIGN)
    assert team.buffer.size == 40
    assert torch.equal(team.q1.net[0].weight[1], src.q1.net[0].weight[0])
    assert "critic_loss" in team.learn()  # the transferred samples are enough for an update at once


def test_transfer_rejects_unknown_methods_and_missing_sources(source):
    _, folder = source
    args = (ROLES, np.zeros(16), np.full(16, 10.0), 4, TD3Config(batch_size=8), 9)
    with pytest.raises(ValueError, match="one of"):
        transferred_team("feature", *args, folder, ASSIGN)
    with pytest.raises(ValueError, match="every target"):
        transferred_team("instance", *args, folder, {"slice/cell0": "slice/cell1"})
