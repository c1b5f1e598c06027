"""ASE's EMT as a classical oracle (Al, Cu, Ag, Au, Ni, Pd, Pt; no extra dependency)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from ase import Atoms
from ase.calculators.emt import EMT, parameters

from pesgen.label.base import Labeler, LabelerSettings
from pesgen.label.errors import CalculatorError, InvalidStructure, LabelerConfigError
from pesgen.label.result import LabelResult


class EMTLabeler(Labeler):
    """Effective-medium theory (Jacobsen et al.), through ``ase.calculators.emt.EMT``.

    Fast and dependency-free: the whole DP-GEN loop on aluminium runs in minutes with it.
    Energies in eV, forces in eV/Å, stress in eV/Å^3 (ASE sign).
    """

    name = "emt"

    def __init__(self, asap_cutoff: bool = False) -> None:
        self.asap_cutoff = bool(asap_cutoff)

    def settings(self) -> dict[str, Any]:
        return {"asap_cutoff": self.asap_cutoff}

    def check_elements(self, elements: list[str]) -> None:
        if missing := [e for e in elements if e not in parameters]:
            raise LabelerConfigError(f"EMT has no parameters for {missing}; it knows {sorted(parameters)}")

    def label(self, atoms: Atoms, workdir: Path | None = None) -> LabelResult:
        unknown = sorted(set(atoms.get_chemical_symbols()) - set(parameters))
        if unknown:
            raise InvalidStructure(f"EMT has no parameters for {unknown}; "
                                   f"it knows {sorted(parameters)}")
        work = atoms.copy()
        work.calc = EMT(asap_cutoff=self.asap_cutoff)
        start = time.perf_counter()
        try:
            energy = work.get_potential_energy()
            forces = work.get_forces()
            stress = work.get_stress(voigt=True) if work.cell.rank == 3 and all(work.pbc) else None
        except Exception as err:  # the calculator's own error, recorded with the frame
            raise CalculatorError(f"EMT raised {type(err).__name__}: {err}") from err
        return LabelResult(energy=float(energy), forces=forces.copy(), stress=stress,
                           wall_time=time.perf_counter() - start)


class EMTSettings(LabelerSettings):
    """``[label] kind = "emt"``: :class:`EMTLabeler`."""

    labeler = EMTLabeler
    kind: Literal["emt"] = "emt"
    asap_cutoff: bool = False
