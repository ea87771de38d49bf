"""User-facing error types: each names what is wrong and where."""
from __future__ import annotations


class RanemuError(Exception):
    """Base class for errors shown to the user as one line, without a traceback."""


class ConfigError(RanemuError):
    """A scenario file (or override) is invalid: names the file, the field path and what was expected."""

    def __init__(self, source: str, path: str, message: str):
        self.source = source
        self.path = path
        self.message = message
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {message}")


class ActionError(RanemuError):
    """An action sent to a control point was rejected; the previous valid action stays in force."""

    def __init__(self, point: str, reason: str):
        self.point = point
        self.reason = reason
        super().__init__(f"{point}: {reason}")
