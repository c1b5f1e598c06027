"""Ordered alloys: formation energy (eV/atom), volume per atom (Å^3/atom) and vacancy formation
energies (eV) of relaxed ordered structures, from files or the built-in A-B prototypes of
:mod:`pesgen.structures.alloys`.

E_af = E_0(alloy) - sum_i c_i mu_i, with mu_i the lowest equilibrium energy per atom of element i
among fcc, hcp and bcc on the same side (the paper's E_0(c_Mg) - c_Mg E_Mg - (1 - c_Mg) E_Al).
The vacancy formation energy on a site holding element X is E(N-1) - E(N) + mu_X in a supercell
of at least ``min_atoms`` atoms, relaxed in positions at the relaxed alloy cell, one value per
symmetry-inequivalent site (spglib).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import spglib
from ase import Atoms
from ase.io import read

from pesgen.validate.errors import ValidationInputError
from pesgen.validate.relax import relax
from pesgen.validate.side import Side


def read_structure(path: str | Path) -> Atoms:
    """An ordered structure from a file ASE reads (CIF, POSCAR, extxyz, ...)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationInputError(f"alloy structure file {path} does not exist")
    try:
        atoms = read(path)
    except Exception as err:
        raise ValidationInputError(f"cannot read alloy structure {path}: {err}") from err
    if not atoms.pbc.all() or atoms.cell.rank < 3:
        raise ValidationInputError(f"alloy structure {path} is not a periodic crystal")
    return atoms


def chemical_potentials(side: Side, elements: list[str]) -> dict[str, float]:
    """mu_i (eV/atom): the lowest relaxed fcc/hcp/bcc energy per atom of each element."""
    return {e: min(side.energy_per_atom(e, s) for s in ("fcc", "hcp", "bcc")) for e in elements}


def inequivalent_sites(atoms: Atoms, symprec: float = 1e-3) -> list[int]:
    """One atom index per symmetry orbit (spglib's equivalent atoms)."""
    data = spglib.get_symmetry_dataset((atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers),
                                       symprec=symprec)
    if data is None:
        return list(range(len(atoms)))
    return sorted(set(int(i) for i in data.equivalent_atoms))


def alloy_properties(side: Side, name: str, atoms: Atoms, vacancies: bool = True,
                     min_atoms: int = 32) -> dict:
    """``formation_energy`` (eV/atom), ``volume`` (Å^3/atom), ``composition`` and, with
    ``vacancies``, ``vacancy`` {"<symbol><index>": E_vf eV} of the relaxed structure."""
    relaxed = relax(atoms, side.calc, cell=True, settings=side.relax_settings, name=f"{name} ({side.name})")
    symbols = relaxed.get_chemical_symbols()
    elements = sorted(set(symbols))
    mu = chemical_potentials(side, elements)
    n = len(relaxed)
    energy = float(relaxed.get_potential_energy())
    comp = {e: symbols.count(e) / n for e in elements}
    out = {"formation_energy": energy / n - sum(comp[e] * mu[e] for e in elements),
           "volume": float(relaxed.get_volume()) / n, "composition": comp, "vacancy": {}}
    if vacancies:
        reps = int(np.ceil((min_atoms / n) ** (1 / 3)))
        perfect = relaxed.repeat(reps)
        perfect.calc = side.calc
        e_perfect = float(perfect.get_potential_energy())
        for site in inequivalent_sites(relaxed):
            defect = perfect.copy()
            del defect[site]
            done = relax(defect, side.calc, cell=False, settings=side.relax_settings,
                         name=f"{name} vacancy at {symbols[site]}{site} ({side.name})")
            out["vacancy"][f"{symbols[site]}{site}"] = float(done.get_potential_energy() - e_perfect
                                                             + mu[symbols[site]])
    return out


__all__ = ["alloy_properties", "chemical_potentials", "inequivalent_sites", "read_structure"]
