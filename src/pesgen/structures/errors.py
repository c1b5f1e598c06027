"""The error of the structure builders."""

from __future__ import annotations


class StructureSpecError(ValueError):
    """A structure request is invalid (bad element, lattice, size, constant, plane, range...)."""
