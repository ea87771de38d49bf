"""Gymnasium and PettingZoo environments over an in-process Emulation (pull mode), with action adapters.

Layout: an env class (`PointEnv` for one control point, `PointsParallelEnv` for several) holds the
Gymnasium / PettingZoo semantics — spaces, seeds, action adapters, episode ends — and talks to a
*driver* that owns the world: `EmulationDriver` here (an Emulation in this process) or
`bridge.remote.RemoteDriver` (an emulator process over ZeroMQ). Both drivers speak in
`emulator.control.Indication`s, so the same agent code sees the same spaces, observations, rewards
and episode flags in-process and remotely.

Episode mapping. An env step is one decision epoch of the agent's control point(s):
- `reset()` returns the observation of the first epoch of a fresh world; its reward (for the period
  before any agent acted) is dropped.
- `step(action)` puts the action in force for the next period, runs the world to the next epoch and
  returns that epoch's observation and reward (the reward of the period the action governed).
- `truncated` is the indication's own flag (the scenario's `episode_steps`), or true at the last
  epoch before the scenario's horizon (`duration`); `terminated` is the indication's flag. An
  episode of E epochs therefore gives E − 1 steps: the last epoch's observation is the final one.
- Every reset builds the world afresh inside the same process (`Emulation.reset(seed)`), with
  `seed` if given; `reset()` without a seed draws the world seed from the env's generator (seeded
  by the last explicit seed, or by the scenario seed), so a seeded sequence of episodes repeats
  exactly and unseeded episodes still differ from each other.

Action adapters. Some control points accept only constrained actions (slice shares must sum to 1;
a random sample from a Box will not). With `actions="adapted"` (default) the env exposes a space
that any sample of it is valid for and maps each action onto the point's constraint before
submitting (`SimplexActions`: x / sum(x), all-zero → equal split; `AssignmentActions`: the MEC core's
integer assignment as MultiDiscrete(M + 1) per device). With `actions="raw"` the env
exposes the point's own Box and submits actions unchanged; the point rejects invalid ones, the
previous action stays in force, and `info["rejected"]` carries the reason.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from emulator.config import Scenario, load_scenario
from emulator.control import Indication
from emulator.emulation import Emulation, PolicyDecider, Subsystem, horizon_bound
# Env constructors raise it for a bad scenario or override; agents catch it from here (they never import emulator).
from emulator.errors import RanemuError  # noqa: F401
from emulator.traces import Traces

REPO_ROOT = Path(__file__).resolve().parents[1]
# World seeds are drawn below this bound (the scenario's seed field allows 0 … 2**63 − 1).
SEED_BOUND = 2**63 - 1


# -- spaces and action adapters ---------------------------------------------------------------
def box_space(spec: Mapping[str, Any]) -> spaces.Box:
    """A gymnasium Box from a BoxSpec dict (`BoxSpec.to_dict()`, as in `describe()` and WELCOME)."""
    if spec.get("type", "box") != "box":
        raise ValueError(f"unsupported space type {spec.get('type')!r} (only 'box')")
    return spaces.Box(low=spec["low"], high=spec["high"], shape=tuple(int(n) for n in spec["shape"]),
                      dtype=np.dtype(spec.get("dtype", "float32")))


class ActionAdapter:
    """The agent-facing action space of a control point and the map onto the point's own action.

    This base class is the identity: the point's Box, actions passed unchanged (`actions="raw"`).
    """

    name = "raw"

    def __init__(self, spec: Mapping[str, Any]):
        self.point_space = box_space(spec)

    def space(self) -> spaces.Space:
        return self.point_space

    def to_point(self, action: Any) -> Any:
        return action


class SimplexActions(ActionAdapter):
    """Box(0, 1, (N,)) → shares on the simplex: x / sum(x); an all-zero action → equal split.

    Inputs it cannot map (wrong shape, NaN, negative entries) go to the point unchanged, so the
    point's rejection reason reaches `info["rejected"]` instead of being hidden by the adapter.
    """

    name = "simplex"

    def __init__(self, spec: Mapping[str, Any]):
        super().__init__(spec)
        self.shape = self.point_space.shape
        self.agent_space = spaces.Box(0.0, 1.0, self.shape, dtype=np.float32)

    def space(self) -> spaces.Space:
        return self.agent_space

    def to_point(self, action: Any) -> Any:
        try:
            x = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            return action
        if x.shape != self.shape or not np.all(np.isfinite(x)) or np.any(x < 0):
            return action
        total = x.sum()
        if total <= 0.0:
            return np.full(self.shape, 1.0 / x.size)
        return x / total


class AssignmentActions(ActionAdapter):
    """Box(0, M, (N,)) of integer choices (MEC core: 0 = local, j + 1 = server j) → MultiDiscrete.

    The agent picks one of M + 1 options per device; the env sends them as numbers. Continuous
    agents can use `actions="raw"` and round themselves (non-integers are rejected by the point).
    """

    name = "assignment"

    def __init__(self, spec: Mapping[str, Any]):
        super().__init__(spec)
        low, high = float(spec["low"]), float(spec["high"])
        if low != 0.0 or high != int(high) or high < 1:
            raise ValueError(f"an assignment space needs low 0 and an integer high >= 1, got [{low:g}, {high:g}]")
        self.agent_space = spaces.MultiDiscrete(np.full(self.point_space.shape, int(high) + 1, dtype=np.int64))

    def space(self) -> spaces.Space:
        return self.agent_space

    def to_point(self, action: Any) -> Any:
        arr = np.asarray(action)
        if arr.dtype.kind not in "iu":
            return action  # the point explains what is wrong with it
        return arr.astype(np.float64)


# Adapters applied with actions="adapted", by control-point kind; kinds not listed take actions raw
# (e.g. "offloading": per-device scores in [0, 1], any Box sample is valid).
ADAPTERS: dict[str, Callable[[Mapping[str, Any]], ActionAdapter]] = {
    "slice_partition": SimplexActions,
    "assignment": AssignmentActions,
}


def make_adapter(description: Mapping[str, Any], actions: str) -> ActionAdapter:
    """The adapter for one point (`describe()` dict) under `actions` = "adapted" or "raw"."""
    if actions not in ("adapted", "raw"):
        raise ValueError(f"actions must be 'adapted' or 'raw', got {actions!r}")
    factory = ADAPTERS.get(description["kind"], ActionAdapter) if actions == "adapted" else ActionAdapter
    return factory(description["action_space"])


# -- episode bookkeeping shared by drivers ----------------------------------------------------
def mark_horizon(ind: Indication, period: float, duration: float) -> Indication:
    """`ind` with `truncated` set when the point's next epoch would fall after the horizon."""
    if not ind.truncated and ind.time + period > horizon_bound(duration):
        return dataclasses.replace(ind, truncated=True)
    return ind


