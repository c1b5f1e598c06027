"""Random substitutional alloys (Fig. 1(a.1)(IV) of the paper).

The sites of a given structure are occupied at random with the species of a composition. The
composition is met *exactly* for the cell: the number of atoms of each species is the fraction
times the number of sites, rounded by the largest-remainder rule so the counts add up; the
species are then assigned by a uniformly random permutation of the sites (every site is equally
likely to carry any species, which the tests measure).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from pesgen.explore.errors import StructureSpecError


def composition_counts(n_sites: int, composition: Mapping[str, float]) -> dict[str, int]:
    """Integer numbers of atoms per species for ``n_sites`` sites (largest-remainder rounding).

    Args:
        n_sites: number of sites.
        composition: species -> fraction (non-negative; normalised to sum 1).

    Raises:
        StructureSpecError: unknown species, negative fractions or all-zero composition.
    """
    if not composition:
        raise StructureSpecError("alloy composition is empty")
    for sym, x in composition.items():
        if sym not in atomic_numbers:
            raise StructureSpecError(f"alloy composition: unknown element {sym!r}")
        if not (np.isfinite(x) and x >= 0):
            raise StructureSpecError(f"alloy composition: fraction of {sym} is {x!r}, must be >= 0")
    total = float(sum(composition.values()))
    if total <= 0:
        raise StructureSpecError(f"alloy composition {dict(composition)} has no positive fraction")
    symbols = list(composition)
    exact = np.array([composition[s] / total * n_sites for s in symbols])
    counts = np.floor(exact).astype(int)
    remainder = exact - counts
    # stable order: larger remainder first, then the order given
    order = sorted(range(len(symbols)), key=lambda i: (-remainder[i], i))
    for i in order[: n_sites - int(counts.sum())]:
        counts[i] += 1
    return {s: int(c) for s, c in zip(symbols, counts, strict=True)}


def composition_label(counts: Mapping[str, int]) -> str:
    """A readable label such as ``"Al24Mg8"`` (species with zero atoms omitted)."""
    return "".join(f"{s}{n}" for s, n in counts.items() if n > 0)


def random_alloy(
    atoms: Atoms,
    composition: Mapping[str, float],
    rng: np.random.Generator,
    tag_system: bool = True,
) -> Atoms:
    """A copy of ``atoms`` whose sites carry species drawn at random for ``composition``.

    Args:
        atoms: the host structure (its sites are kept; its species are replaced).
        composition: species -> fraction, e.g. ``{"Al": 0.75, "Mg": 0.25}``.
        rng: numpy random generator.
        tag_system: append ``":<label>"`` (e.g. ``":Al24Mg8"``) to ``info["system"]``.

    Returns:
        The alloy, with ``info["composition"]`` = species -> count.
    """
    counts = composition_counts(len(atoms), composition)
    species = np.concatenate([[atomic_numbers[s]] * n for s, n in counts.items()]).astype(int)
    out = atoms.copy()
    out.numbers = species[rng.permutation(len(atoms))]
    if "masses" in out.arrays:  # explicit masses belong to the old species
        del out.arrays["masses"]
    out.info["composition"] = counts
    if tag_system:
        base = atoms.info.get("system", atoms.get_chemical_formula())
        out.info["system"] = f"{base}:{composition_label(counts)}"
    return out
