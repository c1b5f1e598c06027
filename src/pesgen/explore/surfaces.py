"""Slabs with vacuum for given Miller indices (optional initial structures).

A slab is ``layers`` oriented unit cells of the crystal (see
:func:`pesgen.explore.orient.oriented_crystal`) with the third cell vector replaced by the plane
normal times (slab thickness + ``vacuum``): the gap between the top atomic plane and the
periodic image of the bottom plane is exactly ``vacuum`` Å. The slab is centred in the cell and
periodic in all three directions (the vacuum separates the images), as plane-wave DFT and the
MD engine expect.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from pesgen.explore.errors import StructureSpecError
from pesgen.explore.orient import atomic_layers, oriented_crystal


def slab(
    element: str,
    lattice: str,
    plane: str | tuple[int, ...] | list[int],
    layers: int = 4,
    vacuum: float = 10.0,
    size: tuple[int, int] | list[int] = (1, 1),
    a: float | None = None,
    c: float | None = None,
) -> Atoms:
    """A periodic slab of ``element`` in ``lattice`` exposing ``plane`` on both sides.

    Args:
        element, lattice: the crystal.
        plane: Miller indices (Miller-Bravais for hcp/dhcp), e.g. "111" or "10-10".
        layers: oriented unit cells stacked along the normal (see ``oriented_crystal``).
        vacuum: gap between the top atomic plane and the image of the bottom one, Å (> 0).
        size: in-plane repetitions.
        a, c: lattice constants, Å (derived when None).

    Returns:
        Atoms with ``info["system"] = "<El>-<lattice>(<plane>)-<n1>x<n2>x<layers>:slab"`` and
        ``info["vacuum"]``.
    """
    if not (np.isfinite(vacuum) and vacuum > 0):
        raise StructureSpecError(f"slab vacuum={vacuum!r} Å must be positive")
    bulk = oriented_crystal(element, lattice, plane, layers=layers, size=size, a=a, c=c)
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
