"""Errors of the MD sampler."""

from __future__ import annotations

from pesgen.errors import PesgenError


class MDError(PesgenError):
    """Base class of the MD sampler's errors."""


class MDInputError(MDError, ValueError):
    """Bad input to the sampler: a structure, a target, or a setting, named in the message."""