class Driver(Protocol):
    """What an env needs from a world, in process or over the wire."""

    points: list[str]
    base_seed: int
    end_reason: str  # why the last step() found no further epoch

    def describe(self) -> dict[str, dict]:
        """`ControlPoint.describe()` of each of `points`."""

    def reset(self, seed: int) -> dict[str, Indication]:
        """A fresh world with `seed`; the first epoch's indications of `points`."""

    def step(self, actions: Mapping[str, Any]) -> tuple[dict[str, Indication], dict[str, str]]:
        """Put `actions` in force (missing points: fallback); run to the next epoch of `points`.

        Returns that epoch's indications ({} when no epoch is left before the horizon) and
        {point: reason} for rejected actions.
        """

    def close(self) -> None: ...


class EmulationDriver:
    """An Emulation in pull mode in this process: `points` decide through the env, every other
    control point through its in-process policy (scenario `agents.policies`)."""

    def __init__(self, scenario: Scenario, points: Sequence[str] | None = None, kind: str | None = None,
                 subsystems: list[Callable[[Emulation], Subsystem]] | None = None,
                 run_dir: Path | None = None, keep_traces: bool = False):
        """Choose the env's points by name (`points`) or by control-point kind (`kind`).

        `keep_traces=False` (and no `run_dir`) drops each episode's trace rows at reset, so a long
        training run does not accumulate them in memory.
        """
        if (points is None) == (kind is None):
            raise ValueError("give exactly one of `points` (control point names) or `kind`")
        self.scenario = scenario
        self.base_seed = int(scenario.seed)
        self._want_points = list(points) if points is not None else None
        self._kind = kind
        self._subsystems = subsystems
        self._run_dir = run_dir
        self._keep_traces = keep_traces or run_dir is not None
        self._emu: Emulation | None = None
        self._others = PolicyDecider(scenario.agents.policies)
        self._points: list[str] | None = None
        self._pending: list[Indication] = []
        self.end_reason = "no further decision epoch before the horizon"

    @property
    def emulation(self) -> Emulation:
        """The Emulation, built on first use (spaces or reset), then reset in place per episode."""
        if self._emu is None:
            self._emu = Emulation(self.scenario, self._run_dir, pull=True, subsystems=self._subsystems)
        return self._emu

    @property
    def points(self) -> list[str]:
        if self._points is None:
            cps = self.emulation.control_points
            if self._want_points is not None:
                unknown = [p for p in self._want_points if p not in cps]
                if unknown:
                    raise ValueError(f"unknown control point(s) {', '.join(unknown)}; known: {', '.join(sorted(cps))}")
                chosen = list(self._want_points)
            else:
                chosen = [name for name, cp in cps.items() if cp.kind == self._kind]
                if not chosen:
                    kinds = sorted({cp.kind for cp in cps.values()})
                    raise ValueError(f"no control point of kind {self._kind!r}; kinds here: {', '.join(kinds)}")
            if not chosen:
                raise ValueError("an env needs at least one control point")
            self._points = chosen
        return self._points

    def describe(self) -> dict[str, dict]:
        cps = self.emulation.control_points
        return {p: cps[p].describe() for p in self.points}

    def reset(self, seed: int) -> dict[str, Indication]:
        emu = self.emulation
        if not self._keep_traces:
            emu.traces = Traces(None, emu.traces.flush_rows)
        # Always a reset, also of a world just built: episode counters then match a remote
        # emulator's, where every env reset is a RESET.
        emu.reset(int(seed))
        self._pending = []
        return self._advance()

    def step(self, actions: Mapping[str, Any]) -> tuple[dict[str, Indication], dict[str, str]]:
        emu = self.emulation
        mine = set(self.points)
        others = [ind for ind in self._pending if ind.point not in mine]
        submit = dict(self._others.decide(emu, others)) if others else {}
        submit.update({p: a for p, a in actions.items() if p in mine and a is not None})
        errors = emu.submit(submit)
        self._pending = []
        return self._advance(), {p: r for p, r in errors.items() if p in mine}

    def _advance(self) -> dict[str, Indication]:
        """Run to the next epoch that involves one of `points`; others decide by policy meanwhile."""
        emu = self.emulation
        mine = set(self.points)
        while True:
            inds = emu.advance()
            if not inds:
                return {}
            ours = {ind.point: ind for ind in inds if ind.point in mine}
            # Points whose epochs fall on the same instant may be raised by separate SimPy
            # processes, each pending on its own; collect them all so the agents decide together.
            while ours and len(ours) < len(mine) and emu.env.peek() == emu.env.now:
                emu.env.step()
                inds = emu.pending()
                ours = {ind.point: ind for ind in inds if ind.point in mine}
            if ours:
                self._pending = inds
                cps, duration = emu.control_points, emu.scenario.duration
                return {p: mark_horizon(ind, cps[p].decision_period, duration) for p, ind in ours.items()}
            emu.submit(self._others.decide(emu, inds))

    def close(self) -> None:
        if self._emu is not None:
            self._emu.close()


