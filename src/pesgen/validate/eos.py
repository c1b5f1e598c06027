"""Equation of state E(V): the relaxed crystal scaled uniformly (fractional positions and c/a
fixed) over a wide range of volumes; Birch-Murnaghan fit near the minimum for B0."""

from __future__ import annotations

import numpy as np
from ase.eos import EquationOfState
from ase.units import GPa

from pesgen.validate.side import Side


def eos_curve(side: Side, element: str, structure: str, v_min: float, v_max: float,
              points: int) -> dict[str, list[float]]:
    """E(V) per atom: ``volume`` (Å^3/atom) from ``v_min`` to ``v_max`` times V0, ``energy``
    (eV/atom)."""
    atoms = side.crystal(element, structure)
    v0 = atoms.get_volume() / len(atoms)
    volumes, energies = [], []
    for factor in np.linspace(v_min, v_max, points):
        work = atoms.copy()
        work.set_cell(atoms.cell.array * factor ** (1 / 3), scale_atoms=True)
        work.calc = side.calc
        volumes.append(float(v0 * factor))
        energies.append(float(work.get_potential_energy()) / len(work))
    return {"volume": volumes, "energy": energies}


def bulk_modulus(side: Side, element: str, structure: str, width: float = 0.04,
                 points: int = 7) -> dict[str, float]:
    """Birch-Murnaghan fit of E(V) over V0 (1 +- ``width``): ``B0`` (GPa), ``V0`` (Å^3/atom),
    ``E0`` (eV/atom)."""
    curve = eos_curve(side, element, structure, 1 - width, 1 + width, points)
    eos = EquationOfState(np.array(curve["volume"]), np.array(curve["energy"]), eos="birchmurnaghan")
    v0, e0, b = eos.fit()
    return {"B0": float(b / GPa), "V0": float(v0), "E0": float(e0)}
