"""User-facing error types: each names what is wrong and where."""
from __future__ import annotations


class RanemuError(Exception):
    """Base class for errors shown to the user as one line, without a traceback."""


class ConfigError(RanemuError):
    """A scenario file (or override) is invalid: names the file, the field path and what was expected."""

    def __init__(self, source: str, path: str, message: str):
        # args = the constructor's arguments: SimPy (and pickling across processes) rebuild an
        # exception from its args, so they must fit __init__.
        super().__init__(source, path, message)
        self.source = source
        self.path = path
        self.message = message

    def __str__(self) -> str:
        where = f"{self.source}: {self.path}" if self.path else self.source
        return f"{where}: {self.message}"


class ActionError(RanemuError):
    """An action sent to a control point was rejected; the previous valid action stays in force."""

    def __init__(self, point: str, reason: str):
        super().__init__(point, reason)  # rebuildable from args, like ConfigError
        self.point = point
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.point}: {self.reason}"
