"""A labeled frame as it travels between readers, writers and the store."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from ase import Atoms
from ase.stress import full_3x3_to_voigt_6_stress, voigt_6_to_full_3x3_stress

from pesgen.data.provenance import Provenance


class LabeledFrame(NamedTuple):
    """One labeled structure; a tuple in the order ``Store.add_many`` takes.

    Attributes:
        atoms: the structure (species, positions Å, cell Å, pbc).
        energy: total energy, eV.
        forces: (natoms, 3) forces, eV/Å.
        stress: (6,) Voigt stress, eV/Å^3, ASE sign (positive = tensile), or None.
        provenance: where the frame came from.
    """

    atoms: Atoms
    energy: float
    forces: np.ndarray
    stress: np.ndarray | None
    provenance: Provenance

    def to_atoms(self) -> Atoms:
        """A copy of the structure carrying its labels (SinglePointCalculator) and provenance in info."""
        from ase.calculators.singlepoint import SinglePointCalculator

        atoms = self.atoms.copy()
        results = {"energy": float(self.energy), "forces": np.asarray(self.forces, dtype=np.float64)}
        if self.stress is not None:
            results["stress"] = np.asarray(self.stress, dtype=np.float64)
        atoms.calc = SinglePointCalculator(atoms, **results)
        atoms.info["provenance"] = self.provenance
        return atoms


def labels_of(atoms: Atoms, where: str,
              error: type[Exception] = ValueError) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Energy (eV), forces (eV/Å) and Voigt stress (eV/Å^3 or None) from ``atoms.calc``.

    Raises:
        error: naming ``where`` if the energy or the forces are missing.
    """
    results = {} if atoms.calc is None else dict(atoms.calc.results)
    energy = results.get("energy", results.get("free_energy"))
    if energy is None:
        raise error(f"{where}: no energy (the frame is not labeled)")
    forces = results.get("forces")
    if forces is None:
        raise error(f"{where}: no forces (the frame is not labeled)")
    stress = results.get("stress")
    if stress is not None:
        stress = np.asarray(stress, dtype=float)
        if stress.shape == (3, 3):
            stress = full_3x3_to_voigt_6_stress(stress)
    return float(energy), np.asarray(forces, dtype=float), stress


def virial_from_stress(stress: np.ndarray, volume: float) -> np.ndarray:
    """DeePMD virial (3x3, eV) from an ASE stress (Voigt or 3x3, eV/Å^3): ``-stress * volume``."""
    stress = np.asarray(stress, dtype=float)
    if stress.shape == (6,):
        stress = voigt_6_to_full_3x3_stress(stress)
    return -stress * volume


def stress_from_virial(virial: np.ndarray, volume: float) -> np.ndarray:
    """ASE Voigt stress (eV/Å^3) from a DeePMD virial (9 or 3x3, eV): ``-virial / volume``."""
    virial = np.asarray(virial, dtype=float).reshape(3, 3)
    return full_3x3_to_voigt_6_stress(-virial / volume)
