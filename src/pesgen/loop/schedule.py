"""Stages of a run built from its config, with the loop's extra convergence rule.

The stage machinery is :mod:`pesgen.explore.stages`. The loop adds one rule from the issue: a
stage is also converged when its candidate count falls below ``convergence.min_candidates``
(the model is not uncertain anywhere worth labeling). Candidate counts are kept beside the
ratios so the schedule's state file restores them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pesgen.explore.errors import StageError
from pesgen.explore.select import LabelCap
from pesgen.explore.stages import Conditions, Schedule, Stage, StageStatistics, temperature_ramp
from pesgen.loop.config import RunConfig
from pesgen.loop.errors import ConfigError


@dataclass
class CountingStatistics(StageStatistics):
    """:class:`StageStatistics` plus the number of candidate frames per iteration."""

    n_candidates: list[int] = field(default_factory=list)

    def add(self, iteration: int, accurate: int, candidate: int, failed: int,
            n_selected: int = 0, f_lo: float | None = None) -> None:
        super().add(iteration, accurate, candidate, failed, n_selected, f_lo)
        self.n_candidates.append(int(candidate))


@dataclass(frozen=True)
class LoopStage(Stage):
    """A stage that is also converged when fewer than ``min_candidates`` frames are candidates."""

    min_candidates: int = 0

    def converged(self, stats: StageStatistics) -> bool:
        if super().converged(stats):
            return True
        counts = getattr(stats, "n_candidates", [])
        return bool(self.min_candidates > 0 and counts and counts[-1] < self.min_candidates)


class LoopSchedule(Schedule):
    """A :class:`Schedule` whose statistics count candidates (see :class:`LoopStage`)."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        super().__init__(stages)
        self.stats = [CountingStatistics() for _ in self.stages]

    def restore(self, state: Mapping[str, Any]) -> None:
        plain = {**state, "stats": [{k: v for k, v in s.items() if k != "n_candidates"} for s in state["stats"]]}
        super().restore(plain)
        self.stats = [CountingStatistics(**s) for s in state["stats"]]


def match_systems(patterns: Sequence[str], systems: Sequence[str]) -> tuple[str, ...]:
    """System ids matching any fnmatch pattern, in the order of ``systems`` (may be empty)."""
    return tuple(s for s in systems if any(fnmatch.fnmatchcase(s, p) for p in patterns))


def build_schedule(cfg: RunConfig, systems: Sequence[str], config_path: str = "<config>") -> LoopSchedule:
    """The stages of ``cfg`` over the initial systems ``systems``."""
    ex = cfg.exploration
    conv = cfg.convergence
    sel = cfg.selection
    cap = LabelCap(sel.max_per_system, sel.accurate_threshold, sel.accurate_soft_threshold, sel.min_per_system)

    def stage(name: str, patterns: Sequence[str], temps: Sequence[float], pressures: Sequence[float],
              ensemble: str, n_steps: int, record_every: int, min_it: int, max_it: int, key: str) -> LoopStage:
        chosen = match_systems(patterns, systems)
        if not chosen:
            raise ConfigError(config_path, [(key, f"patterns {list(patterns)} match none of the systems "
                                                  f"{list(systems)[:6]}{' ...' if len(systems) > 6 else ''}")])
        try:
            cond = Conditions(chosen, tuple(temps), tuple(pressures), n_steps, ensemble, record_every,
                              ex.timestep)
            return LoopStage(cond, label_cap=cap, accurate_threshold=conv.accurate_ratio,
                             n_consecutive=conv.n_consecutive, min_iterations=min_it, max_iterations=max_it,
                             name=name, min_candidates=conv.min_candidates)
        except StageError as exc:
            raise ConfigError(config_path, [(key.rsplit(".", 1)[0], str(exc))]) from None

    stages: list[LoopStage] = []
    if ex.ramp is not None:
        r = ex.ramp
        for t in temperature_ramp(r.n_stages, r.t_min, r.t_max, r.spacing):
            stages.append(stage(f"T={t:.0f}K", r.systems, [t], r.pressures, ex.ensemble, ex.n_steps,
                                ex.record_every, conv.min_iterations_per_stage, conv.max_iterations_per_stage,
                                "exploration.ramp.systems"))
    else:
        for k, s in enumerate(ex.stages):
            stages.append(stage(s.name or f"stage {k}", s.systems, s.temperatures, s.pressures,
                                s.ensemble or ex.ensemble, s.n_steps or ex.n_steps,
                                s.record_every or ex.record_every,
                                s.min_iterations or conv.min_iterations_per_stage,
                                s.max_iterations or conv.max_iterations_per_stage,
                                f"exploration.stages[{k}].systems"))
    return LoopSchedule(stages)