# -- the env classes ---------------------------------------------------------------------------
def _obs(ind: Indication, space: spaces.Box) -> np.ndarray:
    # A fresh array in the space's dtype: users keep what they are given.
    return np.array(ind.observation, dtype=space.dtype, copy=True).reshape(space.shape)


def _info(ind: Indication) -> dict[str, Any]:
    return {"step": int(ind.step), "time": float(ind.time), **ind.info}


class _Seeds:
    """World seeds per episode: the given seed, else the next draw of a generator seeded by the
    last given seed (or by the scenario seed before any was given)."""

    def __init__(self) -> None:
        self.rng: np.random.Generator | None = None
        self.rng_seed: int | None = None

    def next(self, seed: int | None, base_seed: int) -> int:
        if seed is None and self.rng is not None:
            return int(self.rng.integers(0, SEED_BOUND))
        first = int(base_seed if seed is None else seed)
        if first < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        self.rng, _ = seeding.np_random(first)
        self.rng_seed = first
        return first


class PointsParallelEnv(ParallelEnv):
    """PettingZoo parallel env: one agent per control point of the driver (all deciding together).

    Agents are named by their control point (e.g. `slice/cell3`). Use `EmulationParallelEnv` for a
    world in this process, `bridge.remote.RemoteParallelEnv` for one over ZeroMQ.
    """

    metadata = {"render_modes": [], "name": "ranemu_parallel_v0"}

    def __init__(self, driver: Driver, actions: str = "adapted"):
        self.driver = driver
        self.actions_mode = actions
        self._described: dict[str, dict] | None = None
        self.agents: list[str] = []
        self._seeds = _Seeds()
        self._last: dict[str, Indication] = {}
        self._done = True

    # Spaces come from the driver's descriptions, fetched once (building the world if needed).
    def _descriptions(self) -> dict[str, dict]:
        if self._described is None:
            described = self.driver.describe()
            periods = {d["decision_period"] for d in described.values()}
            if len(periods) > 1:
                raise ValueError("a parallel env needs points that decide together; decision periods differ: "
                                 + ", ".join(f"{p}={d['decision_period']:g} s" for p, d in described.items()))
            self._described = described
            self._adapters = {p: make_adapter(d, self.actions_mode) for p, d in described.items()}
            self._obs_spaces = {p: box_space(d["observation_space"]) for p, d in described.items()}
            self._act_spaces = {p: a.space() for p, a in self._adapters.items()}
        return self._described

    @property
    def possible_agents(self) -> list[str]:
        return list(self._descriptions())

    @property
    def observation_spaces(self) -> dict[str, spaces.Space]:
        self._descriptions()
        return dict(self._obs_spaces)

    @property
    def action_spaces(self) -> dict[str, spaces.Space]:
        self._descriptions()
        return dict(self._act_spaces)

    def observation_space(self, agent: str) -> spaces.Space:
        self._descriptions()
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        self._descriptions()
        return self._act_spaces[agent]

    def describe(self, agent: str) -> dict:
        """The control point behind `agent` as the emulator advertises it (kind, spaces, period)."""
        return dict(self._descriptions()[agent])

    def reset(self, seed: int | None = None, options: dict | None = None):
        """A fresh world (see module docs for seeds); `options` are accepted and none are defined."""
        self._descriptions()
        return self._start(self._seeds.next(seed, self.driver.base_seed))

    def _start(self, world_seed: int):
        inds = self.driver.reset(world_seed)
        missing = [p for p in self.possible_agents if p not in inds]
        if missing:
            raise RuntimeError(f"the first decision epoch did not include {', '.join(missing)}")
        self._last = dict(inds)
        self.agents = list(self.possible_agents)
        self._done = False
        return ({p: _obs(inds[p], self._obs_spaces[p]) for p in self.agents},
                {p: _info(inds[p]) for p in self.agents})

    def step(self, actions: Mapping[str, Any]):
        if self._done or not self.agents:
            raise RuntimeError("the episode is over; call reset() before step()")
        unknown = [p for p in actions if p not in self.agents]
        if unknown:
            raise KeyError(f"actions for agents not in play: {', '.join(map(str, unknown))}")
        submit = {p: self._adapters[p].to_point(a) for p, a in actions.items()}
        inds, errors = self.driver.step(submit)
        live = list(self.agents)
        obs, rew, term, trunc, info = {}, {}, {}, {}, {}
        if not inds:
            # The world ran out of epochs before the horizon flag could be set (a point whose epochs
            # end early, or a remote run that was ended): the episode ends with the last
            # observation and nothing earned since.
            for p in live:
                obs[p] = _obs(self._last[p], self._obs_spaces[p])
                rew[p], term[p], trunc[p] = 0.0, False, True
                info[p] = {**_info(self._last[p]), "end": self.driver.end_reason}
        else:
            missing = [p for p in live if p not in inds]
            if missing:
                raise RuntimeError(f"decision epoch at t={next(iter(inds.values())).time:g} s lacks "
                                   f"{', '.join(missing)}: agents of one parallel env must decide together")
            for p in live:
                ind = inds[p]
                self._last[p] = ind
                obs[p] = _obs(ind, self._obs_spaces[p])
                rew[p] = float(ind.reward)
                term[p], trunc[p] = bool(ind.terminated), bool(ind.truncated)
                info[p] = _info(ind)
        for p, reason in errors.items():
            if p in info:
                info[p]["rejected"] = reason
        self.agents = [p for p in live if not (term[p] or trunc[p])]
        self._done = not self.agents
        return obs, rew, term, trunc, info

    def render(self) -> None:
        return None

    def close(self) -> None:
        self.driver.close()


