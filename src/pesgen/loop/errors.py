"""Exceptions of the loop: every message names the file, key or run directory at fault."""

from __future__ import annotations


class LoopError(Exception):
    """Base class of the loop's errors."""


class ConfigError(LoopError, ValueError):
    """A run configuration is invalid.

    Attributes:
        path: the config file.
        problems: one ``(key path, message)`` per problem found, e.g.
            ``("train.numb_steps", "expected an integer, got 'many'")``.
    """

    def __init__(self, path: object, problems: list[tuple[str, str]]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        lines = [f"{self.path}: invalid run configuration ({len(self.problems)} problem"
                 f"{'s' if len(self.problems) != 1 else ''}):"]
        lines += [f"  {key or '<top level>'}: {msg}" for key, msg in self.problems]
        super().__init__("\n".join(lines))


class RunDirError(LoopError):
    """A run directory is missing, incomplete, or belongs to another configuration."""


class RunStopped(LoopError):
    """The run stopped before its end for a reason the user must act on (e.g. too many failed
    labels); everything finished so far is kept and ``pesgen run`` resumes after a fix."""
