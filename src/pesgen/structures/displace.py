"""Rigid displacement of two crystal halves (Fig. 1(a.1)(V) of the paper).

Construction (exact, periodic, one interface changed):

1. Build the crystal oriented to the plane (:func:`pesgen.structures.orient.oriented_crystal`):
   a1, a2 lie in the plane, the plane normal n is along z; ``layers`` oriented cells are stacked.
2. Sort the N atomic layers by height along n (bottom to top). The cut lies in the widest
   interlayer gap among the three gaps nearest the middle (below layer N//2 - 1, N//2 or
   N//2 + 1; ties go to N//2). Planes with equal spacings (fcc (111), (100), (110), hcp (0001))
   are thus cut in the middle; hcp (10-10), whose spacings alternate narrow/wide, is cut in a
   wide gap (the cleavage plane that breaks fewer bonds). Layers below the cut form the lower
   half, the others the upper half.
3. Move every atom of the upper half by the vector u, and add u to the third cell vector. The
   interface between the halves (mid-cell) changes by u, while the interface across the
   periodic boundary keeps the perfect crystal (the upper half and the periodic image of the
   lower half move together).

Two modes, both useful to a materials scientist:

* ``"separate"`` (default; the paper's "displace along (hkl)"): u = d n, normal to the plane.
  The interplanar distance at the cut grows by exactly d: cleavage-like decohesion, from a
  stretched bond (d = 0.2 Å) to two free surfaces (d = 10 Å).
* ``"slide"``: u = d t with t a unit vector in the plane, t along ``i a1 + j a2`` of the oriented
  unit cell (``direction=(i, j)``, default (1, 0)): rigid shear of one half over the other, the
  generalized-stacking-fault path (d equal to any lattice translation of the plane along t,
  e.g. the nearest-neighbour distance along fcc <110>, restores the perfect crystal).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from pesgen.structures.errors import StructureSpecError
from pesgen.structures.orient import LAYER_TOL, atomic_layers, oriented_crystal

DISPLACEMENT_MODES: tuple[str, ...] = ("separate", "slide")


def displacement_values(d_min: float, d_max: float, n: int) -> np.ndarray:
    """``n`` evenly spaced displacements from ``d_min`` to ``d_max`` Å (both included)."""
    if n < 1:
        raise StructureSpecError(f"number of displacements n={n!r} must be >= 1")
    if not (np.isfinite(d_min) and np.isfinite(d_max) and 0 <= d_min <= d_max):
        raise StructureSpecError(f"displacement range [{d_min!r}, {d_max!r}] Å must satisfy 0 <= min <= max")
    return np.array([d_min]) if n == 1 else np.linspace(d_min, d_max, n)


def _cut_index(heights: list[float]) -> int:
    """Index of the first upper-half layer: the widest gap among the three nearest the middle."""
    n = len(heights)
    mid = n // 2
    candidates = [k for k in (mid, mid - 1, mid + 1) if 1 <= k <= n - 1]
    gaps = {k: heights[k] - heights[k - 1] for k in candidates}
    widest = max(gaps.values())
    return next(k for k in candidates if gaps[k] >= widest - 1e-6)


def displace_halves(atoms: Atoms, d: float, mode: str = "separate", direction: Sequence[float] = (1.0, 0.0),
                    in_plane_basis: np.ndarray | None = None) -> Atoms:
    """Rigidly displace the upper half of an oriented crystal by ``d`` Å.

    Args:
        atoms: a crystal from :func:`oriented_crystal` (a1, a2 in the plane; at least 2 layers).
        d: displacement magnitude, Å (>= 0).
        mode: "separate" (normal to the plane) or "slide" (in the plane).
        direction: for "slide", coefficients (i, j) of the direction ``i b1 + j b2``.
        in_plane_basis: (2, 3) in-plane vectors b1, b2 for ``direction``; default the cell's
            a1, a2 divided by the in-plane repetitions in ``info["in_plane_size"]`` if present.

    Returns:
        The displaced copy; ``info["displacement"]`` holds the Cartesian vector u (Å),
        ``info["d"]`` and ``info["mode"]`` the request, ``info["cut_layer"]`` the index of the
        first displaced atomic layer.
    """
    if mode not in DISPLACEMENT_MODES:
        raise StructureSpecError(f"unknown displacement mode {mode!r}; choose {DISPLACEMENT_MODES}")
    if not (np.isfinite(d) and d >= 0):
        raise StructureSpecError(f"displacement d={d!r} Å must be >= 0")
    layers = atomic_layers(atoms)
    if len(layers) < 2:
        raise StructureSpecError(f"{atoms.info.get('system', atoms.get_chemical_formula())}: rigid displacement needs "
                                 f"at least two atomic layers, found {len(layers)}; increase 'layers'")
    a1, a2, _ = atoms.cell.array
    normal = np.cross(a1, a2)
    normal /= np.linalg.norm(normal)
    if mode == "separate":
        u = d * normal
    else:
        if in_plane_basis is None:
            n1, n2 = atoms.info.get("in_plane_size", (1, 1))
            in_plane_basis = np.array([a1 / n1, a2 / n2])
        coeff = np.asarray(direction, dtype=float)
        if coeff.shape != (2,) or not np.any(coeff):
            raise StructureSpecError(f"slide direction {direction!r} must be two coefficients (i, j), not both zero")
        t = coeff @ np.asarray(in_plane_basis, dtype=float)
        t -= (t @ normal) * normal
        u = d * t / np.linalg.norm(t)
    out = atoms.copy()
    # put every atom at its height in [0, h) along the normal, so layers are contiguous
    # (same convention as atomic_layers: an atom within LAYER_TOL below the top is at the bottom)
    frac = out.cell.scaled_positions(out.positions)
    frac[:, 2] = np.mod(frac[:, 2], 1.0)
    height = float(out.cell.array[2] @ normal)
    frac[frac[:, 2] * height > height - LAYER_TOL, 2] -= 1.0
    pos = frac @ out.cell.array
    cut = _cut_index([float(pos[layer[0]] @ normal) for layer in layers])
    upper = np.concatenate(layers[cut:])
    pos[upper] += u
    cell = out.cell.array.copy()
    cell[2] += u
    out.set_cell(cell, scale_atoms=False)
    out.positions = pos
    out.info["displacement"] = u.tolist()
    out.info["d"] = float(d)
    out.info["mode"] = mode
    out.info["cut_layer"] = cut
    return out


def displaced_crystals(element: str, lattice: str, planes: Sequence[str | tuple[int, ...]],
                       d_values: Sequence[float] | np.ndarray, layers: int = 6,
                       size: tuple[int, int] | list[int] = (2, 2), mode: str = "separate",
                       direction: Sequence[float] = (1.0, 0.0), a: float | None = None,
                       c: float | None = None) -> list[Atoms]:
    """Oriented crystals with the upper half displaced, one per plane and displacement.

    Args:
        element, lattice: the crystal (e.g. "Al", "fcc").
        planes: planes such as ["100", "110", "111"] (fcc) or ["0001", "10-10", "11-20"] (hcp).
        d_values: displacements, Å (paper: 0.2 to 10).
        layers: oriented unit cells stacked along the normal (see :func:`oriented_crystal`).
        size: in-plane repetitions.
        mode, direction: see :func:`displace_halves`.
        a, c: lattice constants, Å (derived when None).

    Returns:
        One Atoms per (plane, d), ``info["system"]`` e.g. ``"Al-fcc(111)-2x2x6:sep"`` (one system
        per plane and mode, the displacement in ``info["d"]``; "slide" ids carry the direction).
    """
    out: list[Atoms] = []
    for plane in planes:
        base = oriented_crystal(element, lattice, plane, layers=layers, size=size, a=a, c=c)
        tag = "sep" if mode == "separate" else f"slide[{direction[0]:g},{direction[1]:g}]"
        for d in d_values:
            disp = displace_halves(base, float(d), mode=mode, direction=direction)
            disp.info["system"] = f"{base.info['system']}:{tag}"
            out.append(disp)
    return out
