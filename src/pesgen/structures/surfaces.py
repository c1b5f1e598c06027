"""Slabs with vacuum, and the symmetrically distinct surfaces of a crystal.

Two constructions (lengths in Å):

* :func:`slab` (exploration's optional initial structures): ``layers`` oriented unit cells of
  the crystal (see :func:`pesgen.structures.orient.oriented_crystal`) with the third cell vector
  replaced by the plane normal times (slab thickness + ``vacuum``): the gap between the top atomic
  plane and the periodic image of the bottom plane is exactly ``vacuum`` Å. The slab is centred
  in the cell.
* :func:`make_slab` (validation's surface energies): ``ase.build.surface`` cut of a conventional
  cell, at least ``min_thickness`` Å thick, with ``vacuum`` Å on each side.

Both are periodic in all three directions (the vacuum separates the images), as plane-wave DFT,
the MD engine and any labeler expect. :func:`distinct_miller_indices` finds the symmetrically
distinct (hkl) up to a maximum index with the rotations of the crystal's point group (spglib)
acting on the indices of the cell (h' = h W^-1 for a rotation W of fractional coordinates; h and
-h are one surface pair).
"""

from __future__ import annotations

import itertools
from math import gcd

import numpy as np
import spglib
from ase import Atoms
from ase.build import surface

from pesgen.structures.errors import StructureSpecError
from pesgen.structures.orient import atomic_layers


def slab(bulk: Atoms, vacuum: float = 10.0) -> Atoms:
    """A periodic slab of the oriented crystal ``bulk`` exposing its plane on both sides.

    Args:
        bulk: a crystal from :func:`~pesgen.structures.orient.oriented_crystal` (a1, a2 in the
            plane; its ``layers`` oriented unit cells make the slab).
        vacuum: gap between the top atomic plane and the image of the bottom one, Å (> 0).

    Returns:
        Atoms with ``info["system"] = "<El>-<lattice>(<plane>)-<n1>x<n2>x<layers>:slab"`` and
        ``info["vacuum"]``.
    """
    if not (np.isfinite(vacuum) and vacuum > 0):
        raise StructureSpecError(f"slab vacuum={vacuum!r} Å must be positive")
    a1, a2, _ = bulk.cell.array
    normal = np.cross(a1, a2)
    normal /= np.linalg.norm(normal)
    layer_sets = atomic_layers(bulk)
    frac = bulk.cell.scaled_positions(bulk.positions)
    frac[:, 2] = np.mod(frac[:, 2], 1.0)
    pos = frac @ bulk.cell.array
    z = pos @ normal
    # bottom layer first: atoms of layer 0 that sit just below the top are moved down
    height = float(bulk.cell.array[2] @ normal)
    bottom = layer_sets[0]
    pos[bottom[z[bottom] > height / 2]] -= bulk.cell.array[2]
    z = pos @ normal
    thickness = float(z.max() - z.min())
    out = bulk.copy()
    out.set_cell([a1, a2, normal * (thickness + vacuum)], scale_atoms=False)
    out.positions = pos + normal * (vacuum / 2.0 - z.min())
    out.pbc = True
    out.info["system"] = f"{bulk.info['system']}:slab"
    out.info["vacuum"] = float(vacuum)
    return out


def distinct_miller_indices(atoms: Atoms, max_index: int, symprec: float = 1e-3) -> list[tuple[int, int, int]]:
    """Symmetrically distinct (h, k, l) of ``atoms``' cell with max |index| <= ``max_index``,
    gcd 1, each named by the member of its orbit with the smallest largest index, then the
    largest tuple (so (1, 0, 0) rather than (0, 0, -1)); none when ``max_index`` < 1."""
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
