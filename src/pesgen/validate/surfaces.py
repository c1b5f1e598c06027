"""Surface formation energies E_sf(hkl) = (E_s - N_s E_0) / (2A), unrelaxed and relaxed, J/m^2.

The symmetrically distinct Miller indices up to a maximum index are found with the rotations
of the crystal's point group (spglib) acting on the indices of the conventional cell
(h' = h W^-1 for a rotation W of fractional coordinates; h and -h are one surface pair).
Slabs are cut with ``ase.build.surface`` from the relaxed conventional cell, thick enough
(``min_thickness`` Å) with ``vacuum`` Å of vacuum on each side, periodic in all directions so
any labeler can take them. The relaxation moves positions only (cell fixed).
"""

from __future__ import annotations

import itertools
from math import gcd

import numpy as np
import spglib
from ase import Atoms
from ase.build import surface

from pesgen.validate.errors import ValidationInputError
from pesgen.validate.relax import RelaxSettings, relax
from pesgen.validate.side import Side
from pesgen.validate.stacking import EV_PER_A2_IN_J_PER_M2
from pesgen.validate.structures import build_crystal


def distinct_miller_indices(atoms: Atoms, max_index: int, symprec: float = 1e-3) -> list[tuple[int, int, int]]:
    """Symmetrically distinct (h, k, l) of ``atoms``' cell with max |index| <= ``max_index``,
    gcd 1, each named by the member of its orbit with the smallest largest index, then the
    largest tuple (so (1, 0, 0) rather than (0, 0, -1))."""
    if max_index < 1:
        raise ValidationInputError(f"miller_max must be >= 1, got {max_index}")
    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    rotations = spglib.get_symmetry(cell, symprec=symprec)["rotations"]
    inverses = [np.rint(np.linalg.inv(w)).astype(int) for w in rotations]
    seen: set[tuple[int, int, int]] = set()
    out = []
    rng = range(-max_index, max_index + 1)
    for hkl in itertools.product(rng, rng, rng):
        if hkl == (0, 0, 0) or gcd(gcd(abs(hkl[0]), abs(hkl[1])), abs(hkl[2])) != 1 or hkl in seen:
            continue
        orbit = set()
        for inv in inverses:
            h = tuple(int(x) for x in np.array(hkl) @ inv)
            orbit.add(h)
            orbit.add(tuple(-x for x in h))
        seen |= orbit
        out.append(min(orbit, key=lambda h: (max(map(abs, h)), [-x for x in h])))
    return sorted(out, key=lambda h: (sum(abs(x) for x in h), sorted(map(abs, h), reverse=True)))


def conventional_cell(side: Side, element: str, lattice: str) -> Atoms:
    """The relaxed crystal in its conventional cell (cubic fcc/bcc, hexagonal hcp)."""
    crystal = side.crystal(element, lattice)
    v = crystal.get_volume() / len(crystal)
    if lattice == "hcp":
        lengths = crystal.cell.lengths()
        return build_crystal(element, "hcp", v, c_over_a=float(lengths[2] / lengths[0]))
    return build_crystal(element, lattice, v, cubic=True)


def make_slab(conventional: Atoms, hkl: tuple[int, int, int], min_thickness: float, vacuum: float) -> Atoms:
    """A periodic slab of ``conventional`` with surface (hkl), at least ``min_thickness`` Å thick,
    ``vacuum`` Å of vacuum each side; normal along z."""
    one = surface(conventional, hkl, 1, vacuum=None, periodic=True)
    thickness = abs(np.linalg.det(one.cell.array)) / np.linalg.norm(np.cross(*one.cell.array[:2]))
    layers = max(1, int(np.ceil(min_thickness / thickness)))
    slab = surface(conventional, hkl, layers, vacuum=vacuum)
    slab.pbc = True
    return slab


def slab_area(slab: Atoms) -> float:
    """Area (Å^2) of the slab's in-plane cell (vectors a and b)."""
    return float(np.linalg.norm(np.cross(slab.cell[0], slab.cell[1])))


def surface_energies(side: Side, element: str, lattice: str, max_index: int, min_thickness: float = 10.0,
                     vacuum: float = 8.0, relaxed: bool = True) -> dict[str, dict[str, float]]:
    """For each distinct surface ``"hkl"``: ``unrelaxed`` and (if ``relaxed``) ``relaxed`` E_sf
    in J/m^2, and the slab's ``atoms``."""
    conv = conventional_cell(side, element, lattice)
    e0 = side.energy_per_atom(element, lattice)
    out: dict[str, dict[str, float]] = {}
    for hkl in distinct_miller_indices(conv, max_index):
        slab = make_slab(conv, hkl, min_thickness, vacuum)
        area = slab_area(slab)
        slab.calc = side.calc
        n = len(slab)
        row = {"atoms": n, "unrelaxed": (slab.get_potential_energy() - n * e0) / (2 * area) * EV_PER_A2_IN_J_PER_M2}
        if relaxed:
            settings = RelaxSettings(fmax=max(side.relax_settings.fmax, 5e-3), steps=side.relax_settings.steps,
                                     keep_symmetry=False)
            done = relax(slab, side.calc, cell=False, settings=settings, name=f"{element} {hkl} slab ({side.name})")
            row["relaxed"] = (done.get_potential_energy() - n * e0) / (2 * area) * EV_PER_A2_IN_J_PER_M2
        out["".join(str(x) for x in hkl)] = {k: float(v) for k, v in row.items()}
    return out
