"""Structure filters applied to candidates before labeling.

A filter is any object with ``check(atoms) -> str | None``: None accepts the frame, a string
rejects it and says why. Two are provided:

* :class:`MinDistanceFilter`: rejects frames with two atoms closer than a minimum distance
  (periodic images included) -- a collapsed pair would waste an expensive (and often
  non-converging) DFT calculation;
* :class:`CellShapeFilter`: rejects frames whose cell is too skewed or too elongated, checked on
  ASE's standard (LAMMPS-like, lower-triangular) form of the cell as DP-GEN2's box filters do:
  tilt angles ``atan(|xy|/ly)``, ``atan(|xz|/lz)``, ``atan(|yz|/lz)`` at most ``max_tilt_deg``
  and the ratio of the largest to the smallest of lx, ly, lz at most ``max_length_ratio``. With
  ``reduce=True`` the checks apply to the Minkowski-reduced cell instead, so a frame whose MD
  cell merely drifted into a skewed *representation* of a healthy lattice passes, and only
  genuinely flattened lattices are rejected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.cell import Cell
from ase.data import atomic_numbers, chemical_symbols
from ase.geometry import minkowski_reduce
from ase.neighborlist import neighbor_list

from pesgen.explore.errors import SelectionError


@dataclass
class MinDistanceFilter:
    """Reject frames with an interatomic distance below a minimum.

    Attributes:
        min_distance: default minimum distance, Å.
        pairs: per-pair minima in Å, e.g. ``{"Al-Mg": 1.9, "Mg-Mg": 2.2}`` (order-free).
    """

    min_distance: float = 1.0
    pairs: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.min_distance) and self.min_distance >= 0):
            raise SelectionError(f"min_distance={self.min_distance!r} Å must be >= 0")
        self._pairs: dict[tuple[int, int], float] = {}
        for key, value in self.pairs.items():
            parts = key.split("-")
            if len(parts) != 2 or any(p not in atomic_numbers for p in parts):
                raise SelectionError(f"min-distance pair {key!r} must look like 'Al-Mg'")
            if not (np.isfinite(value) and value >= 0):
                raise SelectionError(f"min-distance for {key} = {value!r} Å must be >= 0")
            za, zb = sorted(atomic_numbers[p] for p in parts)
            self._pairs[(za, zb)] = float(value)

    def check(self, atoms: Atoms) -> str | None:
        """None when every pair is at least its minimum distance apart, else the reason."""
        cutoff = max([self.min_distance, *self._pairs.values()])
        if cutoff <= 0 or len(atoms) == 0:
            return None
        i, j, d = neighbor_list("ijd", atoms, cutoff, self_interaction=False)
        if len(d) == 0:
            return None
        zi, zj = atoms.numbers[i], atoms.numbers[j]
        lo, hi = np.minimum(zi, zj), np.maximum(zi, zj)
        limit = np.full(len(d), self.min_distance)
        for (za, zb), value in self._pairs.items():
            limit[(lo == za) & (hi == zb)] = value
        bad = np.flatnonzero(d < limit)
        if len(bad) == 0:
            return None
        k = bad[np.argmin(d[bad])]
        return (f"atoms {i[k]} ({chemical_symbols[zi[k]]}) and {j[k]} ({chemical_symbols[zj[k]]})"
                f" are {d[k]:.3f} Å apart < {limit[k]:.3f} Å")


@dataclass
class CellShapeFilter:
    """Reject frames whose cell is too skewed or elongated (see module docstring).

    Attributes:
        max_tilt_deg: largest allowed tilt angle, degrees (DP-GEN2's default theta: 60).
        max_length_ratio: largest allowed ratio of cell extents lx, ly, lz (DP-GEN2: 5);
            None disables the check.
        reduce: check the Minkowski-reduced cell instead of the cell as given.
    """

    max_tilt_deg: float = 60.0
    max_length_ratio: float | None = 5.0
    reduce: bool = False

    def __post_init__(self) -> None:
        if not (0 < self.max_tilt_deg < 90):
            raise SelectionError(f"max_tilt_deg={self.max_tilt_deg!r} must be in (0, 90)")
        if self.max_length_ratio is not None and not self.max_length_ratio >= 1:
            raise SelectionError(f"max_length_ratio={self.max_length_ratio!r} must be >= 1")

    def check(self, atoms: Atoms) -> str | None:
        """None for an acceptable cell, else the reason (non-periodic frames always pass)."""
        if not atoms.pbc.all():
            return None
        cell = atoms.cell.array
        if abs(np.linalg.det(cell)) < 1e-9:
            return "the cell is singular (zero volume)"
        if self.reduce:
            cell, _ = minkowski_reduce(cell)
        std, _ = Cell(cell).standard_form()
        std = std.array
        lx, ly, lz = abs(std[0, 0]), abs(std[1, 1]), abs(std[2, 2])
        tilts = {
            "xy": math.degrees(math.atan2(abs(std[1, 0]), ly)),
            "xz": math.degrees(math.atan2(abs(std[2, 0]), lz)),
            "yz": math.degrees(math.atan2(abs(std[2, 1]), lz)),
        }
        name, worst = max(tilts.items(), key=lambda kv: kv[1])
        if worst > self.max_tilt_deg:
            return f"cell tilt {name} is {worst:.1f} deg > {self.max_tilt_deg:g} deg"
        if self.max_length_ratio is not None:
            ratio = max(lx, ly, lz) / min(lx, ly, lz)
            if ratio > self.max_length_ratio:
                return f"cell extent ratio {ratio:.2f} > {self.max_length_ratio:g}"
        return None
