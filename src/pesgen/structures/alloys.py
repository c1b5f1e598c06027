"""Random substitutional alloys (Fig. 1(a.1)(IV) of the paper) and ordered A-B prototypes.

The sites of a given structure are occupied at random with the species of a composition. The
composition is met *exactly* for the cell: the number of atoms of each species is the fraction
times the number of sites, rounded by the largest-remainder rule so the counts add up; the
species are then assigned by a uniformly random permutation of the sites (every site is equally
likely to carry any species, which the tests measure).

The ordered prototypes (:data:`PROTOTYPES`, Strukturbericht names) are built at a volume per atom
(Å^3), by default the composition average of the elements' reference volumes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from pesgen.structures.crystals import IDEAL_C_OVER_A, reference_volume
from pesgen.structures.errors import StructureSpecError


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


def random_alloy(atoms: Atoms, composition: Mapping[str, float], rng: np.random.Generator,
                 tag_system: bool = True) -> Atoms:
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


#: Built-in prototypes: name -> builder(A, B, volume per atom) (Strukturbericht names).
PROTOTYPES = ("L1_2-A3B", "L1_2-AB3", "L1_0-AB", "B2-AB", "D0_19-A3B", "D0_19-AB3")


def _l12(a_sym: str, b_sym: str, v: float) -> Atoms:
    a = (4 * v) ** (1 / 3)
    return Atoms(b_sym + a_sym * 3, scaled_positions=[[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
                 cell=[a, a, a], pbc=True)


def _l10(a_sym: str, b_sym: str, v: float) -> Atoms:
    a = (4 * v) ** (1 / 3)
    return Atoms(a_sym * 2 + b_sym * 2, scaled_positions=[[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
                 cell=[a, a, a], pbc=True)


def _b2(a_sym: str, b_sym: str, v: float) -> Atoms:
    a = (2 * v) ** (1 / 3)
    return Atoms(a_sym + b_sym, scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]], cell=[a, a, a], pbc=True)


def _d019(a_sym: str, b_sym: str, v: float) -> Atoms:
    # Ni3Sn type, P6_3/mmc: B on 2c, A on 6h (x, 2x, 1/4) with x = 5/6, ideal hcp positions
    a = (4 * v / (np.sqrt(3) * IDEAL_C_OVER_A)) ** (1 / 3)
    c = IDEAL_C_OVER_A * a
    cell = [[2 * a, 0, 0], [-a, a * np.sqrt(3), 0], [0, 0, c]]
    frac = [[1 / 3, 2 / 3, 1 / 4], [2 / 3, 1 / 3, 3 / 4],
            [5 / 6, 2 / 3, 1 / 4], [1 / 3, 1 / 6, 1 / 4], [5 / 6, 1 / 6, 1 / 4],
            [1 / 6, 1 / 3, 3 / 4], [2 / 3, 5 / 6, 3 / 4], [1 / 6, 5 / 6, 3 / 4]]
    return Atoms(b_sym * 2 + a_sym * 6, scaled_positions=frac, cell=cell, pbc=True)


def build_prototype(name: str, a_sym: str, b_sym: str, volume_per_atom: float | None = None) -> Atoms:
    """A built-in ordered A-B structure of :data:`PROTOTYPES` at ``volume_per_atom`` Å^3
    (default: the composition average of the elements' reference volumes)."""
    kind, formula = name.split("-") if name.count("-") == 1 else (name, "")
    if name not in PROTOTYPES:
        raise StructureSpecError(f"unknown alloy prototype {name!r}; known: {list(PROTOTYPES)}")
    if formula.startswith("AB") and formula != "AB":  # AB3: swap roles
        a_sym, b_sym = b_sym, a_sym
    builder = {"L1_2": _l12, "L1_0": _l10, "B2": _b2, "D0_19": _d019}[kind]
    trial = builder(a_sym, b_sym, 1.0)
    if volume_per_atom is None:
        volume_per_atom = float(np.mean([reference_volume(s) for s in trial.get_chemical_symbols()]))
    return builder(a_sym, b_sym, volume_per_atom)
