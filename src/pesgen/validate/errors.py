"""Errors of the validation tests."""

from __future__ import annotations

from pesgen.errors import ConfigError, PesgenError


class ValidationError(PesgenError):
    """Base class of the errors raised by :mod:`pesgen.validate`."""


class ValidationInputError(ValidationError, ValueError):
    """A bad structure, element, property name or value given to a test."""


class ValidationConfigError(ValidationError, ConfigError):
    """The ``--config`` TOML file or the reference spec is invalid; the message names the key."""


class RelaxationError(ValidationError):
    """A relaxation did not converge or blew up (the message names the structure)."""
