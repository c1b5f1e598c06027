"""Counts and label ranges of a store (what ``pesgen data info`` prints)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from pesgen.data.store import Store


@dataclass
class CompositionStats:
    """Labeled frames of one composition.

    Attributes:
        formula: chemical formula (ASE "metal" style, e.g. "Al31Mg").
        natoms: atoms per frame.
        count: number of labeled frames.
        energy_per_atom: (min, max) energy per atom, eV/atom.
        max_force: largest per-atom force norm, eV/Å.
        with_stress: frames that carry a stress/virial.
    """

    formula: str
    natoms: int
    count: int = 0
    energy_per_atom: tuple[float, float] = (np.inf, -np.inf)
    max_force: float = 0.0
    with_stress: int = 0


@dataclass
class StoreSummary:
    """Counts per composition, iteration, origin and labeler; failures by reason; label ranges.

    ``energy_per_atom`` (eV/atom) and ``force_norm`` (eV/Å, per-atom |F|) are (min, max) over
    all labeled frames, or None for an empty store.
    """

    path: str
    labeled: int = 0
    failed: int = 0
    compositions: list[CompositionStats] = field(default_factory=list)
    iterations: Counter = field(default_factory=Counter)
    origins: Counter = field(default_factory=Counter)
    labelers: Counter = field(default_factory=Counter)
    failed_reasons: Counter = field(default_factory=Counter)
    energy_per_atom: tuple[float, float] | None = None
    force_norm: tuple[float, float] | None = None
    journal_mode: str = ""


def summarize(store: Store) -> StoreSummary:
    """Read every frame of ``store`` once and tally it."""
    summary = StoreSummary(path=str(store.path), journal_mode=store.journal_mode)
    by_formula: dict[tuple[str, int], CompositionStats] = {}
    e_lo, e_hi, f_lo, f_hi = np.inf, -np.inf, np.inf, -np.inf
    for atoms in store.frames(include_failed=True):
        prov = atoms.info["provenance"]
        if "failed_reason" in atoms.info:
            summary.failed += 1
            reason = atoms.info["failed_reason"].strip().splitlines()
            summary.failed_reasons[reason[0] if reason else "(no reason given)"] += 1
            continue
        summary.labeled += 1
        summary.iterations[prov.iteration] += 1
        summary.origins[prov.origin] += 1
        summary.labelers[prov.labeler or "(unknown)"] += 1
        formula = atoms.get_chemical_formula("metal")
        stats = by_formula.setdefault((formula, len(atoms)), CompositionStats(formula, len(atoms)))
        epa = atoms.calc.results["energy"] / len(atoms)
        fnorm = np.linalg.norm(atoms.calc.results["forces"], axis=1)
        stats.count += 1
        stats.energy_per_atom = (min(stats.energy_per_atom[0], epa),
                                 max(stats.energy_per_atom[1], epa))
        stats.max_force = max(stats.max_force, float(fnorm.max()))
        stats.with_stress += "stress" in atoms.calc.results
        e_lo, e_hi = min(e_lo, epa), max(e_hi, epa)
        f_lo, f_hi = min(f_lo, float(fnorm.min())), max(f_hi, float(fnorm.max()))
    summary.compositions = sorted(by_formula.values(), key=lambda s: (s.natoms, s.formula))
    if summary.labeled:
        summary.energy_per_atom = (float(e_lo), float(e_hi))
        summary.force_norm = (float(f_lo), float(f_hi))
    return summary