class PointEnv(gymnasium.Env):
    """Gymnasium env for one control point; every other point follows its in-process policy.

    Use `EmulationEnv` for a world in this process, `bridge.remote.RemoteEnv` for one over ZeroMQ.
    """

    metadata = {"render_modes": []}

    def __init__(self, driver: Driver, point: str, actions: str = "adapted"):
        self._par = PointsParallelEnv(driver, actions)
        self.point = point
        self.render_mode = None

    def _check_point(self) -> None:
        if self._par.possible_agents != [self.point]:
            raise ValueError(f"driver serves {self._par.possible_agents}, expected [{self.point!r}]")

    @property
    def driver(self) -> Driver:
        return self._par.driver

    @property
    def observation_space(self) -> spaces.Space:
        return self._par.observation_space(self.point)

    @property
    def action_space(self) -> spaces.Space:
        return self._par.action_space(self.point)

    def describe(self) -> dict:
        return self._par.describe(self.point)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """A fresh world (see module docs for seeds); `options` are accepted and none are defined."""
        self._check_point()
        seeds = self._par._seeds
        world_seed = seeds.next(seed, self.driver.base_seed)
        # gymnasium's np_random is the generator that draws the unseeded episodes' world seeds.
        self._np_random, self._np_random_seed = seeds.rng, seeds.rng_seed
        obs, info = self._par._start(world_seed)
        return obs[self.point], info[self.point]

    def step(self, action: Any):
        obs, rew, term, trunc, info = self._par.step({self.point: action})
        p = self.point
        return obs[p], rew[p], term[p], trunc[p], info[p]

    def close(self) -> None:
        self._par.close()


