"""Wrappers that fit ranemu's envs to RL libraries' expectations (agent ids, PettingZoo → RLlib).

- `SafeAgentIds(parallel_env)`: the same PettingZoo parallel env with agent ids that every library
  accepts — `slice/cell3` → `slice_cell3` (RLlib refuses `/` in policy ids; file-system-based
  loggers split on it). The protocol's role names stay what the emulator and `describe()` use.
- `safe_id(role)` / `SafeAgentIds.role(agent)`: the mapping both ways.

Action and observation mappings (symmetric Box(-1, 1), softmax shares, rounded MEC choices, flat
observations) are env options (`actions=`, `observations=` in bridge.envs), so they apply alike
in-process and over ZeroMQ; Gymnasium's own wrappers (FlattenObservation, RecordEpisodeStatistics,
NormalizeObservation …) compose on top of the single-agent envs as usual.
"""
from __future__ import annotations

from typing import Any, Mapping

from pettingzoo import ParallelEnv


def safe_id(role: str) -> str:
    """An agent id without `/` (nor other path separators): `slice/cell3` → `slice_cell3`."""
    return role.replace("/", "_").replace("\\", "_")


class SafeAgentIds(ParallelEnv):
    """A PettingZoo parallel env with agent ids mapped by `safe_id`; everything else passes through.

    Raises ValueError when two roles map to the same id. Pickles when the wrapped env does (the
    in-process envs pickle as fresh envs).
    """

    def __init__(self, env: ParallelEnv):
        self.env = env
        roles = list(env.possible_agents)
        self._to_id = {r: safe_id(r) for r in roles}
        if len(set(self._to_id.values())) != len(roles):
            raise ValueError(f"agent ids collide after mapping: {sorted(self._to_id.values())}")
        self._to_role = {a: r for r, a in self._to_id.items()}
        self.possible_agents = [self._to_id[r] for r in roles]
        self.metadata = dict(getattr(env, "metadata", {}))
        self.render_mode = getattr(env, "render_mode", None)

    def role(self, agent: str) -> str:
        """The control point (protocol role) behind `agent`."""
        return self._to_role[agent]

    def _ids(self, d: Mapping[str, Any]) -> dict[str, Any]:
        return {self._to_id[r]: v for r, v in d.items()}

    @property
    def agents(self) -> list[str]:
        return [self._to_id[r] for r in self.env.agents]

    @property
    def observation_spaces(self) -> dict:
        return {a: self.observation_space(a) for a in self.possible_agents}

    @property
    def action_spaces(self) -> dict:
        return {a: self.action_space(a) for a in self.possible_agents}

    def observation_space(self, agent: str):
        return self.env.observation_space(self._to_role[agent])

    def action_space(self, agent: str):
        return self.env.action_space(self._to_role[agent])

    def describe(self, agent: str) -> dict:
        return self.env.describe(self._to_role[agent])

    def reset(self, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self._ids(obs), self._ids(info)

    def step(self, actions: Mapping[str, Any]):
        unknown = [a for a in actions if a not in self._to_role]
        if unknown:
            raise KeyError(f"actions for unknown agents: {', '.join(map(str, unknown))}")
        out = self.env.step({self._to_role[a]: act for a, act in actions.items()})
        return tuple(self._ids(d) for d in out)

    def render(self):
        return self.env.render()

    def state(self):
        return self.env.state()

    def close(self) -> None:
        self.env.close()

    @property
    def unwrapped(self) -> ParallelEnv:
        return self.env.unwrapped
