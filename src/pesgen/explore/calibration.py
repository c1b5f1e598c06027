"""Trust levels from measured errors: the relation between the deviation ε and the true error.

Input: pairs (system, ε eV/Å, true max atomic force error eV/Å) of frames labeled after the
ensemble that predicted ε was trained without them (the loop's labeled candidates and audit
labels, each measured with its own iteration's model). All plain numpy.

Model, in log space: ``log err = log k + b log ε + r``. ``b`` is 1 (``"proportional"``, err ≈ k·ε)
or, with ``"power"``, the Theil–Sen slope of all pairs (the median of pairwise slopes: robust to
outliers). The prefactor is an **upper quantile**: ``log k_q`` is the ``q``-quantile of the
residuals ``log err − b log ε``, so that a fraction ``q`` of the measured frames have
``err ≤ k_q ε^b`` ("accurate" is conservative). Each system with at least ``min_pairs`` pairs gets
its own ``k_q`` (with the pooled ``b``); the others use the fit of all pairs pooled; with fewer
than ``min_pairs`` pairs in all there is no fit.

Levels for a target max force error ``T`` (eV/Å) and a multiple ``m > 1``::

    f_lo = (T / k_q)^(1/b)        ε < f_lo: err ≤ T with probability ≈ q
    f_hi = (m T / k_q)^(1/b)      ε ≥ f_hi: err ≥ m T (at the same quantile): too far out

Goodness of fit (per fit): the number of pairs, the residual scatter (standard deviation of the
natural-log residuals; ``exp(scatter)`` is the typical multiplicative spread) and the coverage (the
fraction of pairs at or under the fitted line, ≈ q by construction for a system's own fit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from pesgen.explore.errors import SelectionError
from pesgen.explore.select import CalibratedLevels, TrustLevels

MODELS = ("proportional", "power")
#: the exponent of a power-law fit is kept in this range (a slope near 0 or below says ε does not
#: rank the errors; the levels would then run off to 0 or infinity)
EXPONENT_RANGE = (0.25, 4.0)
_THEIL_SEN_MAX = 2000  # pairs used for the slope (a seeded subsample above this)


_FIELDS = ("system", "deviation", "error", "source", "rmse")


@dataclass(frozen=True)
class Pairs:
    """Measured frames: system id, deviation ε (eV/Å), true max atomic force error (eV/Å), where
    each pair came from (e.g. "candidates", "audit") and the frame's force RMSE (eV/Å; NaN when
    not measured)."""

    system: np.ndarray
    deviation: np.ndarray
    error: np.ndarray
    source: np.ndarray
    rmse: np.ndarray

    @classmethod
    def of(cls, system: Sequence[str] | str, deviation: Sequence[float], error: Sequence[float],
           source: str = "candidates", rmse: Sequence[float] | None = None) -> Pairs:
        """Pairs of one source; ``system`` is one id per pair, or one id for all."""
        dev = np.asarray(deviation, dtype=np.float64).reshape(-1)
        err = np.asarray(error, dtype=np.float64).reshape(-1)
        sysv = np.full(len(dev), system, dtype=object) if isinstance(system, str) else np.asarray(system, dtype=object)
        rms = np.full(len(dev), np.nan) if rmse is None else np.asarray(rmse, dtype=np.float64).reshape(-1)
        if not (len(sysv) == len(dev) == len(err) == len(rms)):
            raise SelectionError(f"calibration pairs: {len(sysv)} systems, {len(dev)} deviations, "
                                 f"{len(err)} errors, {len(rms)} RMSEs (need one of each per frame)")
        return cls(sysv, dev, err, np.full(len(dev), source, dtype=object), rms)

    @classmethod
    def concat(cls, parts: Sequence[Pairs]) -> Pairs:
        if not parts:
            return cls.of([], [], [])
        return cls(*(np.concatenate([getattr(p, k) for p in parts]) for k in _FIELDS))

    def __len__(self) -> int:
        return len(self.deviation)

    def take(self, mask: np.ndarray) -> Pairs:
        return Pairs(*(getattr(self, k)[mask] for k in _FIELDS))

    def usable(self) -> Pairs:
        """The pairs with finite, positive ε and error (a log fit needs them)."""
        return self.take(np.isfinite(self.deviation) & np.isfinite(self.error) & (self.deviation > 0)
                         & (self.error > 0))

    def counts(self) -> dict[str, int]:
        """Pairs per source."""
        names, n = np.unique(self.source.astype(str), return_counts=True)
        return {str(k): int(v) for k, v in zip(names, n, strict=True)}


@dataclass(frozen=True)
class Fit:
    """err ≈ k ε^exponent at the quantile (k in eV/Å per (eV/Å)^exponent); ``k_median`` is the
    median prefactor, ``scatter`` the std of the log residuals, ``coverage`` the fraction of the
    fit's pairs with err ≤ k ε^exponent."""

    k: float
    exponent: float
    k_median: float
    n_pairs: int
    scatter: float
    coverage: float

    def error_at(self, deviation: float | np.ndarray) -> float | np.ndarray:
        """The quantile's predicted max force error (eV/Å) at deviation ε (eV/Å)."""
        return self.k * np.asarray(deviation, dtype=np.float64) ** self.exponent

    def deviation_at(self, error: float) -> float:
        """The deviation ε (eV/Å) at which the quantile's predicted error equals ``error`` (eV/Å)."""
        return float((error / self.k) ** (1.0 / self.exponent))

    def levels(self, target: float, hi_multiple: float) -> tuple[float, float]:
        """(f_lo, f_hi) in eV/Å for the target max force error (eV/Å) and the multiple for f_hi."""
        return self.deviation_at(target), self.deviation_at(hi_multiple * target)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fit:
        return cls(**{k: data[k] for k in ("k", "exponent", "k_median", "n_pairs", "scatter", "coverage")})


