"""Planar faults of close-packed planes: fcc (111) and hcp (0001), in J/m^2.

A periodic column of ``layers`` close-packed planes, one atom per plane, is built from a
sequence of stacking steps (+1: A->B->C, -1: A->C->B); the cell vector c carries the
in-plane shift that makes the sequence periodic. Perfect fcc is all +1, hcp alternates.
Fault energies are (E_faulted - E_perfect) / A with both cells relaxed perpendicular to the
planes (x and y of every atom fixed, cell fixed):

* fcc intrinsic fault (ISF): one step reversed, ``ABCA|CABC``;
* fcc twin stacking fault (two successive partials on adjacent planes, the minimum of the
  generalised planar-fault curve after the ISF; ``ABCA|C|BCA``): two adjacent steps reversed;
* fcc twin boundary energy: half of the cell holding a twin of +1 steps and one of -1 steps;
* hcp basal faults I1 (``ABAB|CBCB``), I2 (``ABAB|CACA``) and E (``ABAB|C|ABAB``).

Fault energies use N_fault times the perfect column's energy per plane, so columns of different
lengths compare.

The generalised stacking-fault (GSF) curve displaces the crystal above one plane rigidly by
u b_p along the partial direction <112> of fcc (<10-10> of hcp), |b_p| = a / sqrt(3) of the
plane's nearest-neighbour distance a, by tilting c (one fault per period); u = 1 reaches the
intrinsic fault (fcc ISF, hcp I2).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.constraints import FixCartesian
from ase.units import J

from pesgen.validate.relax import RelaxSettings, relax
from pesgen.validate.side import Side

#: eV/Å^2 -> J/m^2
EV_PER_A2_IN_J_PER_M2 = 1e20 / J


def close_packed_column(symbol: str, a: float, spacing: float, steps: list[int], shift: float = 0.0) -> Atoms:
    """One atom per close-packed plane: in-plane nearest-neighbour distance ``a`` (Å), plane
    ``spacing`` (Å), ``steps`` of +-1 between successive planes (the last closes the period);
    ``shift`` adds that many partials along the last step's direction to the periodic vector."""
    a1 = np.array([a, 0.0, 0.0])
    a2 = np.array([a / 2, a * np.sqrt(3) / 2, 0.0])
    t = (a1 + a2) / 3  # A -> B
    s = np.concatenate([[0], np.cumsum(steps)])
    n = len(steps)
    positions = [s[i] * t + [0, 0, i * spacing] for i in range(n)]
    c = s[n] * t + steps[-1] * shift * t + [0, 0, n * spacing]
    # reduce the in-plane part of c by lattice vectors (small LAMMPS tilts)
    frac = np.linalg.solve(np.array([a1[:2], a2[:2]]).T, c[:2])
    c[:2] -= np.round(frac) @ np.array([a1[:2], a2[:2]])
    atoms = Atoms(symbol * n, positions=positions, cell=[a1, a2, c], pbc=True)
    atoms.wrap()
    return atoms


def _plane_geometry(side: Side, element: str, lattice: str) -> tuple[float, float]:
    crystal = side.crystal(element, lattice)
    v = crystal.get_volume() / len(crystal)
    if lattice == "fcc":
        a = (4 * v) ** (1 / 3) / np.sqrt(2)
        return a, np.sqrt(2 / 3) * a
    lengths = crystal.cell.lengths()
    return float(lengths[0]), float(lengths[2] / 2)


def _relaxed_energy(side: Side, atoms: Atoms, name: str) -> float:
    fix_xy = FixCartesian(range(len(atoms)), mask=(True, True, False))
    settings = RelaxSettings(fmax=side.relax_settings.fmax, steps=side.relax_settings.steps, keep_symmetry=False)
    relaxed = relax(atoms, side.calc, cell=False, settings=settings, name=name, constraints=[fix_xy])
    return float(relaxed.get_potential_energy())


def _area(a: float) -> float:
    return np.sqrt(3) / 2 * a * a


def _alternating(n: int) -> list[int]:
    return [1 if i % 2 == 0 else -1 for i in range(n)]


def fault_sequences(lattice: str, layers: int) -> dict[str, tuple[list[int], int]]:
    """Stacking steps of the perfect column and of each fault, and the faults per period.

    A fault shows as the cyclic neighbours in the step list: for fcc a sign change marks an
    hcp-like plane (ISF and TSF: two, twin boundary: one each); for hcp two equal steps mark an
    fcc-like plane (I1: one, I2: two, E: three, adjacent). I1 and E need an odd number of planes.
    """
    n = max(6, 2 * round(layers / 2))
    if lattice == "fcc":
        isf = [1] * n
        isf[n // 2] = -1
        tsf = [1] * n
        tsf[n // 2] = tsf[n // 2 + 1] = -1
        twin = [1] * (n // 2) + [-1] * (n // 2)
        return {"perfect": ([1] * n, 1), "isf": (isf, 1), "tsf": (tsf, 1), "twin_boundary": (twin, 2)}
    i2 = _alternating(n)
    i2[n // 2 + 1] = -i2[n // 2 + 1]
    return {"perfect": (_alternating(n), 1), "I1": (_alternating(n + 1), 1), "I2": (i2, 1),
            "E": (_alternating(n) + [1, 1, 1], 1)}


def stacking_faults(side: Side, element: str, lattice: str, layers: int = 12) -> dict[str, float]:
    """Fault energies (J/m^2): fcc ``isf``, ``tsf``, ``twin_boundary``; hcp ``I1``, ``I2``, ``E``."""
    a, d = _plane_geometry(side, element, lattice)
    sequences = fault_sequences(lattice, layers)
    energies = {name: _relaxed_energy(side, close_packed_column(element, a, d, steps), f"{element} {name}")
                for name, (steps, _) in sequences.items()}
    per_plane = energies["perfect"] / len(sequences["perfect"][0])
    area = _area(a)
    return {name: float((energies[name] - len(steps) * per_plane) / (count * area) * EV_PER_A2_IN_J_PER_M2)
            for name, (steps, count) in sequences.items() if name != "perfect"}


def gsf_curve(side: Side, element: str, lattice: str, layers: int = 12, points: int = 11,
              relaxed: bool = True) -> dict[str, list[float]]:
    """Generalised stacking-fault energy (J/m^2) at u = 0..1 partials (``u``), along <112> (fcc)
    or <10-10> (hcp) on the close-packed plane."""
    a, d = _plane_geometry(side, element, lattice)
    steps = fault_sequences(lattice, layers)["perfect"][0]
    area = _area(a)
    us = np.linspace(0.0, 1.0, points)
    energies = []
    for u in us:
        atoms = close_packed_column(element, a, d, steps, shift=float(u))
        if relaxed:
            energies.append(_relaxed_energy(side, atoms, f"{element} GSF u={u:.2f}"))
        else:
            atoms.calc = side.calc
            energies.append(float(atoms.get_potential_energy()))
    gamma = (np.array(energies) - energies[0]) / area * EV_PER_A2_IN_J_PER_M2
    return {"u": us.tolist(), "energy": gamma.tolist()}
