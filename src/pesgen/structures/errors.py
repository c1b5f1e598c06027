"""The error of the structure builders."""

from __future__ import annotations

from pesgen.errors import ConfigError


class StructureSpecError(ConfigError):
    """A structure request is invalid (bad element, lattice, size, constant, plane, range...)."""
