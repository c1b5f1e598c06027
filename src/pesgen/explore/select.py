"""Selection of frames to label from a deviation record (Fig. 1 and Sec. II of the paper).

:func:`select` composes three steps, all plain numpy on the record's columns (no MD, no model):

1. **Classify** each system's frames as accurate / candidate / failed with a :class:`Classifier`
   (given the system's columns whose names contain "devi", and the system id for per-system
   levels); it also reports the lower levels it used (:class:`Classes`).
   :class:`TrustLevels` -- fixed window on the max force deviation ``[f_lo, f_hi)`` (eV/Å) and
   optionally on the max virial deviation ``[v_lo, v_hi)`` (eV/atom) and the energy deviation
   ``[e_lo, e_hi)`` (eV/atom), with DP-GEN2's rule: failed if ``f >= f_hi`` or ``v >= v_hi`` or
   ``e >= e_hi`` (or NaN); accurate if ``f < f_lo`` and ``v < v_lo`` and ``e < e_lo``; candidate
   otherwise. (DP-GEN 1 checks "candidate" first, so a frame with f in
   the window and v above v_hi is a candidate there; here it is failed.)
   :class:`AdaptiveLower` -- DP-GEN's ``model_devi_adapt_trust_lo``, per system: frames with
   ``f > f_hi`` or ``v > v_hi`` fail; of the others, the ``max(numb_candi_f,
   int(perc_candi_f / 100 * n))`` with the largest f are candidates (likewise for v, union of the
   two), the rest accurate; the adapted ``f_lo`` is the smallest f among the force candidates.
   :class:`CalibratedLevels` -- one :class:`TrustLevels` per system (levels fitted from measured
   errors by :mod:`pesgen.explore.calibration`), a default window for the others.
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
from typing import Any, NamedTuple, Protocol

import numpy as np
from ase import Atoms

from pesgen.explore.errors import SelectionError
from pesgen.explore.pick import Picker, RandomPicker

ACCURATE, CANDIDATE, FAILED, SKIPPED = 0, 1, 2, -1


class Classes(NamedTuple):
    """One system's classes and the lower levels that made them."""

    labels: np.ndarray  # ACCURATE, CANDIDATE or FAILED per row, int8
    f_lo: float | None  # eV/Å
    v_lo: float | None  # eV/atom


class Classifier(Protocol):
    """Sorts the rows of one system's deviation columns (max_devi_f eV/Å, max_devi_v eV/atom)."""

    def classify(self, columns: Mapping[str, np.ndarray], system: str = "") -> Classes:
        """The class of every row and the lower levels used."""


def column(columns: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    """``columns[name]`` as an array; SelectionError naming the columns there are if absent."""
    if name not in columns:
        raise SelectionError(f"deviation columns lack {name!r}; have {sorted(columns)}")
    return np.asarray(columns[name])


@dataclass(frozen=True)
class TrustLevels:
    """Fixed trust window: f in eV/Å; v (max virial deviation) and e (energy deviation) in eV/atom,
    each optional (both levels or neither)."""

    f_lo: float
    f_hi: float
    v_lo: float | None = None
    v_hi: float | None = None
    e_lo: float | None = None
    e_hi: float | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.f_lo <= self.f_hi):
            raise SelectionError(
                f"trust levels need 0 <= f_lo <= f_hi, got f_lo={self.f_lo}, f_hi={self.f_hi}"
            )
        for name, lo, hi in (("v", self.v_lo, self.v_hi), ("e", self.e_lo, self.e_hi)):
            if (lo is None) != (hi is None):
                raise SelectionError(f"give both {name}_lo and {name}_hi, or neither")
            if lo is not None and not (0 <= lo <= hi):  # type: ignore[operator]
                raise SelectionError(f"need 0 <= {name}_lo <= {name}_hi, got {lo}, {hi}")

    def classify(self, columns: Mapping[str, np.ndarray], system: str = "") -> Classes:
        """The class of every row and the fixed lower levels."""
        f = column(columns, "max_devi_f").astype(np.float64)
        failed = ~(f < self.f_hi)  # NaN fails
        accurate = f < self.f_lo
        for name, lo, hi in (("max_devi_v", self.v_lo, self.v_hi), ("devi_e", self.e_lo, self.e_hi)):
            if hi is not None:
                x = column(columns, name).astype(np.float64)
                failed |= ~(x < hi)
                accurate &= x < lo
        out = np.full(len(f), CANDIDATE, dtype=np.int8)
        out[accurate] = ACCURATE
        out[failed] = FAILED
        return Classes(out, self.f_lo, self.v_lo)


