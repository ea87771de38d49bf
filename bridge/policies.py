"""Catalogue of the built-in baseline policies by control-point kind and name, for agent processes.

A remote baseline agent looks its policy up here and so runs the very function the in-process
decider runs (a pure function of an indication), which is what makes remote and in-process traces
equal bit for bit. Agents get the functions without building an emulation.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

Policy = Callable[[Any], Any]


def _mec(factory: str) -> tuple[Callable[[str], Policy], Callable[[], list[str]]]:
    def get(name: str) -> Policy:
        mod = importlib.import_module("emulator.mec.baselines")
        if name not in mod.ASSIGNMENT_POLICIES:
            raise KeyError(name)
        return getattr(mod, factory)(name)

    def names() -> list[str]:
        return sorted(importlib.import_module("emulator.mec.baselines").ASSIGNMENT_POLICIES)

    return get, names


# The slice-partition baselines the RAN's points register (emulator/ran/control.py).
SLICE_BASELINES = ("equal", "traffic_aware")


def _ran() -> tuple[Callable[[str], Policy], Callable[[], list[str]]]:
    def get(name: str) -> Policy:
        if name not in SLICE_BASELINES:
            raise KeyError(name)
        return getattr(importlib.import_module("emulator.ran.baselines"), name)

    def names() -> list[str]:
        return list(SLICE_BASELINES)

    return get, names


# kind -> (name -> policy, () -> names). The subsystem's control points register the same functions.
CATALOGUE: dict[str, tuple[Callable[[str], Policy], Callable[[], list[str]]]] = {
    "slice_partition": _ran(),
    "offloading": _mec("server_policy"),
    "assignment": _mec("core_policy"),
}


def names(kind: str) -> list[str]:
    """Baseline names available for control points of `kind`."""
    if kind not in CATALOGUE:
        raise KeyError(f"no baselines for control-point kind {kind!r}; kinds: {', '.join(sorted(CATALOGUE))}")
    return CATALOGUE[kind][1]()


def lookup(kind: str, name: str) -> Policy:
    """The baseline `name` for control points of `kind`; KeyError naming the choices otherwise."""
    if kind not in CATALOGUE:
        raise KeyError(f"no baselines for control-point kind {kind!r}; kinds: {', '.join(sorted(CATALOGUE))}")
    try:
        return CATALOGUE[kind][0](name)
    except KeyError:
        raise KeyError(f"no baseline {name!r} for kind {kind!r}; known: {', '.join(names(kind))}") from None
