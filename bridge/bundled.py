"""Where the bundled scenario files are: the source tree's `scenarios/`, or the installed copy.

The YAML files live in the repository's top-level `scenarios/` folder (data only, the user-fixed
layout). A wheel installs them as data files under `<prefix>/share/ranemu/scenarios/`
(pyproject `[tool.setuptools.data-files]`), found here through the installed distribution's file
list, so a non-editable install finds them wherever its prefix is (venv, --user, system).
"""
from __future__ import annotations

from functools import lru_cache
from importlib import metadata
from pathlib import Path

from emulator.errors import RanemuError

SOURCE_SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
DATA_SUBDIR = ("share", "ranemu", "scenarios")


@lru_cache(maxsize=1)
def installed_scenarios() -> Path | None:
    """The installed scenario folder (`<prefix>/share/ranemu/scenarios`), None when not installed."""
    try:
        files = metadata.distribution("ranemu").files or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        parts = Path(str(f)).parts
        # the wheel's RECORD names them relative to site-packages: ../../../share/ranemu/scenarios/x.yaml
        if len(parts) >= 4 and parts[-4:-1] == DATA_SUBDIR:
            folder = Path(str(f.locate())).resolve().parent
            if folder.is_dir():
                return folder
    return None


def scenario_dirs() -> list[Path]:
    """Folders searched for bundled scenarios, in order: the source tree, then the installed copy."""
    dirs = [SOURCE_SCENARIOS] if SOURCE_SCENARIOS.is_dir() else []
    installed = installed_scenarios()
    if installed is not None and installed not in dirs:
        dirs.append(installed)
    return dirs


def bundled_names() -> list[str]:
    """File names of the bundled scenarios (e.g. `slicing-12cell.yaml`)."""
    return sorted({p.name for d in scenario_dirs() for p in d.glob("*.yaml")})


def bundled_scenario(name: str) -> Path:
    """The bundled scenario `name` (`slicing-12cell.yaml`, `slicing-12cell` or
    `scenarios/slicing-12cell.yaml`); raises RanemuError naming the known ones."""
    stem = Path(name).name
    candidates = [stem] if stem.endswith((".yaml", ".yml")) else [f"{stem}.yaml", stem]
    for d in scenario_dirs():
        for c in candidates:
            if (d / c).is_file():
                return d / c
    known = ", ".join(bundled_names()) or "none found"
    raise RanemuError(f"bundled scenario {name!r} not found (bundled: {known})")


def resolve_scenario(path: str | Path) -> Path:
    """A scenario file given by path; a relative path that does not exist here falls back to the
    bundled scenario of that name (so `scenarios/slicing-12cell.yaml` works from any folder).

    A path that is neither is returned unchanged: the loader reports it as not found.
    """
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p
    if len(p.parts) == 1 or (len(p.parts) == 2 and p.parts[0] == "scenarios"):
        try:
            return bundled_scenario(p.name)
        except RanemuError:
            return p
    return p
