"""Inter-agent transfer for the TD3 slice-partition agents (Hu et al. §IV-C): model, instance and combined transfer.

- Model transfer (policy transfer Λ): the target agent starts from the source agent's networks —
  actor, twin critics and their target copies — copied exactly; its optimiser starts fresh (Adam
  moments belong to the source's training history, not to the fine-tuning).
- Instance transfer (Γ): the source's replay buffer (saved in its checkpoint, `CellAgents.save(...,
  replay=True)`) is put into the target's replay buffer before fine-tuning; the target's own
  transitions are appended, and mini-batches are drawn uniformly from the mix. We transfer the
  source's newest `instances` transitions (default 4,000: as many as the target collects while
  fine-tuning, so the mix ends about half and half); the paper does not say how many.
- Combined (the paper's proposal): both.
Feature transfer (partial layers, frozen) is left out, as in the paper.

Every target k gets its own source σ(k) (e.g. by eq. 10, `agents.vae.choose_source`). The targets
of one world are one `CellAgents` ensemble; member k's networks and buffer come from the source
checkpoint's member σ(k). Nothing is shared between members.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from agents.td3 import CellAgents, TD3Config, file_name, read_replay

METHODS = ("none", "model", "instance", "combined")
NETS = ("actor", "actor_target", "q1", "q2", "q1_target", "q2_target")


def load_source_states(folder: str | Path, roles: Sequence[str]) -> dict[str, dict]:
    """Per-role network states of a checkpoint folder (written by `CellAgents.save`)."""
    folder = Path(folder)
    out = {}
    for r in roles:
        path = folder / file_name(r)
        if not path.exists():
            raise FileNotFoundError(f"{folder}: no checkpoint for {r}")
        out[r] = torch.load(path, map_location="cpu", weights_only=True)
    return out


def model_transfer(team: CellAgents, sources: Mapping[str, Mapping[str, Mapping[str, torch.Tensor]]]) -> None:
    """Copy each source state's networks into the target member: `sources` = {target role: member state}.

    A member state is `CellAgents.member_state(i)` (or a checkpoint file's contents). Roles not in
    `sources` keep their own initialisation.
    """
    for target, state in sources.items():
        i = team.roles.index(target)
        for name in NETS:
            net = getattr(team, name)
            with torch.no_grad():
                for key, tensor in net.state_dict().items():
                    src = state[name][key]
                    if src.shape != tensor.shape[1:]:
                        raise ValueError(f"{name}.{key}: source shape {tuple(src.shape)} does not fit "
                                         f"{tuple(tensor.shape[1:])} (different network sizes?)")
                    tensor[i].copy_(src.to(tensor.device))


def instance_transfer(team: CellAgents, sources: Mapping[str, Mapping[str, np.ndarray]], count: int | None = None) -> int:
    """Fill the targets' replay buffers with the source transitions: `sources` = {target role: replay arrays}.

    Every member needs a source (the ensemble's members share one write position). The newest
    `count` transitions of each source are used (None: all; all sources are cut to the shortest).
    Returns the number of transitions per member now in the buffer.
    """
    missing = [r for r in team.roles if r not in sources]
    if missing:
        raise ValueError(f"instance transfer needs a source for every target; none for {', '.join(missing)}")
    n = min(len(s["rew"]) for s in sources.values())
    if count is not None:
        n = min(n, int(count))
    team.buffer.load_members([{f: np.asarray(sources[r][f])[len(sources[r]["rew"]) - n:] for f in sources[r]}
                              for r in team.roles])
    return team.buffer.size


def transferred_team(method: str, roles: Sequence[str], obs_low, obs_high, act_dim: int, cfg: TD3Config, seed: int,
                     source_folder: str | Path | None, assignment: Mapping[str, str], instances: int | None = 4000,
                     device: str = "cpu") -> CellAgents:
    """A fresh team for `roles` with `method` ∈ METHODS applied from the checkpoint in `source_folder`.

    `assignment` maps each target role to its source role in that checkpoint.
    """
    if method not in METHODS:
        raise ValueError(f"transfer method must be one of {', '.join(METHODS)}, got {method!r}")
    team = CellAgents(roles, obs_low, obs_high, act_dim, cfg, seed, device)
    if method == "none":
        return team
    if source_folder is None:
        raise ValueError(f"transfer method {method!r} needs a source checkpoint")
    if method in ("model", "combined"):
        states = load_source_states(source_folder, sorted(set(assignment.values())))
        model_transfer(team, {t: states[s] for t, s in assignment.items()})
    if method in ("instance", "combined"):
        missing = [r for r in roles if r not in assignment]
        if missing:
            raise ValueError(f"instance transfer needs a source for every target; none for {', '.join(missing)}")
        buffers = {s: read_replay(source_folder, s) for s in set(assignment.values())}
        instance_transfer(team, {t: buffers[assignment[t]] for t in roles}, instances)
    return team
