"""Map an ASE periodic cell onto LAMMPS's restricted triclinic box and back.

LAMMPS wants cell vectors ``a = (lx, 0, 0)``, ``b = (xy, ly, 0)``, ``c = (xz, yz, lz)`` with
small tilts. We rotate the cell (an orthogonal map ``Q``, ``cell @ Q = L``), reduce the tilt
factors by lattice vectors (the same periodic crystal), and wrap the atoms into the box.
Forces come back as ``f @ Q.T`` and the stress tensor as ``Q @ s @ Q.T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LammpsBox:
    """A restricted triclinic box (Å) and the rotation from the ASE frame into it."""

    lx: float
    ly: float
    lz: float
    xy: float
    xz: float
    yz: float
    rotation: np.ndarray  # Q, (3, 3): positions_lammps = positions_ase @ Q

    @property
    def matrix(self) -> np.ndarray:
        """Cell vectors as rows, Å."""
        return np.array([[self.lx, 0.0, 0.0], [self.xy, self.ly, 0.0], [self.xz, self.yz, self.lz]])


def lammps_box(cell: np.ndarray) -> LammpsBox:
    """The LAMMPS box equivalent to a full-rank periodic ``cell`` (rows are vectors, Å)."""
    cell = np.asarray(cell, dtype=float)
    a, b, c = cell
    lx = np.linalg.norm(a)
    ahat = a / lx
    xy = b @ ahat
    ly = np.sqrt(max(b @ b - xy * xy, 0.0))
    xz = c @ ahat
    yz = (b @ c - xy * xz) / ly
    lz = np.sqrt(max(c @ c - xz * xz - yz * yz, 0.0))
    lower = np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])
    rotation = np.linalg.solve(cell, lower)
    # Reduce tilts by lattice vectors: c -= n b, then c -= m a, b -= k a.
    n = np.round(yz / ly)
    xz, yz = xz - n * xy, yz - n * ly
    xz -= np.round(xz / lx) * lx
    xy -= np.round(xy / lx) * lx
    return LammpsBox(float(lx), float(ly), float(lz), float(xy), float(xz), float(yz), rotation)


def positions_in_box(positions: np.ndarray, box: LammpsBox) -> np.ndarray:
    """Rotate ``positions`` (Å) into the LAMMPS frame and wrap them into the box."""
    rotated = np.asarray(positions, dtype=float) @ box.rotation
    frac = np.linalg.solve(box.matrix.T, rotated.T).T
    frac -= np.floor(frac)
    frac[frac >= 1.0] = 0.0  # floating point: floor(x) for x just below an integer
    return frac @ box.matrix


def forces_from_box(forces: np.ndarray, box: LammpsBox) -> np.ndarray:
    """Forces (eV/Å) from the LAMMPS frame back to the ASE frame."""
    return np.asarray(forces) @ box.rotation.T


def stress_from_box(stress_tensor: np.ndarray, box: LammpsBox) -> np.ndarray:
    """A (3, 3) stress tensor from the LAMMPS frame back to the ASE frame."""
    q = box.rotation
    return q @ np.asarray(stress_tensor) @ q.T
