"""Crystals oriented to a lattice plane: exact periodic cells with two vectors in the plane.

For a plane (hkl) of the conventional cell (cubic lattices) or of the hexagonal cell (hcp, dhcp;
Miller-Bravais (h k i l) with i = -(h+k) is accepted and reduced to (h k l)), the oriented cell is
``P @ cell`` with an integer matrix ``P`` of determinant +1 whose first two rows are the shortest
lattice vectors spanning the plane and whose third row is the shortest lattice vector with
``h*u + k*v + l*w = 1`` (one interplanar step of the lattice). ``P`` is unimodular, so the cell
holds exactly the atoms of one conventional cell and stays a perfect periodic crystal in all
three directions (its third vector is tilted in general, which keeps ABC stacking correct).
The result is rotated to ASE's standard form: a1 along x, a2 in the xy plane, the plane normal
along z.
"""

from __future__ import annotations

import itertools
import math
import re
from functools import reduce

import numpy as np
from ase import Atoms
from ase.build import make_supercell

from pesgen.structures.crystals import LATTICES, crystal
from pesgen.structures.errors import StructureSpecError

_HEXAGONAL = ("hcp", "dhcp")
#: Atoms whose heights along the plane normal differ by less than this (Å) share a layer.
LAYER_TOL = 1e-4


