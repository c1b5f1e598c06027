"""The ASE calculator of a potential (:mod:`pesgen.model.contract`): a DeepPot, an Ensemble, or your own.

Energies in eV, forces in eV/Å, stress in eV/Å^3 (ASE's sign: stress = -virial / V). For an
ensemble the results are the members' means, and ``results`` also holds the model deviations
("max_devi_f", "min_devi_f", "avg_devi_f" eV/Å, "devi_e" eV/atom, "max_devi_v", "min_devi_v",
"avg_devi_v" eV/atom, "devi_f" per atom) and the members' energies and forces.
"""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from pesgen.model.batch import Batch
from pesgen.model.contract import Potential, require_potential
from pesgen.model.deviation import FRAME_DEVIATIONS


class PesgenCalculator(Calculator):
    """``relative`` (eV/Å), when given, is passed to ``evaluate`` (an Ensemble's relative deviations)."""

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, model: Potential, relative: float | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = require_potential(model)
        self.relative = relative

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        batch = Batch.from_atoms(atoms, self.model.type_map)
        options = {} if self.relative is None else {"relative": self.relative}
        out = self.model.evaluate(batch, **options)
        energy = float(out["energy"][0])
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": out["forces"].cpu().numpy().astype(np.float64),
        }
        if "atom_energy" in out:
            self.results["energies"] = out["atom_energy"].cpu().numpy().astype(np.float64)
        if atoms.pbc.all():
            virial = out["virial"][0].cpu().numpy().astype(np.float64)
            stress = -0.5 * (virial + virial.T) / atoms.get_volume()
            self.results["stress"] = stress.flat[[0, 4, 8, 5, 2, 1]]
        if "devi_f" in out:
            for key in FRAME_DEVIATIONS:
                self.results[key] = float(out[key][0])
            self.results["devi_f"] = out["devi_f"].cpu().numpy().astype(np.float64)
            self.results["energy_members"] = out["energy_members"][:, 0].cpu().numpy().astype(np.float64)
            self.results["forces_members"] = out["forces_members"].cpu().numpy().astype(np.float64)
