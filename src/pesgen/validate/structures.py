"""Crystal prototypes of one element: fcc, hcp, bcc, sc, diamond, dhcp (ase.build where it has them).

Lengths in Å, volumes in Å^3 per atom. ``build_crystal`` sets the lattice constant from a
volume per atom, so all prototypes start at the same density before they are relaxed.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.data import atomic_numbers, covalent_radii, reference_states

from pesgen.validate.errors import ValidationInputError

#: The prototypes of the equilibrium and equation-of-state tests (the paper's Fig. 4 set).
CRYSTALS = ("fcc", "hcp", "bcc", "sc", "diamond", "dhcp")

#: Ideal hexagonal c/a of close-packed spheres, sqrt(8/3).
IDEAL_C_OVER_A = float(np.sqrt(8.0 / 3.0))


def reference_volume(symbol: str) -> float:
    """A starting volume per atom (Å^3) from ASE's reference state of the element (fcc/hcp/bcc
    lattice constants), else from the covalent radius (close-packed spheres)."""
    if symbol not in atomic_numbers:
        raise ValidationInputError(f"{symbol!r} is not a chemical symbol")
    state = reference_states[atomic_numbers[symbol]] or {}
    sym, a = state.get("symmetry"), state.get("a")
    if sym == "fcc" and a:
        return a**3 / 4
    if sym == "bcc" and a:
        return a**3 / 2
    if sym == "hcp" and a:
        c = state.get("c/a", IDEAL_C_OVER_A) * a
        return np.sqrt(3) / 4 * a * a * c
    if sym == "diamond" and a:
        return a**3 / 8
    r = covalent_radii[atomic_numbers[symbol]]
    return 4 / 3 * np.pi * r**3 / 0.74


def ground_lattice(symbol: str) -> str:
    """``"fcc"``, ``"hcp"`` or ``"bcc"``: ASE's reference crystal of the element (fcc otherwise)."""
    state = reference_states[atomic_numbers[symbol]] or {}
    sym = state.get("symmetry")
    return sym if sym in ("fcc", "hcp", "bcc") else "fcc"


def build_crystal(symbol: str, name: str, volume_per_atom: float | None = None, *,
                  c_over_a: float = IDEAL_C_OVER_A, cubic: bool = False) -> Atoms:
    """One of :data:`CRYSTALS` at ``volume_per_atom`` Å^3 (default :func:`reference_volume`).

    Primitive cells unless ``cubic`` (conventional cubic cell of fcc/bcc/diamond, orthorhombic
    hcp). dhcp is the ABAC stacking, 4 atoms, c = 2 (c/a) a.
    """
    v = reference_volume(symbol) if volume_per_atom is None else float(volume_per_atom)
    if v <= 0:
        raise ValidationInputError(f"volume per atom must be positive, got {v}")
    if name == "fcc":
        return bulk(symbol, "fcc", a=(4 * v) ** (1 / 3), cubic=cubic)
    if name == "bcc":
        return bulk(symbol, "bcc", a=(2 * v) ** (1 / 3), cubic=cubic)
    if name == "sc":
        return bulk(symbol, "sc", a=v ** (1 / 3))
    if name == "diamond":
        return bulk(symbol, "diamond", a=(8 * v) ** (1 / 3), cubic=cubic)
    a = (4 * v / (np.sqrt(3) * c_over_a)) ** (1 / 3)
    if name == "hcp":
        return bulk(symbol, "hcp", a=a, c=c_over_a * a, orthorhombic=cubic)
    if name == "dhcp":
        c = 2 * c_over_a * a
        cell = [[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, c]]
        frac = [[0, 0, 0], [1 / 3, 2 / 3, 0.25], [0, 0, 0.5], [2 / 3, 1 / 3, 0.75]]
        return Atoms(symbol * 4, scaled_positions=frac, cell=cell, pbc=True)
    raise ValidationInputError(f"unknown crystal {name!r}; known: {list(CRYSTALS)}")
