"""Exceptions of the loop: every message names the file, key or run directory at fault.

:class:`~pesgen.errors.ConfigError` (an invalid run config) is re-exported here.
"""

from __future__ import annotations

from pesgen.errors import ConfigError, PesgenError


class LoopError(PesgenError):
    """Base class of the loop's errors."""


class RunDirError(LoopError):
    """A run directory is missing, incomplete, or belongs to another configuration."""


class RunStopped(LoopError):
    """The run stopped before its end for a reason the user must act on (e.g. too many failed
    labels); everything finished so far is kept and ``pesgen run`` resumes after a fix."""


__all__ = ["ConfigError", "LoopError", "RunDirError", "RunStopped"]
