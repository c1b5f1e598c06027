"""Exploration stages: which conditions each iteration explores, and when a stage is done.

* :class:`Conditions` -- one iteration's exploration: systems x temperatures x pressures walkers,
  number of MD steps, ensemble, time step and recording interval (DP-GEN's ``model_devi_jobs``
  entry).
* :class:`Stage` -- conditions explored over one or more iterations until converged, with the
  label cap (:class:`~pesgen.explore.select.LabelCap`, DP-GEN's soft/hard accurate thresholds)
  and the convergence rule: the accurate ratio of the last ``n_consecutive`` iterations at least
  ``accurate_threshold`` (DP-GEN2's fixed-levels report), or, for the adaptive lower level, the
  adapted f_lo changing by less than ``f_lo_tolerance`` over the last ``n_consecutive``
  iterations (DP-GEN2's adaptive-lower report); either way also when fewer than
  ``min_candidates`` frames were candidates (the model is not uncertain anywhere worth labeling).
  With error targets (``target_force_rmse``, ``target_energy_rmse``) the stage converges only
  when that deviation rule holds AND the audit of the iteration (:mod:`pesgen.explore.audit`) is
  below the targets: every system's RMSE, and the upper confidence bound of the pooled RMSE.
  :meth:`Stage.verdict` says which rule decided, with the numbers (:class:`Verdict`).
* :class:`StageStatistics` -- per-iteration accurate / candidate / failed ratios of a stage.
* :class:`Schedule` -- maps iteration index -> conditions. A stage advances when it converged
  (after at least ``min_iterations``) or reached ``max_iterations``; the schedule is finished
  after the last stage. It serialises to a dict so a killed loop resumes.

:func:`temperature_ramp` and :func:`ramp_schedule` build the paper's protocol: the temperature
rises with the iteration index from 50 K to 2000 K.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pydantic import ConfigDict

from pesgen.explore.audit import SystemErrors, pooled, upper_rmse
from pesgen.explore.errors import StageError
from pesgen.explore.select import LabelCap
from pesgen.schema import parse

ENSEMBLES = ("nvt", "npt", "nve")


@dataclass(frozen=True)
class Conditions:
    """The exploration of one iteration.

    Attributes:
        systems: system ids of the initial structures to start walkers from.
        temperatures: target temperatures, K.
        pressures: target pressures, bar (used with "npt"; ignored otherwise).
        n_steps: MD steps per walker.
        ensemble: "nvt", "npt" or "nve".
        record_every: record deviations (and possibly the frame) every this many steps.
        timestep: MD time step, fs.
    """

    systems: tuple[str, ...]
    temperatures: tuple[float, ...]
    pressures: tuple[float, ...] = ()
    n_steps: int = 1000
    ensemble: str = "nvt"
    record_every: int = 10
    timestep: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "systems", tuple(str(s) for s in self.systems))
        object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        object.__setattr__(self, "pressures", tuple(float(p) for p in self.pressures))
        if not self.systems:
            raise StageError("conditions: 'systems' is empty")
        if not self.temperatures or any(not (t > 0 and math.isfinite(t))
                                        for t in self.temperatures):
            raise StageError(f"conditions: temperatures {self.temperatures} must be > 0 K")
        if self.ensemble not in ENSEMBLES:
            raise StageError(f"conditions: ensemble {self.ensemble!r}; choose {ENSEMBLES}")
        if self.ensemble == "npt" and not self.pressures:
            raise StageError("conditions: ensemble 'npt' needs 'pressures' (bar)")
        if self.n_steps < 1 or self.record_every < 1:
            raise StageError("conditions: n_steps and record_every must be >= 1")
        if self.record_every > self.n_steps:
            raise StageError(
                f"conditions: record_every={self.record_every} > n_steps={self.n_steps} "
                f"records nothing"
            )
        if not (self.timestep > 0 and math.isfinite(self.timestep)):
            raise StageError(f"conditions: timestep {self.timestep} fs must be > 0")

    def walkers(self) -> list[tuple[str, float, float | None]]:
        """(system, temperature K, pressure bar or None) of every walker."""
        pressures: Sequence[float | None] = self.pressures if self.ensemble == "npt" else [None]
        return list(itertools.product(self.systems, self.temperatures, pressures))

    @property
    def n_records(self) -> int:
        """Recorded frames per walker."""
        return self.n_steps // self.record_every

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "conditions") -> Conditions:
        """Build from a config table; errors name ``where`` and the key."""
        return parse(cls, data, where, StageError)


Conditions.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]


@dataclass
class StageStatistics:
    """Per-iteration statistics of one stage (ratios over all its recorded frames)."""

    iterations: list[int] = field(default_factory=list)
    accurate_ratio: list[float] = field(default_factory=list)
    candidate_ratio: list[float] = field(default_factory=list)
    failed_ratio: list[float] = field(default_factory=list)
    n_selected: list[int] = field(default_factory=list)
    f_lo: list[float | None] = field(default_factory=list)
    n_candidates: list[int] = field(default_factory=list)
    audit: list[dict[str, dict[str, float]] | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        # a state written before audits existed: no audit for its iterations
        self.audit = [None] * (len(self.iterations) - len(self.audit)) + list(self.audit)

    def add(self, iteration: int, accurate: int, candidate: int, failed: int,
            n_selected: int = 0, f_lo: float | None = None,
            audit: Mapping[str, SystemErrors] | None = None) -> None:
        """Record one iteration's frame counts (accurate, candidate, failed), selection and audit
        (system -> its audited errors; None: no audit)."""
        total = accurate + candidate + failed
        if total <= 0:
            raise StageError(f"iteration {iteration}: no explored frames to judge convergence")
        self.iterations.append(int(iteration))
        self.accurate_ratio.append(accurate / total)
        self.candidate_ratio.append(candidate / total)
        self.failed_ratio.append(failed / total)
        self.n_selected.append(int(n_selected))
        self.f_lo.append(f_lo)
        self.n_candidates.append(int(candidate))
        self.audit.append(None if audit is None else {k: v.to_json() for k, v in audit.items()})

    def last_audit(self) -> dict[str, SystemErrors] | None:
        """The latest iteration's audit, system -> errors (None: not audited)."""
        last = self.audit[-1] if self.audit else None
        return None if last is None else {k: SystemErrors(**v) for k, v in last.items()}


