"""Elastic constants from finite strains of the relaxed crystal, and Voigt moduli.

Each of the six Voigt strains (engineering shear) is applied at +-``delta``; internal positions
are relaxed at fixed cell for cells with more than one atom (hcp, diamond); C_ij = d sigma_i /
d eps_j by central differences of the stress (ASE sign, tensile positive), in GPa. The 6x6
matrix is symmetrised; the independent constants are averaged over the components that the
crystal's Laue class makes equal (cubic: C11, C12, C44; hexagonal: C11, C12, C13, C33, C44).
"""

from __future__ import annotations

import numpy as np
import spglib
from ase import Atoms
from ase.units import GPa

from pesgen.validate.relax import RelaxSettings, relax
from pesgen.validate.side import Side

_VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


def strain_matrix(j: int, eps: float) -> np.ndarray:
    """Symmetric strain tensor of Voigt component ``j`` (shear components engineering: 2 e_ij)."""
    e = np.zeros((3, 3))
    a, b = _VOIGT[j]
    if a == b:
        e[a, a] = eps
    else:
        e[a, b] = e[b, a] = eps / 2
    return e


def stiffness_matrix(atoms: Atoms, calc, delta: float = 0.005,
                     relax_settings: RelaxSettings | None = None) -> np.ndarray:
    """The symmetrised 6x6 stiffness C (GPa) of ``atoms`` (stress-free) with ``calc``."""
    settings = relax_settings or RelaxSettings(keep_symmetry=False)
    c = np.zeros((6, 6))
    for j in range(6):
        stresses = []
        for sign in (1, -1):
            work = atoms.copy()
            work.set_cell(atoms.cell.array @ (np.eye(3) + strain_matrix(j, sign * delta)), scale_atoms=True)
            if len(work) > 1:
                work = relax(work, calc, cell=False,
                             settings=RelaxSettings(fmax=settings.fmax / 10, steps=settings.steps,
                                                    keep_symmetry=False), name=f"strained cell {j}")
            work.calc = calc
            stresses.append(work.get_stress(voigt=True))
        c[:, j] = (stresses[0] - stresses[1]) / (2 * delta) / GPa
    return 0.5 * (c + c.T)


def crystal_family(atoms: Atoms, symprec: float = 1e-3) -> str:
    """"cubic", "hexagonal" or "other" from the space-group number (spglib)."""
    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    data = spglib.get_symmetry_dataset(cell, symprec=symprec)
    number = data.number if data is not None else 1
    if number >= 195:
        return "cubic"
    if 168 <= number <= 194:
        return "hexagonal"
    return "other"


def independent_constants(c: np.ndarray, family: str) -> dict[str, float]:
    """The independent elastic constants (GPa) named ``C11`` ... by crystal family."""
    if family == "cubic":
        return {"C11": float(np.mean([c[0, 0], c[1, 1], c[2, 2]])),
                "C12": float(np.mean([c[0, 1], c[0, 2], c[1, 2]])),
                "C44": float(np.mean([c[3, 3], c[4, 4], c[5, 5]]))}
    if family == "hexagonal":
        return {"C11": float(np.mean([c[0, 0], c[1, 1]])), "C12": float(c[0, 1]),
                "C13": float(np.mean([c[0, 2], c[1, 2]])), "C33": float(c[2, 2]),
                "C44": float(np.mean([c[3, 3], c[4, 4]]))}
    return {f"C{i + 1}{j + 1}": float(c[i, j]) for i in range(6) for j in range(i, 6)}


def voigt_moduli(c: np.ndarray) -> dict[str, float]:
    """Voigt bulk and shear moduli (GPa) of a 6x6 stiffness matrix (GPa)."""
    diag = c[0, 0] + c[1, 1] + c[2, 2]
    off = c[0, 1] + c[0, 2] + c[1, 2]
    shear = c[3, 3] + c[4, 4] + c[5, 5]
    return {"B_V": float((diag + 2 * off) / 9), "G_V": float((diag - off + 3 * shear) / 15)}


def elastic_constants(side: Side, element: str, structure: str, delta: float = 0.005) -> dict[str, float]:
    """Independent Cij, B_V and G_V (GPa) of the relaxed ``structure`` of ``element``."""
    atoms = side.crystal(element, structure)
    c = stiffness_matrix(atoms, side.calc, delta, side.relax_settings)
    return {**independent_constants(c, crystal_family(atoms)), **voigt_moduli(c)}
