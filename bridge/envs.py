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
a random sample from a Box will not). Three modes choose the space the agent sees:
- `actions="normalized"` (the default of `cell_env` and `ranemu/SliceCell-v0`, the envs new users
  meet first): a symmetric Box(-1, 1) for every continuous point, as SB3, RLlib and CleanRL expect
  (`SoftmaxShares`: shares = softmax(3 x), x = 0 → equal split; `RoundedAssignment`: the MEC core's
  choice per device, equal intervals of [-1, 1]; `AffineActions`: [-1, 1] → the point's [low, high]).
- `actions="adapted"` (the default of the env classes, of the parallel constructors — `agents.td3`
  learns on it — and of `offloading_env`): any sample of the space is valid (`SimplexActions`:
  Box(0, 1), x / sum(x), all-zero → equal split; `AssignmentActions`: MultiDiscrete(M + 1) per device).
- `actions="raw"`: the point's own Box, actions submitted unchanged; the point rejects invalid ones,
  the previous action stays in force, and `info["rejected"]` carries the reason.

Observations: `observations="box"` gives the point's own Box; `observations="flat"` its 1-D
reshape (same bounds), for libraries that accept only 1-D Boxes (RLlib's default models, SB3's
MlpPolicy on the MEC envs).

Ecosystem defaults: `render_mode=None | "rgb_array"` (an RGB map of the world, in-process envs
only; see bridge.render); scenario overrides go in `overrides={"path.to.field": value}`, never as
loose keywords; an in-process env pickles as a fresh env with the same construction (what SuperSuit
and SB3's subprocess vectorisers need). Agent ids with a `/` are the protocol's role names; the
PettingZoo wrapper `bridge.wrappers.SafeAgentIds` maps them to `slice_cell3` for RLlib and others.
"""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from emulator.config import Scenario, load_scenario
from bridge.bundled import resolve_scenario
from emulator.control import Indication
from emulator.emulation import Emulation, PolicyDecider, Subsystem, horizon_bound
# Env constructors raise it for a bad scenario or override; agents catch it from here (they never import emulator).
from emulator.errors import RanemuError  # noqa: F401
from emulator.traces import Traces

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


def _symmetric(shape: tuple[int, ...]) -> spaces.Box:
    return spaces.Box(-1.0, 1.0, shape, dtype=np.float32)


def _unit(action: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """`action` as float64 clipped to [-1, 1], or None when it cannot be one of `shape` (NaN, shape)."""
    try:
        x = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if x.shape != shape or not np.all(np.isfinite(x)):
        return None
    return np.clip(x, -1.0, 1.0)


# Logit scale of the softmax share map: with x in [-1, 1] one slice's share spans
# 1 / (1 + (N − 1) e^6) … 1 / (1 + (N − 1) e^-6), i.e. 0.08 % … 99.3 % for N = 4 — every useful
# partition is reachable, and a policy's initial mean x = 0 is the equal split.
SOFTMAX_SCALE = 3.0


class SoftmaxShares(ActionAdapter):
    """Box(-1, 1, (N,)) → shares softmax(3 x) (sum 1, all > 0); the symmetric space SB3 asks for.

    Out-of-range entries are clipped to [-1, 1] first (as SB3 clips a Gaussian sample); NaN or a
    wrong shape goes to the point unchanged so its rejection reason reaches `info["rejected"]`.
    """

    name = "softmax"

    def __init__(self, spec: Mapping[str, Any]):
        super().__init__(spec)
        self.shape = self.point_space.shape
        self.agent_space = _symmetric(self.shape)

    def space(self) -> spaces.Space:
        return self.agent_space

    def to_point(self, action: Any) -> Any:
        x = _unit(action, self.shape)
        if x is None:
            return action
        z = np.exp(SOFTMAX_SCALE * (x - x.max()))
        return z / z.sum()


class RoundedAssignment(ActionAdapter):
    """Box(-1, 1, (N,)) → the MEC core's integer choice per device: min(⌊(x + 1) / 2 · (M + 1)⌋, M).

    The continuous mode for TD3/SAC/DDPG-style agents: every action is valid (0 = local, j + 1 =
    server j); the M + 1 choices split [-1, 1] into equal intervals, x = -1 → local, x = 1 → the
    last server. NaN or a wrong shape goes to the point unchanged.
    """

    name = "rounded"

    def __init__(self, spec: Mapping[str, Any]):
        super().__init__(spec)
        low, high = float(spec["low"]), float(spec["high"])
        if low != 0.0 or high != int(high) or high < 1:
            raise ValueError(f"an assignment space needs low 0 and an integer high >= 1, got [{low:g}, {high:g}]")
        self.shape, self.high = self.point_space.shape, int(high)
        self.agent_space = _symmetric(self.shape)

    def space(self) -> spaces.Space:
        return self.agent_space

    def to_point(self, action: Any) -> Any:
        x = _unit(action, self.shape)
        if x is None:
            return action
        return np.minimum(np.floor((x + 1.0) * 0.5 * (self.high + 1)), self.high)


class AffineActions(ActionAdapter):
    """Box(-1, 1) → the point's Box [low, high] by the affine map low + (x + 1) / 2 · (high − low)."""

    name = "affine"

    def __init__(self, spec: Mapping[str, Any]):
        super().__init__(spec)
        self.shape = self.point_space.shape
        self.agent_space = _symmetric(self.shape)
        self._low = self.point_space.low.astype(np.float64)
        self._span = self.point_space.high.astype(np.float64) - self._low

    def space(self) -> spaces.Space:
        return self.agent_space

    def to_point(self, action: Any) -> Any:
        x = _unit(action, self.shape)
        if x is None:
            return action
        return self._low + (x + 1.0) * 0.5 * self._span


# Adapters per mode, by control-point kind. "adapted": kinds not listed take actions raw (e.g.
# "offloading": per-device scores in [0, 1], any Box sample is valid); "normalized": kinds not listed
# get the affine map of their Box onto [-1, 1].
ADAPTERS: dict[str, Callable[[Mapping[str, Any]], ActionAdapter]] = {
    "slice_partition": SimplexActions,
    "assignment": AssignmentActions,
}
NORMALIZED_ADAPTERS: dict[str, Callable[[Mapping[str, Any]], ActionAdapter]] = {
    "slice_partition": SoftmaxShares,
    "assignment": RoundedAssignment,
}
ACTION_MODES = ("normalized", "adapted", "raw")


def make_adapter(description: Mapping[str, Any], actions: str) -> ActionAdapter:
    """The adapter for one point (`describe()` dict) under `actions` = "normalized", "adapted" or "raw"."""
    if actions not in ACTION_MODES:
        raise ValueError(f"actions must be one of {', '.join(map(repr, ACTION_MODES))}, got {actions!r}")
    if actions == "adapted":
        factory = ADAPTERS.get(description["kind"], ActionAdapter)
    elif actions == "normalized":
        factory = NORMALIZED_ADAPTERS.get(description["kind"], AffineActions)
    else:
        factory = ActionAdapter
    return factory(description["action_space"])


OBSERVATION_MODES = ("box", "flat")


def observation_space(spec: Mapping[str, Any], observations: str = "box") -> spaces.Box:
    """The agent-facing observation Box of a point: its own (`"box"`) or its 1-D reshape (`"flat"`)."""
    if observations not in OBSERVATION_MODES:
        raise ValueError(f"observations must be 'box' or 'flat', got {observations!r}")
    space = box_space(spec)
    if observations == "flat" and len(space.shape) != 1:
        space = spaces.Box(space.low.reshape(-1), space.high.reshape(-1), dtype=space.dtype)
    return space


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

    def render(self, mode: str) -> np.ndarray:
        """An image of the world for render mode `mode` (drivers that cannot: never asked)."""

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

    def render(self, mode: str) -> np.ndarray:
        from bridge.render import render_frame

        return render_frame(self.emulation)

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


def _check_render_mode(render_mode: str | None, modes: Sequence[str]) -> str | None:
    if render_mode is not None and render_mode not in modes:
        known = ", ".join(map(repr, modes)) if modes else "none (this env does not render)"
        raise ValueError(f"render_mode {render_mode!r} is not supported; supported: {known}")
    return render_mode


class PointsParallelEnv(ParallelEnv):
    """PettingZoo parallel env: one agent per control point of the driver (all deciding together).

    Agents are named by their control point (e.g. `slice/cell3`; `bridge.wrappers.SafeAgentIds` maps
    them to ids without `/`). Use `EmulationParallelEnv` for a world in this process,
    `bridge.remote.RemoteParallelEnv` for one over ZeroMQ. `actions`, `observations`: see the module
    docs; `render_mode`: None or one of `metadata["render_modes"]`.
    """

    metadata = {"render_modes": [], "name": "ranemu_parallel_v0"}

    def __init__(self, driver: Driver, actions: str = "adapted", observations: str = "box",
                 render_mode: str | None = None):
        if actions not in ACTION_MODES:
            raise ValueError(f"actions must be one of {', '.join(map(repr, ACTION_MODES))}, got {actions!r}")
        if observations not in OBSERVATION_MODES:
            raise ValueError(f"observations must be 'box' or 'flat', got {observations!r}")
        self.render_mode = _check_render_mode(render_mode, self.metadata["render_modes"])
        self.driver = driver
        self.actions_mode = actions
        self.observations_mode = observations
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
            self._obs_spaces = {p: observation_space(d["observation_space"], self.observations_mode)
                                for p, d in described.items()}
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

    def render(self) -> np.ndarray | None:
        """With render_mode "rgb_array": an (H, W, 3) uint8 image of the world now (bridge.render)."""
        if self.render_mode is None:
            return None
        return self.driver.render(self.render_mode)

    def close(self) -> None:
        self.driver.close()


class PointEnv(gymnasium.Env):
    """Gymnasium env for one control point; every other point follows its in-process policy.

    Use `EmulationEnv` for a world in this process, `bridge.remote.RemoteEnv` for one over ZeroMQ.
    """

    metadata = {"render_modes": []}

    def __init__(self, driver: Driver, point: str, actions: str = "adapted", observations: str = "box",
                 render_mode: str | None = None):
        self.render_mode = _check_render_mode(render_mode, self.metadata["render_modes"])
        self._par = PointsParallelEnv(driver, actions, observations)
        self._par.render_mode = self.render_mode
        self.point = point

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

    def render(self) -> np.ndarray | None:
        """With render_mode "rgb_array": an (H, W, 3) uint8 image of the world now (bridge.render)."""
        return self._par.render()

    def close(self) -> None:
        self._par.close()


# -- in-process constructors -------------------------------------------------------------------
def _scenario(scenario: Scenario | str | Path, overrides: Mapping[str, Any] | None) -> Scenario:
    if isinstance(scenario, Scenario):
        if overrides:
            raise ValueError("overrides apply to a scenario file; pass a path, or change the Scenario object")
        return scenario
    return load_scenario(resolve_scenario(scenario), dict(overrides or {}))


def _rebuild(cls: type, args: tuple, kwargs: dict) -> Any:
    return cls(*args, **kwargs)


class _FreshPickle:
    """Pickles as the constructor call that made it: unpickling builds a fresh env (no world, no
    episode state). What multi-process vectorisers (SB3 SubprocVecEnv, SuperSuit) need; the world
    itself (SimPy generators, numba state) does not pickle and would not be worth shipping."""

    _ctor: tuple[tuple, dict]

    def __reduce__(self):
        args, kwargs = self._ctor
        return _rebuild, (type(self), args, kwargs)


class EmulationParallelEnv(_FreshPickle, PointsParallelEnv):
    """PettingZoo parallel env over an Emulation in this process.

    `scenario`: a Scenario, or a file path (or a bundled scenario's name, see
    `bridge.bundled.resolve_scenario`) with dotted `overrides` ({"ran.num_ues": 30, "seed": 3}).
    Agents: the points of `kind` (e.g. "slice_partition": one agent per cell) or the named `points`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 1, "name": "ranemu_parallel_v0"}

    def __init__(self, scenario: Scenario | str | Path, *, kind: str | None = None,
                 points: Sequence[str] | None = None, actions: str = "adapted", observations: str = "box",
                 overrides: Mapping[str, Any] | None = None, render_mode: str | None = None,
                 subsystems: list[Callable[[Emulation], Subsystem]] | None = None,
                 run_dir: Path | None = None, keep_traces: bool = False):
        self._ctor = ((scenario,), dict(kind=kind, points=points, actions=actions, observations=observations,
                                        overrides=overrides, render_mode=render_mode, subsystems=subsystems,
                                        run_dir=run_dir, keep_traces=keep_traces))
        driver = EmulationDriver(_scenario(scenario, overrides), points=points, kind=kind,
                                 subsystems=subsystems, run_dir=run_dir, keep_traces=keep_traces)
        super().__init__(driver, actions, observations, render_mode)

    @property
    def emulation(self) -> Emulation:
        return self.driver.emulation


class EmulationEnv(_FreshPickle, PointEnv):
    """Gymnasium env for the control point `point` of an Emulation in this process."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 1}

    def __init__(self, scenario: Scenario | str | Path, point: str, *, actions: str = "adapted",
                 observations: str = "box", overrides: Mapping[str, Any] | None = None,
                 render_mode: str | None = None,
                 subsystems: list[Callable[[Emulation], Subsystem]] | None = None,
                 run_dir: Path | None = None, keep_traces: bool = False):
        self._ctor = ((scenario, point), dict(actions=actions, observations=observations, overrides=overrides,
                                              render_mode=render_mode, subsystems=subsystems, run_dir=run_dir,
                                              keep_traces=keep_traces))
        driver = EmulationDriver(_scenario(scenario, overrides), points=[point], subsystems=subsystems,
                                 run_dir=run_dir, keep_traces=keep_traces)
        super().__init__(driver, point, actions, observations, render_mode)

    @property
    def emulation(self) -> Emulation:
        return self.driver.emulation


# -- the paper scenarios -----------------------------------------------------------------------
# Scenario overrides go in `overrides=` as {dotted path: value}: {"duration": 20, "episode_steps": 10,
# "ran.decision_period_s": 0.5}. Loose keyword overrides (duration=20) are still accepted for old
# call sites, with a DeprecationWarning: a keyword that is an env option elsewhere (render_mode) must
# never be read as a scenario field.
SLICING_SCENARIO = "scenarios/slicing-12cell.yaml"
MEC_SCENARIO = "scenarios/mec-dirs.yaml"


def _merge(overrides: Mapping[str, Any] | None, legacy: Mapping[str, Any], where: str) -> dict[str, Any]:
    if legacy:
        warnings.warn(f"{where}: scenario overrides as keywords ({', '.join(legacy)}) are deprecated; "
                      f"pass overrides={{...}}", DeprecationWarning, stacklevel=3)
    return {**(overrides or {}), **legacy}


def slicing_parallel_env(path: str | Path = SLICING_SCENARIO, *, actions: str = "adapted",
                         observations: str = "box", overrides: Mapping[str, Any] | None = None,
                         render_mode: str | None = None, keep_traces: bool = False,
                         run_dir: Path | None = None, **legacy_overrides: Any) -> EmulationParallelEnv:
    """Inter-cell inter-slice PRB partitioning: one agent per cell (`slice/cell{k}`).

    Actions: "adapted" (default, what agents.td3 learns on): Box(0, 1, (slices,)) → shares x / sum(x);
    "normalized": Box(-1, 1) → softmax shares (SB3/RLlib/CleanRL); "raw". For RLlib and other
    libraries that refuse `/` in agent ids, wrap with `bridge.wrappers.SafeAgentIds`.
    """
    return EmulationParallelEnv(path, kind="slice_partition", actions=actions, observations=observations,
                                overrides=_merge(overrides, legacy_overrides, "slicing_parallel_env"),
                                render_mode=render_mode, keep_traces=keep_traces, run_dir=run_dir)


def cell_env(cell: int = 0, path: str | Path = SLICING_SCENARIO, *, actions: str = "normalized",
             observations: str = "box", overrides: Mapping[str, Any] | None = None,
             render_mode: str | None = None, keep_traces: bool = False, run_dir: Path | None = None,
             **legacy_overrides: Any) -> EmulationEnv:
    """One cell's slice partition as a Gymnasium env (`ranemu/SliceCell-v0`); the other cells follow
    the scenario's policy (`agents.policies.slice_partition`, traffic-aware in the paper scenario).

    ## Observation Space
    Box(0, 10, (4N,)) float32 (N slices): per slice throughput / requirement, load, active users /
    group size, then the neighbour cells' mean load per slice (paper eq. 5); see SlicePartitionPoint.
    ## Action Space
    "normalized" (default): Box(-1, 1, (N,)) → shares softmax(3 x); "adapted": Box(0, 1) → x / sum(x);
    "raw": shares that must sum to 1.
    ## Reward
    The cell's minimum slice satisfaction over the period the action governed, in [0, 1].
    ## Episode End
    Truncated at the scenario's `episode_steps` or at the last epoch before `duration`.
    """
    return EmulationEnv(path, f"slice/cell{int(cell)}", actions=actions, observations=observations,
                        overrides=_merge(overrides, legacy_overrides, "cell_env"), render_mode=render_mode,
                        keep_traces=keep_traces, run_dir=run_dir)


def offloading_env(path: str | Path = MEC_SCENARIO, *, actions: str = "adapted", observations: str = "box",
                   overrides: Mapping[str, Any] | None = None, render_mode: str | None = None,
                   keep_traces: bool = False, run_dir: Path | None = None,
                   **legacy_overrides: Any) -> EmulationEnv:
    """MEC task offloading at the core MEC (`mec/core`, `mec.control: core`; `ranemu/MecOffloading-v0`).

    ## Observation Space
    Box((D, 3M + 2)) float32 per device and server (see CoreAssignmentPoint);
    `observations="flat"` gives its 1-D reshape.
    ## Action Space
    "adapted" (default): MultiDiscrete(M + 1) per device (0 = local, j + 1 = server j);
    "normalized": Box(-1, 1, (D,)) rounded to a choice per device (TD3, SAC); "raw": Box(0, M)
    of integers.
    ## Reward
    1 / objective of the decided batch (paper V-C(3)).
    ## Episode End
    Truncated at the scenario's `episode_steps` or at the last epoch before `duration`.
    """
    merged = {"mec.control": "core", **_merge(overrides, legacy_overrides, "offloading_env")}
    return EmulationEnv(path, "mec/core", actions=actions, observations=observations, overrides=merged,
                        render_mode=render_mode, keep_traces=keep_traces, run_dir=run_dir)


def offloading_parallel_env(path: str | Path = MEC_SCENARIO, *, actions: str = "adapted",
                            observations: str = "box", overrides: Mapping[str, Any] | None = None,
                            render_mode: str | None = None, keep_traces: bool = False,
                            run_dir: Path | None = None, **legacy_overrides: Any) -> EmulationParallelEnv:
    """MEC task offloading as the paper's per-server agents (`mec/server{j}`, `mec.control:
    servers`): each scores every device in [0, 1]; the emulator combines the scores by max vote."""
    merged = {"mec.control": "servers", **_merge(overrides, legacy_overrides, "offloading_parallel_env")}
    return EmulationParallelEnv(path, kind="offloading", actions=actions, observations=observations,
                                overrides=merged, render_mode=render_mode, keep_traces=keep_traces,
                                run_dir=run_dir)


# gymnasium.make ids (after `import bridge.envs`, or automatically through the `gymnasium.envs`
# entry point); keyword arguments go to the constructors above, e.g.
# gymnasium.make("ranemu/SliceCell-v0", cell=3, overrides={"duration": 60}, render_mode="rgb_array").
GYM_IDS = {"ranemu/SliceCell-v0": "bridge.envs:cell_env", "ranemu/MecOffloading-v0": "bridge.envs:offloading_env"}


def register_envs() -> None:
    """Register GYM_IDS with gymnasium (idempotent)."""
    for _id, _entry in GYM_IDS.items():
        if _id not in gymnasium.registry:
            gymnasium.register(id=_id, entry_point=_entry)


register_envs()