# -- in-process constructors -------------------------------------------------------------------
def _scenario(scenario: Scenario | str | Path, overrides: Mapping[str, Any] | None) -> Scenario:
    if isinstance(scenario, Scenario):
        if overrides:
            raise ValueError("overrides apply to a scenario file; pass a path, or change the Scenario object")
        return scenario
    path = Path(scenario)
    if not path.exists() and not path.is_absolute() and (REPO_ROOT / path).exists():
        path = REPO_ROOT / path  # bundled scenarios resolve from the source tree too
    return load_scenario(path, dict(overrides or {}))


class EmulationParallelEnv(PointsParallelEnv):
    """PettingZoo parallel env over an Emulation in this process.

    `scenario`: a Scenario, or a file path with dotted `overrides` ({"ran.num_ues": 30, "seed": 3}).
    Agents: the points of `kind` (e.g. "slice_partition": one agent per cell) or the named `points`.
    """

    def __init__(self, scenario: Scenario | str | Path, *, kind: str | None = None,
                 points: Sequence[str] | None = None, actions: str = "adapted",
                 overrides: Mapping[str, Any] | None = None,
                 subsystems: list[Callable[[Emulation], Subsystem]] | None = None,
                 run_dir: Path | None = None, keep_traces: bool = False):
        driver = EmulationDriver(_scenario(scenario, overrides), points=points, kind=kind,
                                 subsystems=subsystems, run_dir=run_dir, keep_traces=keep_traces)
        super().__init__(driver, actions)

    @property
    def emulation(self) -> Emulation:
        return self.driver.emulation


