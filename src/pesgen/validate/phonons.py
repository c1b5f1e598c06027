"""Phonon dispersion by finite displacements (phonopy) along a standard band path (ASE).

Frequencies in THz. The force constants come from phonopy's displaced supercells of the
relaxed primitive cell, the forces from the side's calculator.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from phonopy import Phonopy
from phonopy.structure.atoms import PhonopyAtoms

from pesgen.validate.side import Side


def force_constants_phonopy(atoms: Atoms, calc, supercell: int, distance: float = 0.01) -> Phonopy:
    """A :class:`phonopy.Phonopy` of ``atoms`` (primitive, relaxed) with force constants from
    ``calc`` in an n x n x n supercell, displacements ``distance`` Å."""
    unit = PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array,
                        scaled_positions=atoms.get_scaled_positions())
    phonon = Phonopy(unit, supercell_matrix=np.eye(3, dtype=int) * supercell, primitive_matrix=None)
    phonon.generate_displacements(distance=distance)
    forces = []
    for cell in phonon.supercells_with_displacements:
        work = Atoms(cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions, pbc=True)
        work.calc = calc
        f = work.get_forces()
        forces.append(f - f.mean(axis=0))  # drift correction
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    return phonon


def band_path(atoms: Atoms, path: str | None = None, npoints: int = 120):
    """ASE's band path of the cell (default: ASE's standard path of the lattice)."""
    return atoms.cell.bandpath(path, npoints=npoints)


def dispersion(side: Side, element: str, lattice: str, supercell: int = 3, path: str | None = None,
               npoints: int = 120) -> dict:
    """Band structure: ``x`` (path coordinate, 1/Å), ``frequencies`` (npoints x bands, THz), the
    ``labels`` with their ``label_x``, the ``path`` string, and the frequencies at each special
    point (``special``: {label: [THz, ...]})."""
    atoms = side.crystal(element, lattice)
    phonon = force_constants_phonopy(atoms, side.calc, supercell)
    bp = band_path(atoms, path, npoints)
    phonon.run_qpoints(bp.kpts)
    freqs = np.asarray(phonon.get_qpoints_dict()["frequencies"])
    x, label_x, labels = bp.get_linear_kpoint_axis()
    special = {}
    for name, q in bp.special_points.items():
        if name in bp.path:
            phonon.run_qpoints([q])
            special[name] = np.sort(phonon.get_qpoints_dict()["frequencies"][0]).tolist()
    return {"x": np.asarray(x).tolist(), "frequencies": freqs.tolist(), "labels": list(labels),
            "label_x": np.asarray(label_x).tolist(), "path": bp.path, "special": special}