@dataclass(frozen=True)
class Verdict:
    """A stage's convergence judgement of one iteration.

    Attributes:
        converged: the stage's rule holds.
        rule: the deviation rule consulted ("accurate_ratio", "f_lo_tolerance", "min_candidates").
        deviation_holds: whether it holds. deviation_text: its numbers.
        audit_holds: whether the audited errors are below the targets (None: no targets).
        audit_text: the audit's numbers (empty without targets).
    """

    converged: bool
    rule: str
    deviation_holds: bool
    deviation_text: str
    audit_holds: bool | None = None
    audit_text: str = ""

    @property
    def decided_by(self) -> str:
        """Which rule settled the outcome: "deviation", "audit" or "deviation+audit"."""
        if self.audit_holds is None:
            return "deviation"
        if self.converged:
            return "deviation+audit"
        return "deviation" if not self.deviation_holds and self.audit_holds else (
            "audit" if self.deviation_holds else "deviation+audit")

    @property
    def text(self) -> str:
        """One line: each rule, whether it holds, and its numbers."""
        out = f"deviation rule ({self.deviation_text}) {'holds' if self.deviation_holds else 'fails'}"
        if self.audit_holds is not None:
            out += f"; audit ({self.audit_text}) {'holds' if self.audit_holds else 'fails'}"
        return out

    def to_json(self) -> dict[str, Any]:
        return {"converged": self.converged, "rule": self.rule, "decided_by": self.decided_by,
                "deviation_holds": self.deviation_holds, "deviation": self.deviation_text,
                "audit_holds": self.audit_holds, "audit": self.audit_text, "text": self.text}


