"""Selection of frames to label from a deviation record (Fig. 1 and Sec. II of the paper).

Three steps, all plain numpy on the record's columns (no MD, no model):

1. **Classify** every frame: accurate / candidate / failed.
   :class:`TrustLevels` -- fixed window on the max force deviation ``[f_lo, f_hi)`` (eV/Å) and
   optionally on the max virial deviation ``[v_lo, v_hi)`` (eV/atom), with DP-GEN2's rule:
   failed if ``f >= f_hi`` or ``v >= v_hi`` (or NaN); accurate if ``f < f_lo`` and
   ``v < v_lo``; candidate otherwise. (DP-GEN 1 checks "candidate" first, so a frame with f in
   the window and v above v_hi is a candidate there; here it is failed.)
   :class:`AdaptiveLower` -- DP-GEN's ``model_devi_adapt_trust_lo``, per system: frames with
   ``f > f_hi`` or ``v > v_hi`` fail; of the others, the ``max(numb_candi_f,
   int(perc_candi_f / 100 * n))`` with the largest f are candidates (likewise for v, union of the
   two), the rest accurate; the adapted ``f_lo`` is the smallest f among the force candidates.
2. **Cap** the candidates per system: :class:`LabelCap` gives at most K per system, reduced by
   DP-GEN's accurate thresholds: K if the system's accurate ratio r < soft, 0 if r >= hard,
   ``int(K * (r - hard) / (soft - hard))`` in between; fewer than ``min_per_system`` -> 0.
3. **Pick** up to the cap per system by a strategy, skipping frames that a filter rejects
   (:mod:`pesgen.explore.filters`): "random" (DP-GEN's choice: candidates shuffled), "highest"
   (largest max_devi_f first), "diverse" (farthest-point sampling in a feature space the model
   supplies, starting from the highest-deviation candidate; features are standardised per
   dimension over the system's candidates).

**Default strategy: "random"**, by measurement: on one explored pool of EMT Al (fcc and hcp walkers,
300-1500 K), 24 labels picked at random gave a retrained ensemble with held-out force/energy errors
of 0.088 eV/Å / 17 meV/atom, "diverse" 0.090 / 25 and "highest" 0.131 / 46 (3 seeds;
``bench/bench_selection.py``, figures in bench/RESULTS.md). "diverse" (which falls back to "random"
with a warning and a note in :attr:`Selection.messages` when no features are given) stays available.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from ase import Atoms

from pesgen.explore.errors import SelectionError

ACCURATE, CANDIDATE, FAILED, SKIPPED = 0, 1, 2, -1
CLASS_NAMES = {ACCURATE: "accurate", CANDIDATE: "candidate", FAILED: "failed"}
STRATEGIES = ("random", "highest", "diverse")


class Filter(Protocol):
    """A structure filter: ``check(atoms)`` returns None to accept or a reason to reject."""

    def check(self, atoms: Atoms) -> str | None: ...


def _column(columns: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    if name not in columns:
        raise SelectionError(f"deviation columns lack {name!r}; have {sorted(columns)}")
    return np.asarray(columns[name])


@dataclass(frozen=True)
class TrustLevels:
    """Fixed trust window: f in eV/Å, v in eV/atom (v levels optional, both or neither)."""

    f_lo: float
    f_hi: float
    v_lo: float | None = None
    v_hi: float | None = None

    def __post_init__(self) -> None:
        if not (0 <= self.f_lo <= self.f_hi):
            raise SelectionError(
                f"trust levels need 0 <= f_lo <= f_hi, got f_lo={self.f_lo}, f_hi={self.f_hi}"
            )
        if (self.v_lo is None) != (self.v_hi is None):
            raise SelectionError("give both v_lo and v_hi, or neither")
        if self.v_lo is not None and not (0 <= self.v_lo <= self.v_hi):  # type: ignore[operator]
            raise SelectionError(f"need 0 <= v_lo <= v_hi, got {self.v_lo}, {self.v_hi}")

    def classify(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Class of every row (ACCURATE, CANDIDATE, FAILED) as int8."""
        f = _column(columns, "max_devi_f").astype(np.float64)
        failed = ~(f < self.f_hi)  # NaN fails
        accurate = f < self.f_lo
        if self.v_hi is not None:
            v = _column(columns, "max_devi_v").astype(np.float64)
            failed |= ~(v < self.v_hi)
            accurate &= v < self.v_lo
        out = np.full(len(f), CANDIDATE, dtype=np.int8)
        out[accurate] = ACCURATE
        out[failed] = FAILED
        return out


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

    def classify_group(self, f: np.ndarray, v: np.ndarray | None
                       ) -> tuple[np.ndarray, float, float | None]:
        """Classes of one system's rows, the adapted f_lo and v_lo."""
        f = f.astype(np.float64)
        failed = ~(f <= self.f_hi)  # DP-GEN: fails when f > f_hi (NaN fails too)
        if self.v_hi is not None:
            assert v is not None
            v = v.astype(np.float64)
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
        if self.v_hi is not None:
            cand_v, v_lo = top(v, self.numb_candi_v, self.perc_candi_v, self.v_hi)  # type: ignore[arg-type]
            out[cand_v] = CANDIDATE
        return out, f_lo, v_lo


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

    def ratio(self, name: str) -> float:
        """Fraction of the frames in class ``name`` (NaN when there are none)."""
        return getattr(self, name) / self.total if self.total else math.nan

    @property
    def accurate_ratio(self) -> float:
        return self.ratio("accurate")

    @classmethod
    def of(cls, labels: np.ndarray) -> Counts:
        return cls(int(np.sum(labels == ACCURATE)), int(np.sum(labels == CANDIDATE)),
                   int(np.sum(labels == FAILED)))