@dataclass(frozen=True)
class AdaptiveLower:
    """DP-GEN's adaptive lower trust level (``model_devi_adapt_trust_lo``), per system.

    Attributes:
        f_hi: upper force level, eV/Å (frames with f > f_hi fail).
        numb_candi_f: at least this many force candidates per system (DP-GEN default 10).
        perc_candi_f: at least this percentage of the non-failed frames (DP-GEN default 0).
        v_hi, numb_candi_v, perc_candi_v: the same for the virial, eV/atom (None: no virial).
    """

    f_hi: float
    numb_candi_f: int = 10
    perc_candi_f: float = 0.0
    v_hi: float | None = None
    numb_candi_v: int = 0
    perc_candi_v: float = 0.0

    def __post_init__(self) -> None:
        if not self.f_hi >= 0:
            raise SelectionError(f"f_hi={self.f_hi!r} must be >= 0")
        if self.numb_candi_f < 0 or self.numb_candi_v < 0:
            raise SelectionError("numb_candi_f and numb_candi_v must be >= 0")
        if not (0 <= self.perc_candi_f <= 100 and 0 <= self.perc_candi_v <= 100):
            raise SelectionError("perc_candi_f and perc_candi_v are percentages in [0, 100]")

    def classify(self, columns: Mapping[str, np.ndarray], system: str = "") -> Classes:
        """The class of every row and the adapted lower levels."""
        f = column(columns, "max_devi_f").astype(np.float64)
        failed = ~(f <= self.f_hi)  # DP-GEN: fails when f > f_hi (NaN fails too)
        v = None
        if self.v_hi is not None:
            v = column(columns, "max_devi_v").astype(np.float64)
            failed |= ~(v <= self.v_hi)
        ok = np.flatnonzero(~failed)
        out = np.full(len(f), ACCURATE, dtype=np.int8)
        out[failed] = FAILED

        def top(values: np.ndarray, numb: int, perc: float, hi: float) -> tuple[np.ndarray, float]:
            n = min(max(numb, int(perc * 0.01 * len(ok))), len(ok))
            if n == 0:
                return np.zeros(0, dtype=np.int64), hi
            order = ok[np.argsort(values[ok], kind="stable")]
            chosen = order[len(order) - n:]
            return chosen, float(values[chosen[0]])

        cand_f, f_lo = top(f, self.numb_candi_f, self.perc_candi_f, self.f_hi)
        out[cand_f] = CANDIDATE
        v_lo = None
        if v is not None:
            cand_v, v_lo = top(v, self.numb_candi_v, self.perc_candi_v, self.v_hi)  # type: ignore[arg-type]
            out[cand_v] = CANDIDATE
        return Classes(out, f_lo, v_lo)


@dataclass(frozen=True)
class CalibratedLevels:
    """Per-system trust windows, e.g. fitted from measured errors
    (:meth:`pesgen.explore.calibration.Calibration.classifier`).

    Attributes:
        levels: system id -> its :class:`TrustLevels` (eV/Å, eV/atom).
        default: the window of every other system (a pooled fit, or the fixed levels).
    """

    levels: Mapping[str, TrustLevels]
    default: TrustLevels

    def window(self, system: str) -> TrustLevels:
        """The trust window a system's frames are classified with."""
        return self.levels.get(system, self.default)

    @property
    def f_hi_max(self) -> float:
        """The largest upper level of any window, eV/Å (every candidate lies below it)."""
        return max([self.default.f_hi, *(w.f_hi for w in self.levels.values())])

    def classify(self, columns: Mapping[str, np.ndarray], system: str = "") -> Classes:
        """The class of every row with the system's window, and its lower levels."""
        return self.window(system).classify(columns, system)


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
        classifier: e.g. :class:`TrustLevels` or :class:`AdaptiveLower`.
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