@dataclass(frozen=True)
class Stage:
    """A stage: conditions explored until convergence.

    Attributes:
        conditions: what every iteration of the stage explores.
        label_cap: the per-system label cap with DP-GEN's accurate thresholds.
        accurate_threshold: converged when the accurate ratio is at least this ...
        n_consecutive: ... in this many consecutive iterations of the stage.
        f_lo_tolerance: if set, converge instead when the adapted f_lo (eV/Å) of the last
            ``n_consecutive`` + 1 iterations changes by less than this between neighbours.
        min_candidates: also converged when the last iteration had fewer candidates (0: off).
        min_iterations, max_iterations: bounds on the iterations spent in the stage.
        name: a label for reports.
        target_force_rmse: if set, also require the audited force RMSE below this, eV/Å.
        target_energy_rmse: if set, also require the audited energy RMSE below this, eV/atom.
        target_confidence: confidence of the upper bound of the pooled audited RMSE.
    """

    conditions: Conditions
    label_cap: LabelCap = field(default_factory=lambda: LabelCap(100))
    accurate_threshold: float = 0.99
    n_consecutive: int = 1
    f_lo_tolerance: float | None = None
    min_iterations: int = 1
    max_iterations: int = 10
    name: str = ""
    min_candidates: int = 0
    target_force_rmse: float | None = None
    target_energy_rmse: float | None = None
    target_confidence: float = 0.9

    def __post_init__(self) -> None:
        if not 0 < self.target_confidence < 1:
            raise StageError(f"target_confidence={self.target_confidence} must be in (0, 1)")
        if not (0 < self.accurate_threshold <= 1):
            raise StageError(f"accurate_threshold={self.accurate_threshold} must be in (0, 1]")
        if self.n_consecutive < 1:
            raise StageError("n_consecutive must be >= 1")
        if not (1 <= self.min_iterations <= self.max_iterations):
            raise StageError(
                f"need 1 <= min_iterations ({self.min_iterations}) <= max_iterations "
                f"({self.max_iterations})"
            )

    @property
    def has_targets(self) -> bool:
        """Whether convergence also needs the audited errors below targets."""
        return self.target_force_rmse is not None or self.target_energy_rmse is not None

    def converged(self, stats: StageStatistics) -> bool:
        """Whether ``stats`` meets this stage's convergence rule."""
        return self.verdict(stats).converged

    def verdict(self, stats: StageStatistics) -> Verdict:
        """The deviation rule and, with targets, the audit rule on the latest iteration."""
        rule, holds, text = self._deviation_rule(stats)
        if not self.has_targets:
            return Verdict(holds, rule, holds, text)
        audit_holds, audit_text = self.audit_rule(stats.last_audit())
        return Verdict(holds and audit_holds, rule, holds, text, audit_holds, audit_text)

    def _deviation_rule(self, stats: StageStatistics) -> tuple[str, bool, str]:
        if self.min_candidates > 0 and stats.n_candidates and stats.n_candidates[-1] < self.min_candidates:
            return "min_candidates", True, f"{stats.n_candidates[-1]} candidates < {self.min_candidates}"
        if self.f_lo_tolerance is not None:
            seq = stats.f_lo[-(self.n_consecutive + 1):]
            if len(seq) < self.n_consecutive + 1 or any(x is None for x in seq):
                return "f_lo_tolerance", False, f"{len(seq)} adapted f_lo values, need {self.n_consecutive + 1}"
            moves = [abs(a - b) for a, b in itertools.pairwise(seq)]  # type: ignore[operator]
            return ("f_lo_tolerance", all(m < self.f_lo_tolerance for m in moves),
                    f"f_lo moved {max(moves):.4f} vs tolerance {self.f_lo_tolerance} eV/Å")
        last = stats.accurate_ratio[-self.n_consecutive:]
        holds = len(last) == self.n_consecutive and min(last) >= self.accurate_threshold
        lowest = f"{100 * min(last):.1f}%" if last else "none"
        return ("accurate_ratio", holds, f"accurate {lowest} over {len(last)} iteration(s) vs "
                f"{100 * self.accurate_threshold:.1f}%")

    def audit_rule(self, audit: Mapping[str, SystemErrors] | None) -> tuple[bool, str]:
        """Whether the audit of every system of the stage meets the targets, and its numbers.

        For each target: every system's RMSE (point estimate) below it, and the upper
        ``target_confidence`` bound of the RMSE pooled over all audited frames of the stage
        (:func:`~pesgen.explore.audit.upper_rmse`) below it. A system of the stage without an
        audited frame fails the rule.
        """
        if audit is None:
            return False, "no audit"
        missing = [s for s in self.conditions.systems if audit.get(s) is None or audit[s].n == 0]
        if missing:
            return False, f"no audited frame of {missing[:3]}{' ...' if len(missing) > 3 else ''}"
        errors = {s: audit[s] for s in self.conditions.systems}
        total = pooled(errors)
        ok, parts = True, []
        for target, attr, sum_attr, unit, scale in (
                (self.target_force_rmse, "rmse_f", "sum_sq_f", "eV/Å", 1.0),
                (self.target_energy_rmse, "rmse_e", "sum_sq_e", "meV/atom", 1000.0)):
            if target is None:
                continue
            worst = max(errors, key=lambda s, a=attr: getattr(errors[s], a))
            point = getattr(errors[worst], attr)
            upper = upper_rmse(getattr(total, sum_attr), total.n, self.target_confidence)
            ok &= point < target and upper < target
            parts.append(f"{attr} worst {worst} {scale * point:.4g}, pooled {scale * getattr(total, attr):.4g} "
                         f"upper {100 * self.target_confidence:.0f}% {scale * upper:.4g} vs target "
                         f"{scale * target:.4g} {unit}")
        return ok, f"{total.n} frames: " + "; ".join(parts)