class EmulationEnv(PointEnv):
    """Gymnasium env for the control point `point` of an Emulation in this process."""

    def __init__(self, scenario: Scenario | str | Path, point: str, *, actions: str = "adapted",
                 overrides: Mapping[str, Any] | None = None,
                 subsystems: list[Callable[[Emulation], Subsystem]] | None = None,
                 run_dir: Path | None = None, keep_traces: bool = False):
        driver = EmulationDriver(_scenario(scenario, overrides), points=[point], subsystems=subsystems,
                                 run_dir=run_dir, keep_traces=keep_traces)
        super().__init__(driver, point, actions)

    @property
    def emulation(self) -> Emulation:
        return self.driver.emulation


# -- the paper scenarios -----------------------------------------------------------------------
# Keyword arguments other than the env options are scenario overrides: top-level fields
# (seed=3, duration=20, episode_steps=10) or dotted paths via a dict, **{"ran.decision_period_s": 0.5}.
SLICING_SCENARIO = "scenarios/slicing-12cell.yaml"
MEC_SCENARIO = "scenarios/mec-dirs.yaml"


def slicing_parallel_env(path: str | Path = SLICING_SCENARIO, *, actions: str = "adapted",
                         keep_traces: bool = False, run_dir: Path | None = None,
                         **overrides: Any) -> EmulationParallelEnv:
    """Inter-cell inter-slice PRB partitioning: one agent per cell (`slice/cell{k}`), shares via
    the simplex adapter (Box(0, 1, (slices,)) → shares summing to 1)."""
    return EmulationParallelEnv(path, kind="slice_partition", actions=actions, overrides=overrides,
                                keep_traces=keep_traces, run_dir=run_dir)


def cell_env(cell: int = 0, path: str | Path = SLICING_SCENARIO, *, actions: str = "adapted",
             keep_traces: bool = False, run_dir: Path | None = None, **overrides: Any) -> EmulationEnv:
    """One cell's slice partition as a Gymnasium env; the other cells follow the scenario's policy
    (`agents.policies.slice_partition`, traffic-aware in the paper scenario)."""
    return EmulationEnv(path, f"slice/cell{int(cell)}", actions=actions, overrides=overrides,
                        keep_traces=keep_traces, run_dir=run_dir)


def offloading_env(path: str | Path = MEC_SCENARIO, *, actions: str = "adapted", keep_traces: bool = False,
                   run_dir: Path | None = None, **overrides: Any) -> EmulationEnv:
    """MEC task offloading at the core MEC (`mec/core`, `mec.control: core`): one decision per
    device and epoch, MultiDiscrete(M + 1) per device (0 = local, j + 1 = server j)."""
    return EmulationEnv(path, "mec/core", actions=actions, overrides={"mec.control": "core", **overrides},
                        keep_traces=keep_traces, run_dir=run_dir)


def offloading_parallel_env(path: str | Path = MEC_SCENARIO, *, actions: str = "adapted",
                            keep_traces: bool = False, run_dir: Path | None = None,
                            **overrides: Any) -> EmulationParallelEnv:
    """MEC task offloading as the paper's per-server agents (`mec/server{j}`, `mec.control:
    servers`): each scores every device in [0, 1]; the emulator combines the scores by max vote."""
    return EmulationParallelEnv(path, kind="offloading", actions=actions,
                                overrides={"mec.control": "servers", **overrides},
                                keep_traces=keep_traces, run_dir=run_dir)


# gymnasium.make ids (after `import bridge.envs`); keyword arguments go to the constructors above.
GYM_IDS = {"ranemu/SliceCell-v0": "bridge.envs:cell_env", "ranemu/MecOffloading-v0": "bridge.envs:offloading_env"}
for _id, _entry in GYM_IDS.items():
    if _id not in gymnasium.registry:
        gymnasium.register(id=_id, entry_point=_entry)
