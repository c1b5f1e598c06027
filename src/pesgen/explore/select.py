"""Selection of frames to label from a deviation record (Fig. 1 and Sec. II of the paper).

:func:`select` composes three steps, all plain numpy on the record's columns (no MD, no model):

1. **Classify** every system's frames as accurate / candidate / failed with a
   :class:`~pesgen.explore.classify.Classifier` (fixed or adaptive trust levels).
2. **Cap** the candidates per system: :class:`LabelCap` gives at most K per system, reduced by
   DP-GEN's accurate thresholds: K if the system's accurate ratio r < soft, 0 if r >= hard,
   ``int(K * (r - hard) / (soft - hard))`` in between; fewer than ``min_per_system`` -> 0.
3. **Pick** up to the cap per system in a :class:`~pesgen.explore.pick.Picker`'s order
   (random, highest, diverse), skipping frames that a filter rejects
   (:mod:`pesgen.explore.filters`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from ase import Atoms

from pesgen.explore.classify import ACCURATE, CANDIDATE, FAILED, SKIPPED, Classifier, column
from pesgen.explore.errors import SelectionError
from pesgen.explore.pick import Picker, RandomPicker


class Filter(Protocol):
    """A structure filter: ``check(atoms)`` returns None to accept or a reason to reject."""

    def check(self, atoms: Atoms) -> str | None: ...


@dataclass(frozen=True)
class LabelCap:
    """At most ``max_per_system`` labels per system, shrunk by DP-GEN's accurate thresholds.

    Attributes:
        max_per_system: K (DP-GEN's ``fp_task_max``).
        accurate_threshold: hard threshold (``fp_accurate_threshold``, default 1): no labels
            when the system's accurate ratio is at least this.
        accurate_soft_threshold: soft threshold (``fp_accurate_soft_threshold``, default the
            hard one): full K below it, linear decrease to 0 between soft and hard.
        min_per_system: if fewer candidates than this would be labeled, label none
            (``fp_task_min``, default 0).
    """

    max_per_system: int
    accurate_threshold: float = 1.0
    accurate_soft_threshold: float | None = None
    min_per_system: int = 0

    def __post_init__(self) -> None:
        if self.max_per_system < 0 or self.min_per_system < 0:
            raise SelectionError("max_per_system and min_per_system must be >= 0")
        soft = self.soft
        if not (0 <= soft <= self.accurate_threshold <= 1):
            raise SelectionError(
                f"need 0 <= accurate_soft_threshold ({soft}) <= accurate_threshold "
                f"({self.accurate_threshold}) <= 1"
            )

    @property
    def soft(self) -> float:
        """The soft threshold (the hard one when not given)."""
        s = self.accurate_soft_threshold
        return self.accurate_threshold if s is None else s

    def cap(self, accurate_ratio: float) -> int:
        """The label cap of a system whose accurate ratio is ``accurate_ratio``."""
        hard, soft = self.accurate_threshold, self.soft
        if accurate_ratio < soft:
            return self.max_per_system
        if accurate_ratio < hard:
            return int(self.max_per_system * (accurate_ratio - hard) / (soft - hard))
        return 0

    def number(self, accurate_ratio: float, n_candidates: int) -> int:
        """How many of ``n_candidates`` to label (DP-GEN: min(cap, n), 0 if below the min)."""
        n = min(self.cap(accurate_ratio), n_candidates)
        return 0 if n < self.min_per_system else n


@dataclass
class Counts:
    """Numbers of frames per class (skipped frames not counted)."""

    accurate: int = 0
    candidate: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.accurate + self.candidate + self.failed

    @property
    def accurate_ratio(self) -> float:
        """Fraction of accurate frames (NaN when there are none)."""
        return self.accurate / self.total if self.total else math.nan

    @classmethod
    def of(cls, labels: np.ndarray) -> Counts:
        return cls(int(np.sum(labels == ACCURATE)), int(np.sum(labels == CANDIDATE)),
                   int(np.sum(labels == FAILED)))


@dataclass
class SystemSelection:
    """Selection outcome of one system (f_lo eV/Å and v_lo eV/atom: the levels its classes used)."""

    counts: Counts
    cap: int
    selected: np.ndarray
    rejected: dict[int, str] = field(default_factory=dict)
    f_lo: float | None = None
    v_lo: float | None = None


@dataclass
class Selection:
    """Outcome of :func:`select`.

    Attributes:
        labels: class of every row (ACCURATE, CANDIDATE, FAILED; SKIPPED for early steps).
        selected_rows: rows chosen for labeling, grouped by system (system order of first
            appearance), in selection order within a system.
        per_system: system id -> :class:`SystemSelection`.
        per_condition: (target temperature K, target pressure bar or None) -> :class:`Counts`.
        counts: totals over all systems.
        strategy: the strategy actually used (the picker's name).
        messages: notes for the user (fallbacks, filter rejections).
    """

    labels: np.ndarray
    selected_rows: np.ndarray
    per_system: dict[str, SystemSelection]
    per_condition: dict[tuple[float, float | None], Counts]
    counts: Counts
    strategy: str
    messages: list[str] = field(default_factory=list)


def select(
    columns: Mapping[str, np.ndarray] | Any,
    classifier: Classifier,
    cap: LabelCap | int,
    picker: Picker | None = None,
    rng: np.random.Generator | None = None,
    filters: Sequence[Filter] = (),
    frames: Callable[[Sequence[int]], list[Atoms]] | None = None,
    skip_steps: int = 0,
) -> Selection:
    """Classify the frames of a record and pick at most the capped number per system.

    Args:
        columns: a :class:`~pesgen.explore.records.Record` or its ``columns`` dict (needs
            max_devi_f, system; max_devi_v for virial levels; step with ``skip_steps``;
            temperature_target and pressure_target for per-condition counts when present).
        classifier: e.g. :class:`~pesgen.explore.classify.TrustLevels` or ``AdaptiveLower``.
        cap: a :class:`LabelCap` or an int K.
        picker: the candidates' order (:data:`~pesgen.explore.pick.PICKERS`); default random.
        rng: numpy generator handed to the picker; default ``np.random.default_rng(0)``.
        filters: structure filters; they need frames (taken from a Record automatically).
        frames: callable rows -> list of Atoms (default: the Record's ``frames``).
        skip_steps: frames with step < skip_steps are SKIPPED (DP-GEN's model_devi_skip).

    Raises:
        SelectionError: features missing for a candidate, filters without frames, missing columns.
    """
    if hasattr(columns, "columns") and hasattr(columns, "frames"):
        frames = columns.frames if frames is None else frames
        columns = columns.columns
    cap = LabelCap(cap) if isinstance(cap, int) else cap
    if filters and frames is None:
        raise SelectionError("structure filters need frames: pass a Record or frames=")
    picker = picker if picker is not None else RandomPicker()
    rng = rng if rng is not None else np.random.default_rng(0)
    f = column(columns, "max_devi_f")
    labels = np.full(len(f), SKIPPED, dtype=np.int8)
    active = column(columns, "step") >= skip_steps if skip_steps > 0 else np.ones(len(f), dtype=bool)
    messages = list(picker.notes)
    per_system: dict[str, SystemSelection] = {}
    for name, rows in _systems(column(columns, "system").astype(str)):
        rows = rows[active[rows]]
        sub = {key: np.asarray(values)[rows] for key, values in columns.items() if "devi" in key}
        lab, f_lo, v_lo = classifier.classify(sub, name)
        labels[rows] = lab
        counts = Counts.of(lab)
        cand = rows[lab == CANDIDATE]
        want = cap.number(counts.accurate_ratio if counts.total else 0.0, len(cand))
        order = picker.order(cand, f[cand], rng) if want > 0 and len(cand) else ()
        chosen, rejected = _take(order, want, filters, frames)
        per_system[name] = SystemSelection(counts, cap.cap(counts.accurate_ratio) if counts.total
                                           else cap.max_per_system, chosen, rejected, f_lo, v_lo)
        if rejected:
            messages.append(f"system {name}: {len(rejected)} candidate(s) rejected by filters")
    selected = [p.selected for p in per_system.values()]
    return Selection(labels, np.concatenate(selected) if selected else np.zeros(0, dtype=np.int64),
                     per_system, _per_condition(columns, labels), Counts.of(labels), picker.name, messages)


def _systems(systems: np.ndarray) -> Iterable[tuple[str, np.ndarray]]:
    """(system, its rows) in order of first appearance."""
    uniq, first, inverse = np.unique(systems, return_index=True, return_inverse=True)
    by_group = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[by_group], np.arange(len(uniq) + 1))
    for g in np.argsort(first, kind="stable"):
        yield str(uniq[g]), by_group[bounds[g]:bounds[g + 1]]


def _per_condition(columns: Mapping[str, np.ndarray], labels: np.ndarray
                   ) -> dict[tuple[float, float | None], Counts]:
    """Counts per (target temperature K, target pressure bar; None when NaN)."""
    if "temperature_target" not in columns:
        return {}
    t = np.asarray(columns["temperature_target"], dtype=np.float64)
    p = (np.asarray(columns["pressure_target"], dtype=np.float64)
         if "pressure_target" in columns else np.full(len(t), np.nan))
    pairs = np.stack([t, np.where(np.isfinite(p), p, -np.inf)], axis=1)
    cond, cond_inv = np.unique(pairs, axis=0, return_inverse=True)
    cond_inv = cond_inv.reshape(-1)
    return {(round(float(tc), 6), None if not np.isfinite(pc) else round(float(pc), 6)):
            Counts.of(labels[cond_inv == c]) for c, (tc, pc) in enumerate(cond)}


def _take(order: Iterable[int], want: int, filters: Sequence[Filter],
          frames: Callable[[Sequence[int]], list[Atoms]] | None) -> tuple[np.ndarray, dict[int, str]]:
    """Up to ``want`` rows of ``order``, skipping (and returning) filter rejections."""
    chosen: list[int] = []
    rejected: dict[int, str] = {}
    for row in order:
        if len(chosen) >= want:
            break
        if filters:
            atoms = frames([row])[0]  # type: ignore[misc]
            reason = next((r for r in (flt.check(atoms) for flt in filters) if r), None)
            if reason:
                rejected[int(row)] = reason
                continue
        chosen.append(int(row))
    return np.array(chosen, dtype=np.int64), rejected