class Schedule:
    """Maps iteration index -> :class:`Conditions` through a sequence of stages.

    Usage by the loop::

        cond = schedule.conditions(it)        # what to explore in iteration ``it``
        ...explore, select...
        schedule.record(it, accurate=..., candidate=..., failed=..., n_selected=...)
        if schedule.finished: stop
    """

    def __init__(self, stages: Sequence[Stage]) -> None:
        if not stages:
            raise StageError("a schedule needs at least one stage")
        self.stages = list(stages)
        self.stats = [StageStatistics() for _ in self.stages]
        self._stage_of: dict[int, int] = {}
        self._current = 0
        self.finished = False
        self.converged = False
        self.events: list[str] = []

    @property
    def current_stage(self) -> int:
        """Index of the stage the next iteration belongs to."""
        return self._current

    def stage_label(self, s: int) -> str:
        """How stage ``s`` is named everywhere: ``stage s`` (numbered from 0, as
        ``exploration.stages[s]`` of the config) and its name when it has another one."""
        name = self.stages[s].name
        return f"stage {s}" + (f" ({name})" if name and name != f"stage {s}" else "")

    def stage_of(self, iteration: int) -> int:
        """Stage index of an iteration already planned or the next one to plan."""
        if iteration in self._stage_of:
            return self._stage_of[iteration]
        if self.finished:
            raise StageError(f"iteration {iteration}: the schedule is finished")
        planned = max(self._stage_of, default=-1)
        if iteration != planned + 1:
            raise StageError(
                f"iteration {iteration} is not the next one to plan (next is {planned + 1})"
            )
        self._stage_of[iteration] = self._current
        return self._current

    def conditions(self, iteration: int) -> Conditions:
        """The conditions of ``iteration`` (planning it if it is the next one)."""
        return self.stages[self.stage_of(iteration)].conditions

    def stage(self, iteration: int) -> Stage:
        """The stage of ``iteration``."""
        return self.stages[self.stage_of(iteration)]

    def record(self, iteration: int, accurate: int, candidate: int, failed: int,
               n_selected: int = 0, f_lo: float | None = None,
               audit: Mapping[str, SystemErrors] | None = None) -> Verdict:
        """Record an explored iteration and advance the stage when it is done.

        Args:
            iteration: the iteration (must have been planned with :meth:`conditions`).
            accurate, candidate, failed: frame counts of the iteration (all systems).
            n_selected: frames selected for labeling.
            f_lo: adapted lower level (adaptive selection), eV/Å.
            audit: system -> audited errors of this iteration's ensemble (None: no audit).

        Returns:
            the stage's :class:`Verdict` on this iteration.
        """
        if iteration not in self._stage_of:
            raise StageError(f"iteration {iteration} was never planned")
        s = self._stage_of[iteration]
        if s != self._current or (self.stats[s].iterations and
                                  iteration <= self.stats[s].iterations[-1]):
            raise StageError(f"iteration {iteration} was already recorded or is out of order")
        stage, stats = self.stages[s], self.stats[s]
        stats.add(iteration, accurate, candidate, failed, n_selected, f_lo, audit)
        done_iters = len(stats.iterations)
        verdict = stage.verdict(stats)
        conv = verdict.converged
        if conv and done_iters >= stage.min_iterations:
            self.events.append(f"{self.stage_label(s)} converged at iteration {iteration}: {verdict.text}")
            self._advance(converged=True)
        elif done_iters >= stage.max_iterations:
            self.events.append(
                f"{self.stage_label(s)} reached max_iterations={stage.max_iterations} without converging "
                f"(last accurate ratio {stats.accurate_ratio[-1]:.4f}; {verdict.text})"
            )
            self._advance(converged=False)
        elif candidate == 0 and not conv:
            self.events.append(
                f"iteration {iteration}: not converged but no candidates; the model cannot "
                f"improve (raise the upper trust level)"
            )
        return verdict

    def _advance(self, converged: bool) -> None:
        if self._current == len(self.stages) - 1:
            self.finished = True
            self.converged = converged
        else:
            self._current += 1

    def to_dict(self) -> dict[str, Any]:
        """Progress (not the stage definitions) as plain data, for the run's state file."""
        return {"current": self._current, "finished": self.finished,
                "converged": self.converged, "events": list(self.events),
                "stage_of": {str(k): v for k, v in self._stage_of.items()},
                "stats": [asdict(s) for s in self.stats]}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Restore progress saved by :meth:`to_dict` (same stages)."""
        if len(state["stats"]) != len(self.stages):
            raise StageError("saved schedule state has a different number of stages")
        self._current = int(state["current"])
        self.finished = bool(state["finished"])
        self.converged = bool(state["converged"])
        self.events = list(state["events"])
        self._stage_of = {int(k): int(v) for k, v in state["stage_of"].items()}
        self.stats = [StageStatistics(**s) for s in state["stats"]]


def temperature_ramp(n: int, t_min: float = 50.0, t_max: float = 2000.0,
                     spacing: str = "geometric") -> list[float]:
    """``n`` temperatures (K) rising from ``t_min`` to ``t_max``.

    "geometric" spacing (default) gives equal ratios, i.e. more stages at low temperature where
    the thermal displacements change fastest relative to their size; "linear" equal steps.
    """
    if n < 1:
        raise StageError(f"temperature ramp needs n >= 1, got {n}")
    if not (0 < t_min <= t_max):
        raise StageError(f"temperature ramp needs 0 < t_min <= t_max, got {t_min}, {t_max}")
    if spacing == "geometric":
        return np.geomspace(t_min, t_max, n).tolist()
    if spacing == "linear":
        return np.linspace(t_min, t_max, n).tolist()
    raise StageError(f"spacing {spacing!r} must be 'geometric' or 'linear'")


def ramp_schedule(
    systems: Sequence[str],
    n_stages: int,
    t_min: float = 50.0,
    t_max: float = 2000.0,
    spacing: str = "geometric",
    pressures: Sequence[float] = (),
    n_steps: int = 1000,
    ensemble: str = "nvt",
    record_every: int = 10,
    timestep: float = 2.0,
    **stage_options: Any,
) -> Schedule:
    """The paper's protocol: one stage per temperature of a rising ramp (50 K to 2000 K).

    ``stage_options`` go to every :class:`Stage` (label_cap, accurate_threshold, ...).
    """
    stages = [
        Stage(Conditions(tuple(systems), (t,), tuple(pressures), n_steps, ensemble,
                         record_every, timestep), name=f"T={t:.0f}K", **stage_options)
        for t in temperature_ramp(n_stages, t_min, t_max, spacing)
    ]
    return Schedule(stages)
