"""Classification of explored frames by model deviation (Fig. 1 and Sec. II of the paper).

A :class:`Classifier` sorts one system's frames into accurate / candidate / failed and reports
the lower levels it used (:class:`Classes`); :func:`pesgen.explore.select.select` calls it once per system with
that system's deviation columns (those whose names contain "devi"). Two are provided:

* :class:`TrustLevels` -- fixed window on the max force deviation ``[f_lo, f_hi)`` (eV/Å) and
  optionally on the max virial deviation ``[v_lo, v_hi)`` (eV/atom), with DP-GEN2's rule:
  failed if ``f >= f_hi`` or ``v >= v_hi`` (or NaN); accurate if ``f < f_lo`` and
  ``v < v_lo``; candidate otherwise. (DP-GEN 1 checks "candidate" first, so a frame with f in
  the window and v above v_hi is a candidate there; here it is failed.)
* :class:`AdaptiveLower` -- DP-GEN's ``model_devi_adapt_trust_lo``, per system: frames with
  ``f > f_hi`` or ``v > v_hi`` fail; of the others, the ``max(numb_candi_f,
  int(perc_candi_f / 100 * n))`` with the largest f are candidates (likewise for v, union of the
  two), the rest accurate; the adapted ``f_lo`` is the smallest f among the force candidates.

A classifier with its own levels per system implements the same method and reads ``system``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from pesgen.explore.errors import SelectionError

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

    def classify(self, columns: Mapping[str, np.ndarray], system: str = "") -> Classes:
        """The class of every row and the fixed lower levels."""
        f = column(columns, "max_devi_f").astype(np.float64)
        failed = ~(f < self.f_hi)  # NaN fails
        accurate = f < self.f_lo
        if self.v_hi is not None:
            v = column(columns, "max_devi_v").astype(np.float64)
            failed |= ~(v < self.v_hi)
            accurate &= v < self.v_lo
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
