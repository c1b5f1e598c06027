"""Uniform scaling and random perturbation of structures (Fig. 1(a.1)(II)-(III) of the paper).

Definitions (all measurable, and measured in the tests):

* **Scaling by alpha**: every cell vector and every position is multiplied by ``alpha``; lengths
  scale by alpha, the volume by alpha^3 (as ``scale`` in DP-GEN's ``init_bulk``). The paper uses
  alpha in [0.96, 1.04].
* **Cell perturbation sigma_c** (dimensionless): the cell becomes ``cell @ (I + E)`` with ``E`` a
  random *symmetric* strain whose independent elements are normal with standard deviation
  ``sigma_c / sqrt(3)``. Each cell vector ``v`` then moves by ``v @ E``, whose root-mean-square
  length is ``sigma_c * |v|`` (paper: 0.03 of each length); a symmetric strain adds no rigid
  rotation. Atoms keep their fractional coordinates.
* **Atom perturbation sigma_a** (Å): after the cell strain, every atom moves by an isotropic normal
  vector with standard deviation ``sigma_a / sqrt(3)`` per Cartesian component, so the
  root-mean-square displacement length is ``sigma_a`` (paper: 0.01 Å; DPData's "normal" style).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from ase import Atoms

from pesgen.structures.errors import StructureSpecError


def _check_nonnegative(name: str, value: float) -> float:
    if not (np.isfinite(value) and value >= 0):
        raise StructureSpecError(f"{name}={value!r} must be a finite non-negative number")
    return float(value)


def _append_system_tag(atoms: Atoms, tag: str) -> None:
    base = atoms.info.get("system", atoms.get_chemical_formula())
    atoms.info["system"] = f"{base}:{tag}"


def scale(atoms: Atoms, alpha: float, tag_system: bool = True) -> Atoms:
    """A copy of ``atoms`` with the cell and positions scaled uniformly by ``alpha``.

    Args:
        atoms: the structure (not modified).
        alpha: length scale factor (> 0); the volume scales by alpha^3.
        tag_system: append ``":alpha=<alpha>"`` to ``info["system"]``.

    Returns:
        The scaled copy with ``info["alpha"]`` set (multiplied into any earlier alpha).
    """
    if not (np.isfinite(alpha) and alpha > 0):
        raise StructureSpecError(f"scale factor alpha={alpha!r} must be positive")
    out = atoms.copy()
    out.set_cell(out.cell.array * alpha, scale_atoms=True)
    out.info["alpha"] = float(atoms.info.get("alpha", 1.0)) * float(alpha)
    if tag_system:
        _append_system_tag(out, f"alpha={alpha:.4f}")
    return out


def alpha_values(alpha_min: float, alpha_max: float, n: int) -> np.ndarray:
    """``n`` evenly spaced scale factors from ``alpha_min`` to ``alpha_max`` (both included)."""
    if n < 1:
        raise StructureSpecError(f"number of scale factors n={n!r} must be >= 1")
    if not (0 < alpha_min <= alpha_max):
        raise StructureSpecError(f"scale range [{alpha_min!r}, {alpha_max!r}] must satisfy 0 < min <= max")
    if n == 1:
        return np.array([(alpha_min + alpha_max) / 2.0]) if alpha_min != alpha_max else np.array([alpha_min])
    return np.linspace(alpha_min, alpha_max, n)


def random_strain(rng: np.random.Generator, sigma_c: float) -> np.ndarray:
    """A random symmetric 3x3 strain; each cell vector v moves by v @ E with rms |.| sigma_c |v|."""
    s = _check_nonnegative("sigma_c", sigma_c) / math.sqrt(3.0)
    upper = np.triu(rng.normal(0.0, s, size=(3, 3)))
    return upper + np.triu(upper, 1).T


def perturb(atoms: Atoms, rng: np.random.Generator, sigma_a: float = 0.01, sigma_c: float = 0.03) -> Atoms:
    """A randomly perturbed copy of ``atoms`` (cell strain, then atomic displacements).

    Args:
        atoms: the structure (not modified).
        rng: numpy random generator (seeded by the caller).
        sigma_a: rms atomic displacement length, Å.
        sigma_c: rms relative change of each cell vector (dimensionless). Ignored (no strain)
            when the structure is not periodic in all three directions.

    Returns:
        The perturbed copy; ``info["sigma_a"]`` and ``info["sigma_c"]`` record the magnitudes.
    """
    sigma_a = _check_nonnegative("sigma_a", sigma_a)
    sigma_c = _check_nonnegative("sigma_c", sigma_c)
    out = atoms.copy()
    if sigma_c > 0 and out.pbc.all():
        strain = random_strain(rng, sigma_c)
        out.set_cell(out.cell.array @ (np.eye(3) + strain), scale_atoms=True)
    if sigma_a > 0:
        out.positions = out.positions + rng.normal(0.0, sigma_a / math.sqrt(3.0), size=out.positions.shape)
    out.info["sigma_a"] = sigma_a
    out.info["sigma_c"] = sigma_c
    return out


def scaled_and_perturbed(structures: Sequence[Atoms], rng: np.random.Generator,
                         alphas: Sequence[float] | np.ndarray = (1.0,), n_perturbed: int = 1, sigma_a: float = 0.01,
                         sigma_c: float = 0.03, keep_unperturbed: bool = False) -> list[Atoms]:
    """Every structure scaled by every alpha, then perturbed ``n_perturbed`` times.

    The system id of each output is the input's id with ``":alpha=<alpha>"`` appended (one
    system per structure and scale: its perturbed copies belong to it); ``info["perturbation"]``
    numbers the copies (0 is the unperturbed one when ``keep_unperturbed``).
    """
    if n_perturbed < 0:
        raise StructureSpecError(f"n_perturbed={n_perturbed!r} must be >= 0")
    out: list[Atoms] = []
    for atoms in structures:
        for alpha in alphas:
            scaled = scale(atoms, float(alpha))
            k0 = 0
            if keep_unperturbed:
                copy = scaled.copy()
                copy.info["perturbation"] = 0
                out.append(copy)
                k0 = 1
            for k in range(n_perturbed):
                p = perturb(scaled, rng, sigma_a, sigma_c)
                p.info["perturbation"] = k0 + k
                out.append(p)
    return out
