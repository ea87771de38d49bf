"""Control points: what an agent may observe and set, with validation, a default action and a reward."""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from emulator.errors import ActionError


# Largest finite float: bounds are clamped to it so one comparison also rejects NaN and infinity.
_FINITE_MAX = float(np.finfo(np.float64).max)
# Up to this many values a Python pass over a list beats numpy's fixed cost per reduction (~1 us).
_SMALL_ACTION = 64


def _within(arr: np.ndarray, low: float, high: float) -> bool:
    """All values finite and in [low, high] (NaN fails every comparison, so it fails here too)."""
    lo, hi = max(low, -_FINITE_MAX), min(high, _FINITE_MAX)
    if arr.size <= _SMALL_ACTION:
        return all(lo <= v <= hi for v in arr.ravel().tolist())
    return bool(arr.min() >= lo and arr.max() <= hi)


@dataclass(frozen=True)
class BoxSpec:
    """A bounded float/int array space (maps 1:1 to gymnasium.spaces.Box)."""

    shape: tuple[int, ...]
    low: float
    high: float
    dtype: str = "float32"

    def to_dict(self) -> dict:
        return {"type": "box", "shape": list(self.shape), "low": self.low, "high": self.high, "dtype": self.dtype}


@dataclass
class Indication:
    """What a control point reports at a decision epoch (E2-like INDICATION)."""

    point: str
    step: int
    time: float
    observation: np.ndarray
    reward: float
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = field(default_factory=dict)


Policy = Callable[[Indication], np.ndarray]


class ControlPoint(ABC):
    """Emulator-side object an agent binds to (e.g. the slice partition of cell k).

    Subclasses implement `observe`, `reward`, `check` (kind-specific validation) and `_apply`.
    The base class keeps the action in force, counts fallbacks, invalid and stale actions, and
    offers named built-in policies (baselines) for in-process use.
    """

    kind: str = "generic"

    def __init__(self, name: str, observation_space: BoxSpec, action_space: BoxSpec, decision_period: float):
        self.name = name
        self.observation_space = observation_space
        self.action_space = action_space
        self.decision_period = float(decision_period)
        self.current_action: np.ndarray = self.default_action()
        self.counters = {"decisions": 0, "applied": 0, "fallbacks": 0, "invalid": 0, "stale": 0}
        self.policies: dict[str, Policy] = {"default": lambda ind: self.default_action()}

    # -- to implement --------------------------------------------------------------------------
    @abstractmethod
    def observe(self) -> np.ndarray: ...

    @abstractmethod
    def reward(self) -> float: ...

    @abstractmethod
    def default_action(self) -> np.ndarray: ...

    def check(self, action: np.ndarray) -> None:
        """Kind-specific validation beyond shape/finiteness/bounds; raise ValueError(reason)."""

    def _apply(self, action: np.ndarray) -> None:
        """Make `action` take effect in the emulated world (called after validation)."""

    def info(self) -> dict[str, Any]:
        """Extra, non-observation data (e.g. true demand for the perfect-knowledge baseline)."""
        return {}

    # -- shared machinery ----------------------------------------------------------------------
    def indication(self, step: int, time: float, terminated: bool = False, truncated: bool = False) -> Indication:
        return Indication(self.name, step, time, self.observe(), float(self.reward()), terminated, truncated, self.info())

    def validate(self, action: Any) -> np.ndarray:
        """Return `action` as a clean array or raise ActionError with a reason a person can act on."""
        spec = self.action_space
        try:
            arr = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError):
            raise ActionError(self.name, f"action is not numeric: {type(action).__name__}") from None
        if arr.shape != tuple(spec.shape):
            raise ActionError(self.name, f"action has shape {arr.shape}, expected {tuple(spec.shape)}")
        if not _within(arr, spec.low, spec.high):
            self._bounds_error(arr)
        try:
            self.check(arr)
        except ValueError as exc:
            raise ActionError(self.name, str(exc)) from None
        return arr

    def _bounds_error(self, arr: np.ndarray) -> None:
        """The precise reason an action failed `_within` (NaN/infinity first, then the bounds)."""
        spec = self.action_space
        if not np.all(np.isfinite(arr)):
            raise ActionError(self.name, "action contains NaN or infinity")
        raise ActionError(self.name, f"action outside [{spec.low}, {spec.high}]: min {arr.min():g}, max {arr.max():g}")

    def apply(self, action: Any) -> np.ndarray:
        """Validate and put in force; on error the previous valid action stays and ActionError is raised."""
        try:
            arr = self.validate(action)
        except ActionError:
            self.counters["invalid"] += 1
            raise
        self.current_action = arr
        self.counters["applied"] += 1
        self._apply(arr)
        return arr

    def fallback(self, mode: str = "hold") -> None:
        """No (valid, timely) action this epoch: hold the last one or revert to the default."""
        self.counters["fallbacks"] += 1
        if mode == "default":
            arr = self.validate(self.default_action())
            self.current_action = arr
            self._apply(arr)

    def policy(self, name: str) -> Policy:
        """The built-in policy `name`, or a plugin policy `package.module:factory[?key=value&...]`.

        A plugin (e.g. a learned policy, `agents.dirs.policy:load?checkpoint=run/dirs.pt`) is
        imported by name, built once per point as `factory(self.describe(), **params)` (params are
        the query's strings) and kept under its spec. Raises ActionError naming the problem.
        """
        try:
            return self.policies[name]
        except KeyError:
            pass
        if ":" not in name:
            raise ActionError(self.name, f"unknown policy {name!r}; known: {', '.join(sorted(self.policies))}"
                              " (or a plugin, package.module:factory?key=value)")
        fn = load_policy_plugin(name, self.describe(), self.name)
        self.policies[name] = fn
        return fn

    def describe(self) -> dict:
        """The point as advertised to agents (WELCOME)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "observation_space": self.observation_space.to_dict(),
            "action_space": self.action_space.to_dict(),
            "decision_period": self.decision_period,
            "policies": sorted(self.policies),
        }


def load_policy_plugin(spec: str, description: dict, point: str = "policy") -> Policy:
    """`package.module:factory?key=value&...` → factory(description, **{key: value}) → a policy.

    The emulator never imports agents: a plugin is found by name at run time, like
    `mec.resource_manager`. `description` is the point's `describe()` dict (kind, spaces).
    Raises ActionError (for `point`) when the spec is malformed, the import fails or the factory refuses.
    """
    from urllib.parse import parse_qsl

    target, _, query = spec.partition("?")
    mod_name, _, attr = target.partition(":")
    if not mod_name or not attr:
        raise ActionError(point, f"policy plugin {spec!r}: expected package.module:factory[?key=value&...]")
    try:
        params = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise ActionError(point, f"policy plugin {spec!r}: cannot parse the parameters {query!r} (key=value&...)") from None
    try:
        factory = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ActionError(point, f"cannot load policy plugin {spec!r}: {exc}") from None
    try:
        fn = factory(description, **params)
    except (TypeError, ValueError, OSError, KeyError) as exc:
        raise ActionError(point, f"policy plugin {spec!r} refused: {exc}") from None
    if not callable(fn):
        raise ActionError(point, f"policy plugin {spec!r}: the factory returned {type(fn).__name__}, not a policy")
    return fn
