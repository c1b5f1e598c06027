"""The labeled frames of a run, as the report shows them: counts per iteration and origin, per
system, failed labels, and each iteration's labeled selection written as an extxyz file."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pesgen.data.extxyz_format import write_extxyz
from pesgen.data.store import Store

#: the origins of a labeled frame (pesgen.data.provenance), in the order the report lists them
ORIGINS = ("initial", "imported", "explored", "audit")


@dataclass
class LabelTally:
    """What the store holds, counted once.

    Attributes:
        labeled: labeled frames (never the failed ones).
        failed: failed labels (recorded, never trained on).
        by_iteration: iteration -> origin -> labeled frames.
        failed_by_iteration: iteration -> failed labels.
        by_system: system -> labeled frames (all origins).
        files: iteration -> the extxyz file of its labeled explored and audit frames (relative to
            the report folder), for the iterations that have some.
    """

    labeled: int = 0
    failed: int = 0
    by_iteration: dict[int, Counter] = field(default_factory=dict)
    failed_by_iteration: Counter = field(default_factory=Counter)
    by_system: Counter = field(default_factory=Counter)
    files: dict[int, str] = field(default_factory=dict)


def tally_labels(store_path: Path, out: Path | None = None) -> LabelTally:
    """Count the store's frames; with ``out``, write ``out/frames/iter.NNNNNN.extxyz`` (the
    explored and audit frames labeled in each iteration, with their provenance) for the report's
    links. A missing store counts nothing."""
    tally = LabelTally()
    if not store_path.is_file():
        return tally
    selected: dict[int, list] = {}
    for atoms in Store(store_path, readonly=True).frames(include_failed=True):
        prov = atoms.info["provenance"]
        if "failed_reason" in atoms.info:
            tally.failed += 1
            tally.failed_by_iteration[prov.iteration] += 1
            continue
        tally.labeled += 1
        tally.by_iteration.setdefault(prov.iteration, Counter())[prov.origin] += 1
        tally.by_system[prov.system or atoms.get_chemical_formula()] += 1
        if prov.origin in ("explored", "audit"):
            selected.setdefault(prov.iteration, []).append(atoms)
    if out is not None:
        for it, frames in sorted(selected.items()):
            name = f"frames/iter.{it:06d}.extxyz"
            (out / "frames").mkdir(parents=True, exist_ok=True)
            write_extxyz(frames, out / name)
            tally.files[it] = name
    return tally