@dataclass
class SystemSelection:
    """Selection outcome of one system."""

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
        strategy: the strategy actually used.
        messages: notes for the user (fallbacks, filter rejections).
    """

    labels: np.ndarray
    selected_rows: np.ndarray
    per_system: dict[str, SystemSelection]
    per_condition: dict[tuple[float, float | None], Counts]
    counts: Counts
    strategy: str
    messages: list[str] = field(default_factory=list)


def _condition_key(t: float, p: float) -> tuple[float, float | None]:
    return (round(float(t), 6), None if not np.isfinite(p) else round(float(p), 6))


def farthest_point_order(features: np.ndarray, start: int) -> Any:
    """Yield indices of ``features`` rows in farthest-point order starting at ``start``.

    Each next index maximises the Euclidean distance to the nearest already-yielded row; the
    caller may stop early. Rows yielded and then rejected by a filter still count as visited.
    """
    n = len(features)
    dist = np.full(n, np.inf)
    visited = np.zeros(n, dtype=bool)
    current = start
    for _ in range(n):
        visited[current] = True
        yield current
        d = np.linalg.norm(features - features[current], axis=1)
        dist = np.minimum(dist, d)
        dist[visited] = -np.inf
        if visited.all():
            return
        current = int(np.argmax(dist))


def _standardise(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return (x - x.mean(axis=0)) / std


def select(
    columns: Mapping[str, np.ndarray] | Any,
    classifier: TrustLevels | AdaptiveLower,
    cap: LabelCap | int,
    strategy: str = "random",
    rng: np.random.Generator | None = None,
    features: np.ndarray | None = None,
    feature_rows: np.ndarray | None = None,
    filters: Sequence[Filter] = (),
    frames: Callable[[Sequence[int]], list[Atoms]] | None = None,
    skip_steps: int = 0,
) -> Selection:
    """Classify the frames of a record and pick at most the capped number per system.

    Args:
        columns: a :class:`~pesgen.explore.records.Record` or its ``columns`` dict (needs
            max_devi_f, system; max_devi_v for virial levels; step with ``skip_steps``;
            temperature_target and pressure_target for per-condition counts when present).
        classifier: :class:`TrustLevels` or :class:`AdaptiveLower`.
        cap: a :class:`LabelCap` or an int K.
        strategy: "random" (default), "diverse" or "highest".
        rng: numpy generator (random strategy); default ``np.random.default_rng(0)``.
        features: (m, d) per-frame descriptor features for "diverse".
        feature_rows: (m,) record rows of the feature rows; default ``arange(len(record))``.
        filters: structure filters; they need frames (taken from a Record automatically).
        frames: callable rows -> list of Atoms (default: the Record's ``frames``).
        skip_steps: frames with step < skip_steps are SKIPPED (DP-GEN's model_devi_skip).

    Raises:
        SelectionError: bad strategy, features of the wrong shape or missing for a candidate,
            filters without frames, missing columns.
    """
    if strategy not in STRATEGIES:
        raise SelectionError(f"unknown selection strategy {strategy!r}; choose {STRATEGIES}")
    record = None
    if hasattr(columns, "columns") and hasattr(columns, "frames"):
        record = columns
        columns = record.columns
        if frames is None:
            frames = record.frames
    if isinstance(cap, int):
        cap = LabelCap(cap)
    if filters and frames is None:
        raise SelectionError("structure filters need frames: pass a Record or frames=")
    rng = rng if rng is not None else np.random.default_rng(0)
    f = _column(columns, "max_devi_f")
    n = len(f)
    systems = _column(columns, "system").astype(str)
    messages: list[str] = []

    feat = None
    if strategy == "diverse":
        if features is None:
            msg = ("selection strategy 'diverse' needs per-frame descriptor features, none were "
                   "given; falling back to 'random'")
            warnings.warn(msg, stacklevel=2)
            messages.append(msg)
            strategy = "random"
        else:
            features = np.asarray(features, dtype=np.float64)
            if features.ndim != 2:
                raise SelectionError(f"features must be a (n, d) array, got {features.shape}")
            rows = np.arange(n) if feature_rows is None else np.asarray(feature_rows, dtype=int)
            if len(rows) != len(features):
                raise SelectionError(
                    f"features has {len(features)} rows but feature_rows/record has {len(rows)}"
                )
            feat = np.full((n, features.shape[1]), np.nan)
            if len(rows) and (rows.min() < 0 or rows.max() >= n):
                raise SelectionError("feature_rows outside the record's rows")
            feat[rows] = features

    labels = np.full(n, SKIPPED, dtype=np.int8)
    active = np.ones(n, dtype=bool)
    if skip_steps > 0:
        active = _column(columns, "step") >= skip_steps

    per_system: dict[str, SystemSelection] = {}
    selected_all: list[np.ndarray] = []
    uniq, first, inverse = np.unique(systems, return_index=True, return_inverse=True)
    by_group = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[by_group], np.arange(len(uniq) + 1))
    for g in np.argsort(first, kind="stable"):  # systems in order of first appearance
        name = str(uniq[g])
        rows = by_group[bounds[g]:bounds[g + 1]]
        rows = rows[active[rows]]
        if isinstance(classifier, AdaptiveLower):
            v = _column(columns, "max_devi_v")[rows] if classifier.v_hi is not None else None
            lab, f_lo, v_lo = classifier.classify_group(f[rows], v)
        else:
            sub = {"max_devi_f": f[rows]}
            if classifier.v_hi is not None:
                sub["max_devi_v"] = _column(columns, "max_devi_v")[rows]
            lab = classifier.classify(sub)
            f_lo, v_lo = classifier.f_lo, classifier.v_lo
        labels[rows] = lab
        counts = Counts.of(lab)
        cand = rows[lab == CANDIDATE]
        want = cap.number(counts.accurate_ratio if counts.total else 0.0, len(cand))
        chosen, rejected = _pick(cand, want, strategy, f, feat, rng, filters, frames, name)
        per_system[name] = SystemSelection(counts, cap.cap(counts.accurate_ratio)
                                           if counts.total else cap.max_per_system,
                                           chosen, rejected, f_lo, v_lo)
        if rejected:
            messages.append(f"system {name}: {len(rejected)} candidate(s) rejected by filters")
        selected_all.append(chosen)

    per_condition: dict[tuple[float, float | None], Counts] = {}
    if "temperature_target" in columns:
        t = np.asarray(columns["temperature_target"], dtype=np.float64)
        p = (np.asarray(columns["pressure_target"], dtype=np.float64)
             if "pressure_target" in columns else np.full(n, np.nan))
        pairs = np.stack([t, np.where(np.isfinite(p), p, -np.inf)], axis=1)
        cond, cond_inv = np.unique(pairs, axis=0, return_inverse=True)
        cond_inv = cond_inv.reshape(-1)
        for c, (tc, pc) in enumerate(cond):
            per_condition[_condition_key(tc, pc)] = Counts.of(labels[cond_inv == c])
    selected = np.concatenate(selected_all) if selected_all else np.zeros(0, dtype=np.int64)
    return Selection(labels, selected.astype(np.int64), per_system, per_condition,
                     Counts.of(labels), strategy, messages)


def _pick(
    cand: np.ndarray,
    want: int,
    strategy: str,
    f: np.ndarray,
    feat: np.ndarray | None,
    rng: np.random.Generator,
    filters: Sequence[Filter],
    frames: Callable[[Sequence[int]], list[Atoms]] | None,
    system: str,
) -> tuple[np.ndarray, dict[int, str]]:
    """Up to ``want`` candidate rows in strategy order, skipping filter rejections."""
    if want <= 0 or len(cand) == 0:
        return np.zeros(0, dtype=np.int64), {}
    if strategy == "random":
        order: Any = iter(cand[rng.permutation(len(cand))].tolist())
    elif strategy == "highest":
        order = iter(cand[np.argsort(-f[cand].astype(np.float64), kind="stable")].tolist())
    else:
        assert feat is not None
        x = feat[cand]
        missing = np.flatnonzero(np.isnan(x).any(axis=1))
        if len(missing):
            raise SelectionError(
                f"system {system}: no features for candidate row(s) "
                f"{cand[missing][:10].tolist()}{'...' if len(missing) > 10 else ''}"
            )
        start = int(np.argmax(f[cand]))
        order = (int(cand[k]) for k in farthest_point_order(_standardise(x), start))
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
