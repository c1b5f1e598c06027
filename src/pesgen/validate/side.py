"""One side of a comparison (the model, or the reference): a calculator and its relaxed crystals."""

from __future__ import annotations

from dataclasses import dataclass, field

from ase import Atoms
from ase.calculators.calculator import Calculator

from pesgen.structures.crystals import crystal_at_volume, reference_volume
from pesgen.validate.relax import RelaxSettings, relax


@dataclass
class Side:
    """``name`` ("model"/"reference"), its ASE ``calc``, and a cache of relaxed crystals."""

    name: str
    calc: Calculator
    relax_settings: RelaxSettings = field(default_factory=RelaxSettings)
    _crystals: dict[tuple[str, str], Atoms] = field(default_factory=dict, repr=False)

    def crystal(self, element: str, structure: str) -> Atoms:
        """The relaxed (cell and positions, symmetry kept) primitive crystal; computed once."""
        key = (element, structure)
        if key not in self._crystals:
            start = crystal_at_volume(element, structure, reference_volume(element))
            self._crystals[key] = relax(start, self.calc, cell=True, settings=self.relax_settings,
                                        name=f"{element} {structure} ({self.name})")
        atoms = self._crystals[key].copy()
        atoms.calc = self.calc
        return atoms

    def energy_per_atom(self, element: str, structure: str) -> float:
        """E0 (eV/atom) of the relaxed crystal."""
        atoms = self.crystal(element, structure)
        return float(atoms.get_potential_energy()) / len(atoms)

    def volume_per_atom(self, element: str, structure: str) -> float:
        """V0 (Å^3/atom) of the relaxed crystal."""
        atoms = self.crystal(element, structure)
        return float(atoms.get_volume()) / len(atoms)
