"""Catalogue of the built-in baseline policies by control-point kind and name, for agent processes.

A remote baseline agent looks its policy up here and so runs the very function the in-process
decider runs (a pure function of an indication), which is what makes remote and in-process traces
equal bit for bit. Agents get the functions without building an emulation.
"""
from __future__ import annotations

from typing import Any, Callable

from emulator.mec import baselines as mec_baselines
from emulator.ran import baselines as ran_baselines

Policy = Callable[[Any], Any]


def _table(policies: dict[str, Policy], wrap: Callable[[str], Policy] | None = None
           ) -> tuple[Callable[[str], Policy], Callable[[], list[str]]]:
    """(name -> policy, () -> names) over a subsystem's own table, the one its control points register."""
    def get(name: str) -> Policy:
        fn = policies[name]  # KeyError for an unknown name
        return fn if wrap is None else wrap(name)

    return get, lambda: sorted(policies)


# kind -> (name -> policy, () -> names).
CATALOGUE: dict[str, tuple[Callable[[str], Policy], Callable[[], list[str]]]] = {
    "slice_partition": _table(ran_baselines.POLICIES),
    "offloading": _table(mec_baselines.ASSIGNMENT_POLICIES, mec_baselines.server_policy),
    "assignment": _table(mec_baselines.ASSIGNMENT_POLICIES, mec_baselines.core_policy),
}


def names(kind: str) -> list[str]:
    """Baseline names available for control points of `kind`."""
    if kind not in CATALOGUE:
        raise KeyError(f"no baselines for control-point kind {kind!r}; kinds: {', '.join(sorted(CATALOGUE))}")
    return CATALOGUE[kind][1]()


def lookup(kind: str, name: str) -> Policy:
    """The baseline `name` for control points of `kind`; KeyError naming the choices otherwise."""
    try:
        return CATALOGUE[kind][0](name)
    except KeyError:
        raise KeyError(f"no baseline {name!r} for kind {kind!r}; known: {', '.join(names(kind))}") from None