def _theil_sen(x: np.ndarray, y: np.ndarray) -> float | None:
    """Median of the pairwise slopes (None when all x are equal)."""
    if len(x) > _THEIL_SEN_MAX:
        keep = np.random.default_rng(0).choice(len(x), _THEIL_SEN_MAX, replace=False)
        x, y = x[keep], y[keep]
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    ok = np.abs(dx) > 1e-12
    return float(np.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else None


def _fit(log_dev: np.ndarray, log_err: np.ndarray, exponent: float, quantile: float) -> Fit:
    resid = log_err - exponent * log_dev
    log_k = float(np.quantile(resid, quantile))
    return Fit(k=float(np.exp(log_k)), exponent=exponent, k_median=float(np.exp(np.median(resid))),
               n_pairs=len(resid), scatter=float(np.std(resid)), coverage=float(np.mean(resid <= log_k + 1e-12)))


def max_to_rmse(pairs: Pairs, prefer: str = "audit", min_pairs: int = 10) -> float | None:
    """The median ratio of a frame's max atomic force error to its force RMSE (dimensionless), over
    the pairs of source ``prefer`` when it has ``min_pairs`` with an RMSE (the audit: typical frames,
    not the worst), else over all pairs with one; None without any. It turns a target force RMSE
    into a target max force error."""
    p = pairs.usable()
    ok = np.isfinite(p.rmse) & (p.rmse > 0)
    mine = ok & (p.source.astype(str) == prefer)
    use = mine if mine.sum() >= min_pairs else ok
    return float(np.median(p.error[use] / p.rmse[use])) if use.any() else None


def fit_exponent(pairs: Pairs, model: Literal["proportional", "power"] = "proportional") -> float:
    """The exponent b: 1 for "proportional", else the Theil–Sen slope of log err on log ε, clipped to
    :data:`EXPONENT_RANGE` (1 when the deviations do not vary)."""
    if model not in MODELS:
        raise SelectionError(f"calibration model {model!r}; choose one of {MODELS}")
    p = pairs.usable()
    if model == "proportional" or len(p) < 2:
        return 1.0
    slope = _theil_sen(np.log(p.deviation), np.log(p.error))
    return 1.0 if slope is None else float(np.clip(slope, *EXPONENT_RANGE))


@dataclass(frozen=True)
class Calibration:
    """The fitted relations and the levels they give (see the module docstring).

    Attributes:
        model, quantile, min_pairs: how it was fitted. target: max force error, eV/Å.
        hi_multiple: f_hi is where the predicted error reaches this multiple of the target.
        pooled: the fit of all pairs (None with fewer than ``min_pairs``).
        per_system: the systems with their own fit (at least ``min_pairs`` pairs each).
        sources: pairs used, by source ("candidates", "audit").
        target_source: where the target came from (a config key, or how it was derived).
    """

    model: str
    quantile: float
    min_pairs: int
    target: float
    hi_multiple: float
    pooled: Fit | None
    per_system: dict[str, Fit] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    target_source: str = ""

    def fit_of(self, system: str) -> tuple[Fit | None, str]:
        """The fit a system's levels come from and which one it is ("system", "pooled" or "none")."""
        if system in self.per_system:
            return self.per_system[system], "system"
        return (self.pooled, "pooled") if self.pooled is not None else (None, "none")

    def levels(self, system: str | None = None) -> tuple[float, float] | None:
        """(f_lo, f_hi) eV/Å of a system (None: the pooled ones); None without a fit."""
        fit = self.pooled if system is None else self.fit_of(system)[0]
        return None if fit is None else fit.levels(self.target, self.hi_multiple)

    def classifier(self, fallback: TrustLevels) -> CalibratedLevels:
        """Per-system windows (systems without their own fit: the pooled one, else ``fallback``;
        the virial levels are the fallback's)."""

        def window(lo_hi: tuple[float, float]) -> TrustLevels:
            return TrustLevels(lo_hi[0], lo_hi[1], fallback.v_lo, fallback.v_hi, fallback.e_lo, fallback.e_hi)

        pooled = self.levels()
        return CalibratedLevels({name: window(fit.levels(self.target, self.hi_multiple))
                                 for name, fit in self.per_system.items()},
                                window(pooled) if pooled is not None else fallback)

    def to_json(self) -> dict[str, Any]:
        def entry(fit: Fit) -> dict[str, Any]:
            f_lo, f_hi = fit.levels(self.target, self.hi_multiple)
            return fit.to_json() | {"f_lo": f_lo, "f_hi": f_hi}

        return {"model": self.model, "quantile": self.quantile, "min_pairs": self.min_pairs, "target": self.target,
                "target_source": self.target_source, "hi_multiple": self.hi_multiple, "sources": self.sources,
                "pooled": None if self.pooled is None else entry(self.pooled),
                "per_system": {name: entry(fit) for name, fit in self.per_system.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibration:
        return cls(data["model"], data["quantile"], data["min_pairs"], data["target"], data["hi_multiple"],
                   None if data["pooled"] is None else Fit.from_json(data["pooled"]),
                   {name: Fit.from_json(f) for name, f in data["per_system"].items()}, dict(data["sources"]),
                   data.get("target_source", ""))


def fit_calibration(pairs: Pairs, target: float, quantile: float = 0.9, min_pairs: int = 10,
                    hi_multiple: float = 4.0, model: Literal["proportional", "power"] = "proportional",
                    target_source: str = "") -> Calibration:
    """Fit the relation on ``pairs`` and give the levels for ``target`` (max force error, eV/Å;
    ``target_source`` says where it came from, for the record).

    Raises:
        SelectionError: a setting out of range (target ≤ 0, quantile not in (0, 1), min_pairs < 2,
            hi_multiple ≤ 1, unknown model).
    """
    if not target > 0:
        raise SelectionError(f"calibration target {target!r} eV/Å must be > 0")
    if not 0 < quantile < 1:
        raise SelectionError(f"calibration quantile {quantile!r} must be in (0, 1)")
    if min_pairs < 2:
        raise SelectionError(f"calibration min_pairs {min_pairs!r} must be >= 2")
    if not hi_multiple > 1:
        raise SelectionError(f"calibration hi_multiple {hi_multiple!r} must be > 1")
    p = pairs.usable()
    b = fit_exponent(p, model)
    log_dev, log_err = np.log(p.deviation), np.log(p.error)
    pooled = _fit(log_dev, log_err, b, quantile) if len(p) >= min_pairs else None
    per_system: dict[str, Fit] = {}
    names = p.system.astype(str)
    for name in dict.fromkeys(names):
        mine = names == name
        if name and mine.sum() >= min_pairs:
            per_system[name] = _fit(log_dev[mine], log_err[mine], b, quantile)
    return Calibration(model, quantile, min_pairs, float(target), float(hi_multiple), pooled, per_system, p.counts(),
                       target_source)
