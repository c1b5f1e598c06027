"""Exceptions of the exploration sub-package (records, selection, stages).

Every error names the structure, key or file at fault so a user can fix the input.
"""

from __future__ import annotations

from pesgen.errors import ConfigError, PesgenError


class ExploreError(PesgenError):
    """Base class of all exploration errors."""


class RecordError(ExploreError):
    """A deviation record cannot be written or read (bad columns, missing frame, bad file)."""


class SelectionError(ExploreError, ValueError):
    """A selection request is inconsistent (bad trust levels, features of the wrong shape...)."""


class StageError(ExploreError, ConfigError):
    """An exploration stage or schedule is invalid (no conditions, bad temperature...)."""