def parse_plane(plane: str | tuple[int, ...] | list[int], lattice: str) -> tuple[int, int, int]:
    """Miller indices (h, k, l) of a plane given as "111", "(1 1 0)", "10-10", (1, 1, -2, 0)...

    Strings without separators read one index per digit, a "-" negating the next digit. Four
    indices (Miller-Bravais, hexagonal lattices only) must satisfy i = -(h + k).

    Raises:
        StructureSpecError: unparsable indices, all zero, or four indices for a cubic lattice.
    """
    if isinstance(plane, str):
        text = plane.strip().strip("()[]{}").strip()
        if re.search(r"[\s,]", text):
            tokens = [t for t in re.split(r"[\s,]+", text) if t]
        else:
            tokens = re.findall(r"-?\d", text)
            if "".join(tokens) != text:
                tokens = []
        try:
            idx = [int(t) for t in tokens]
        except ValueError:
            idx = []
    else:
        try:
            idx = [int(x) for x in plane]
        except (TypeError, ValueError):
            idx = []
    if len(idx) == 4:
        if lattice not in _HEXAGONAL:
            raise StructureSpecError(f"plane {plane!r}: four Miller-Bravais indices need a hexagonal lattice, not "
                                     f"{lattice}")
        h, k, i, l = idx
        if i != -(h + k):
            raise StructureSpecError(f"plane {plane!r}: Miller-Bravais index i must be -(h+k)")
        idx = [h, k, l]
    if len(idx) != 3 or not any(idx):
        raise StructureSpecError(f"plane {plane!r} is not a lattice plane: give three Miller indices such as '111' "
                                 f"or (1, 1, 0), or four Miller-Bravais indices such as '10-10' for hcp")
    g = reduce(math.gcd, (abs(x) for x in idx))
    return tuple(x // g for x in idx)  # type: ignore[return-value]


def plane_label(plane: str | tuple[int, ...] | list[int], lattice: str) -> str:
    """A readable label of the plane, e.g. "111" or "10-10" (Miller-Bravais for hcp/dhcp)."""
    h, k, l = parse_plane(plane, lattice)
    idx = (h, k, -(h + k), l) if lattice in _HEXAGONAL else (h, k, l)
    return "".join(str(x) for x in idx)


def _oriented_basis(cell: np.ndarray, hkl: tuple[int, int, int]) -> np.ndarray:
    """Unimodular integer matrix whose rows 0, 1 span the plane hkl and row 2 steps one plane."""
    h = np.array(hkl)
    r = max(3, int(np.abs(h).max()) + 2)
    vecs = np.array(list(itertools.product(range(-r, r + 1), repeat=3)))
    vecs = vecs[np.any(vecs != 0, axis=1)]
    lengths = np.linalg.norm(vecs @ cell, axis=1)
    dots = vecs @ h
    in_plane = vecs[dots == 0][np.argsort(lengths[dots == 0], kind="stable")]
    # minimal-area pair spans the 2D lattice of the plane
    best = None
    for i in range(min(len(in_plane), 40)):
        for j in range(i + 1, min(len(in_plane), 40)):
            area = np.linalg.norm(np.cross(in_plane[i] @ cell, in_plane[j] @ cell))
            if area < 1e-8:
                continue
            key = (round(area, 6), lengths_of(in_plane[i], cell) + lengths_of(in_plane[j], cell))
            if best is None or key < best[0]:
                best = (key, in_plane[i], in_plane[j])
    if best is None:
        raise StructureSpecError(f"plane {hkl}: no lattice vectors found in the plane")
    c1, c2 = best[1], best[2]
    step = vecs[dots == 1]
    normal = np.cross(c1 @ cell, c2 @ cell)
    normal /= np.linalg.norm(normal)
    steps_cart = step @ cell
    inplane_len = np.linalg.norm(steps_cart - np.outer(steps_cart @ normal, normal), axis=1)
    c3 = step[np.lexsort((np.linalg.norm(steps_cart, axis=1), np.round(inplane_len, 8)))[0]]
    basis = np.array([c1, c2, c3])
    det = round(np.linalg.det(basis))
    if det == -1:
        basis[[0, 1]] = basis[[1, 0]]
    elif det != 1:  # cannot happen for a primitive hkl with a step h.v = 1
        raise StructureSpecError(f"plane {hkl}: no unimodular oriented basis (det={det})")
    return basis


def lengths_of(v: np.ndarray, cell: np.ndarray) -> float:
    """Cartesian length (Å) of the lattice vector with integer coordinates ``v``."""
    return float(np.linalg.norm(v @ cell))


def oriented_crystal(element: str, lattice: str, plane: str | tuple[int, ...] | list[int], layers: int = 4,
                     size: tuple[int, int] | list[int] = (1, 1), a: float | None = None,
                     c: float | None = None) -> Atoms:
    """A periodic bulk crystal with (a1, a2) in ``plane`` and the plane normal along z.

    Args:
        element: chemical symbol.
        lattice: one of fcc, hcp, dhcp, bcc, sc, diamond.
        plane: Miller (or Miller-Bravais for hcp/dhcp) indices, see :func:`parse_plane`.
        layers: repetitions of the oriented unit cell along its third vector (each adds one
            lattice-plane step of the conventional/hexagonal cell: fcc (111) one atomic layer,
            fcc (100) two, hcp (0001) two...).
        size: in-plane repetitions along a1, a2.
        a, c: lattice constants in Å (derived from ASE data when None).

    Returns:
        Atoms with ``info["plane"]`` (label), ``info["n_layers"]`` (atomic layers) and
        ``info["system"] = "<El>-<lattice>(<plane>)-<n1>x<n2>x<layers>"``.
    """
    if lattice not in LATTICES:
        raise StructureSpecError(f"unknown lattice {lattice!r}; choose one of {LATTICES}")
    if int(layers) != layers or layers < 1:
        raise StructureSpecError(f"layers={layers!r} must be a positive integer")
    try:
        n1, n2 = (int(x) for x in size)
    except (TypeError, ValueError) as exc:
        raise StructureSpecError(f"in-plane size {size!r} must be two positive integers") from exc
    if n1 < 1 or n2 < 1:
        raise StructureSpecError(f"in-plane size {size!r} must be two positive integers")
    hkl = parse_plane(plane, lattice)
    unit = crystal(element, lattice, (1, 1, 1), a=a, c=c, cell="conventional")
    basis = _oriented_basis(unit.cell.array, hkl)
    oriented = make_supercell(unit, basis)
    std_cell, _ = oriented.cell.standard_form()
    oriented.set_cell(std_cell, scale_atoms=True)
    oriented.wrap(eps=1e-9)
    atoms = oriented.repeat((n1, n2, int(layers)))
    atoms.wrap(eps=1e-9)
    label = plane_label(plane, lattice)
    atoms.info.update({"system": f"{element}-{lattice}({label})-{n1}x{n2}x{int(layers)}", "lattice": lattice,
                       "a": unit.info["a"], "c": unit.info["c"], "plane": label,
                       "n_layers": len(atomic_layers(atoms)), "in_plane_size": (n1, n2)})
    return atoms


def atomic_layers(atoms: Atoms, tol: float = LAYER_TOL) -> list[np.ndarray]:
    """Indices of the atoms in each atomic layer parallel to (a1, a2), bottom to top.

    Layers are groups of equal height along the plane normal (within ``tol`` Å), heights taken
    in [0, h) where h is the cell height along the normal.
    """
    a1, a2, a3 = atoms.cell.array
    normal = np.cross(a1, a2)
    normal /= np.linalg.norm(normal)
    frac3 = atoms.cell.scaled_positions(atoms.positions)[:, 2]
    height = float(a3 @ normal)
    z = np.mod(frac3, 1.0) * height
    z[z > height - tol] -= height  # atoms a hair below the top belong to the bottom layer
    order = np.argsort(z, kind="stable")
    layers: list[list[int]] = []
    last = None
    for i in order:
        if last is None or z[i] - last > tol:
            layers.append([])
        layers[-1].append(int(i))
        last = z[i]
    return [np.array(sorted(layer)) for layer in layers]
