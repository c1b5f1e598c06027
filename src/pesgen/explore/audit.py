"""Audit samples: explored frames labeled whatever their deviation, to measure the true error.

Candidates are the frames the ensemble disagrees on most, so their errors are biased high; an
audit is a small random sample of *all* the frames an iteration explored, drawn per system with
its own random stream and never looking at a deviation column, so the ensemble's error on it is
an unbiased estimate of its error on the distribution being explored.

* :func:`draw_audit` -- the record rows to audit, per system.
* :class:`SystemErrors` -- one system's audited frames reduced to what the convergence rule needs:
  the count and the sums of the per-frame mean squared force error and squared energy error.
* :func:`upper_rmse` -- the one-sided upper confidence bound of an RMSE from such sums.

Units: forces eV/Å, energies eV/atom (the convergence rule converts meV/atom targets).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pesgen.explore.errors import StageError

#: the record columns :func:`draw_audit` reads (nothing else, in particular no deviation)
AUDIT_COLUMNS = ("system", "step", "stop_code")


def draw_audit(columns: Mapping[str, np.ndarray], systems: Sequence[str], rng: np.random.Generator,
               per_system: int = 2, fraction: float | None = None) -> dict[str, list[int]]:
    """The rows of a deviation record to audit: per system of ``systems``, a uniform random
    sample without replacement of its recorded frames.

    Eligible frames: step > 0 (the step-0 frame is the walker's initial structure, often a
    training frame) and, when the column exists, ``stop_code == 0`` (a frame where a walker
    stopped is an extra off the recording grid). Only the columns :data:`AUDIT_COLUMNS` are read,
    so the sample does not depend on the deviations. Systems are visited in the order given and
    each draws from ``rng`` in turn, so the sample is reproducible from the generator's seed.

    Args:
        columns: record columns (at least "system" and "step").
        systems: the systems to audit (those of the stage); one without frames gets no rows.
        rng: the audit's own generator.
        per_system: frames per system (all of them if fewer).
        fraction: if given, ``ceil(fraction * eligible)`` frames per system instead.

    Returns:
        system -> sorted record rows.
    """
    if per_system < 1 or (fraction is not None and not 0 < fraction <= 1):
        raise StageError(f"audit: per_system={per_system} must be >= 1 and fraction={fraction} in (0, 1]")
    system = np.asarray(columns["system"]).astype(str)
    eligible = np.asarray(columns["step"]) > 0
    if "stop_code" in columns:
        eligible &= np.asarray(columns["stop_code"]) == 0
    out: dict[str, list[int]] = {}
    for name in dict.fromkeys(str(s) for s in systems):
        rows = np.flatnonzero(eligible & (system == name))
        n = min(len(rows), per_system if fraction is None else math.ceil(fraction * len(rows)))
        picked = rng.choice(rows, size=n, replace=False) if n else np.zeros(0, dtype=np.int64)
        out[name] = sorted(int(r) for r in picked)
    return out


@dataclass(frozen=True)
class SystemErrors:
    """The audited errors of one system (or of a pooled stage).

    Attributes:
        n: audited frames with a label.
        sum_sq_f: sum over frames of the frame's mean squared force-component error, (eV/Å)².
        sum_sq_e: sum over frames of the squared energy error per atom, (eV/atom)².
        max_force_error: largest atomic force error |F_model - F_label| over the frames, eV/Å.
    """

    n: int
    sum_sq_f: float
    sum_sq_e: float
    max_force_error: float = 0.0

    @classmethod
    def of_frames(cls, rmse_f: Sequence[float], energy_error: Sequence[float],
                  max_force_error: Sequence[float] = ()) -> SystemErrors:
        """From per-frame force RMSE (eV/Å), energy error (eV/atom) and max atomic error (eV/Å)."""
        f, e = np.asarray(rmse_f, float), np.asarray(energy_error, float)
        return cls(len(f), float(np.sum(f ** 2)), float(np.sum(e ** 2)),
                   float(np.max(max_force_error)) if len(max_force_error) else 0.0)

    @property
    def rmse_f(self) -> float | None:
        """Force RMSE, eV/Å: sqrt of the mean over frames of the per-frame mean squares (None: no frame)."""
        return math.sqrt(self.sum_sq_f / self.n) if self.n else None

    @property
    def rmse_e(self) -> float | None:
        """Energy RMSE, eV/atom (None: no frame)."""
        return math.sqrt(self.sum_sq_e / self.n) if self.n else None

    def __add__(self, other: SystemErrors) -> SystemErrors:
        return SystemErrors(self.n + other.n, self.sum_sq_f + other.sum_sq_f, self.sum_sq_e + other.sum_sq_e,
                            max(self.max_force_error, other.max_force_error))

    def to_json(self) -> dict[str, float]:
        return {"n": self.n, "sum_sq_f": self.sum_sq_f, "sum_sq_e": self.sum_sq_e,
                "max_force_error": self.max_force_error}


def pooled(errors: Mapping[str, SystemErrors]) -> SystemErrors:
    """All systems' audited frames together."""
    total = SystemErrors(0, 0.0, 0.0)
    for e in errors.values():
        total = total + e
    return total


def upper_rmse(sum_sq: float, n: int, confidence: float) -> float:
    """One-sided upper confidence bound of an RMSE from ``n`` per-frame mean squares summing to
    ``sum_sq``: ``sqrt(sum_sq / q)``, q the (1 - confidence) quantile of the chi-square
    distribution with n degrees of freedom.

    Exact when each frame's error is one zero-mean normal value of the unknown variance (the
    energy per atom); for a frame's mean square of force components it counts the frame as one
    degree of freedom, which is conservative (the components of a frame are correlated, but
    together carry at least one). Infinite for n = 0.
    """
    if not 0 < confidence < 1:
        raise StageError(f"confidence {confidence} must be in (0, 1)")
    if n <= 0:
        return math.inf
    from scipy.stats import chi2

    return math.sqrt(sum_sq / float(chi2.ppf(1.0 - confidence, n)))
