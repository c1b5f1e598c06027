"""Point defects: relaxed vacancy and interstitial formation energies (eV).

E_df = E_d(N_d) - N_d E_0 (the paper's definition): E_d is the energy of the defective supercell
relaxed in its positions at the equilibrium cell (constant volume, the defect's site symmetry
kept), N_d its number of atoms and E_0 the energy per atom of the ideal crystal. The supercell
repeats the primitive cell ``n x n x n`` times (the paper: 7 for Al).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from pesgen.validate.errors import ValidationInputError
from pesgen.validate.relax import relax
from pesgen.validate.side import Side

#: Interstitial sites of the fcc primitive cell, Cartesian offsets in units of the cubic
#: lattice constant a from an atom (ASE's primitive fcc axes are the cubic ones).
FCC_INTERSTITIALS = {"octahedral": (0.5, 0.0, 0.0), "tetrahedral": (0.25, 0.25, 0.25)}


def supercell(atoms: Atoms, n: int) -> Atoms:
    """``atoms`` repeated n x n x n."""
    if n < 1:
        raise ValidationInputError(f"supercell size must be >= 1, got {n}")
    return atoms.repeat((n, n, n))


def vacancy_cell(perfect: Atoms, index: int = 0) -> Atoms:
    """``perfect`` without atom ``index``."""
    atoms = perfect.copy()
    del atoms[index]
    return atoms


def fcc_interstitial_cell(perfect: Atoms, a: float, site: str, symbol: str | None = None) -> Atoms:
    """``perfect`` (fcc, cubic axes) plus one atom at an ``octahedral`` or ``tetrahedral`` site
    next to the atom nearest the cell centre."""
    if site not in FCC_INTERSTITIALS:
        raise ValidationInputError(f"unknown fcc interstitial site {site!r}; known: {sorted(FCC_INTERSTITIALS)}")
    centre = perfect.cell.sum(axis=0) / 2
    near = int(np.argmin(np.linalg.norm(perfect.positions - centre, axis=1)))
    atoms = perfect.copy()
    position = perfect.positions[near] + a * np.asarray(FCC_INTERSTITIALS[site])
    atoms += Atoms(symbol or perfect.get_chemical_symbols()[near], positions=[position])
    return atoms


def formation_energy(side: Side, defect: Atoms, e0: float, name: str) -> float:
    """E_d(N_d) - N_d E_0 (eV) with ``defect`` relaxed in positions by ``side``."""
    relaxed = relax(defect, side.calc, cell=False, settings=side.relax_settings, name=name)
    return float(relaxed.get_potential_energy() - len(relaxed) * e0)


def point_defects(side: Side, element: str, lattice: str, n: int) -> dict[str, float]:
    """Relaxed formation energies (eV): ``vacancy``, and for fcc ``octahedral`` and ``tetrahedral``
    interstitials, in an n x n x n supercell of the relaxed primitive ``lattice``."""
    crystal = side.crystal(element, lattice)
    e0 = float(crystal.get_potential_energy()) / len(crystal)
    perfect = supercell(crystal, n)
    out = {"vacancy": formation_energy(side, vacancy_cell(perfect, len(perfect) // 2), e0,
                                       f"{element} {lattice} vacancy ({side.name})")}
    if lattice == "fcc":
        a = (4 * crystal.get_volume() / len(crystal)) ** (1 / 3)
        for site in FCC_INTERSTITIALS:
            out[site] = formation_energy(side, fcc_interstitial_cell(perfect, a, site), e0,
                                         f"{element} {site} interstitial ({side.name})")
    return out
