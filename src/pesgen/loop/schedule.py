"""Stages of a run built from its config (the stage machinery is :mod:`pesgen.explore.stages`)."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from pesgen.explore.errors import StageError
from pesgen.explore.stages import Conditions, Schedule, Stage, temperature_ramp
from pesgen.loop.config import RunConfig
from pesgen.loop.errors import ConfigError


def match_systems(patterns: Sequence[str], systems: Sequence[str]) -> tuple[str, ...]:
    """System ids matching any fnmatch pattern, in the order of ``systems`` (may be empty)."""
    return tuple(s for s in systems if any(fnmatch.fnmatchcase(s, p) for p in patterns))


def build_schedule(cfg: RunConfig, systems: Sequence[str], config_path: str = "<config>") -> Schedule:
    """The stages of ``cfg`` over the initial systems ``systems``."""
    ex = cfg.exploration
    conv = cfg.convergence
    sel = cfg.selection
    cap = sel.label_cap()
    if conv.conv_tolerance is not None and not sel.adaptive_lower:
        raise ConfigError(config_path, [("convergence.conv_tolerance", "needs selection.adaptive_lower = true")])

    def stage(name: str, patterns: Sequence[str], temps: Sequence[float], pressures: Sequence[float],
              ensemble: str, n_steps: int, record_every: int, min_it: int, max_it: int, key: str) -> Stage:
        chosen = match_systems(patterns, systems)
        if not chosen:
            raise ConfigError(config_path, [(key, f"patterns {list(patterns)} match none of the systems "
                                                  f"{list(systems)[:6]}{' ...' if len(systems) > 6 else ''}")])
        try:
            cond = Conditions(chosen, tuple(temps), tuple(pressures), n_steps, ensemble, record_every,
                              ex.timestep)
            return Stage(cond, label_cap=cap, accurate_threshold=conv.accurate_ratio, n_consecutive=conv.n_consecutive,
                         f_lo_tolerance=conv.conv_tolerance, min_iterations=min_it, max_iterations=max_it,
                         name=name, min_candidates=conv.min_candidates, target_force_rmse=conv.target_force_rmse,
                         target_energy_rmse=None if conv.target_energy_rmse is None else conv.target_energy_rmse / 1000,
                         target_confidence=conv.target_confidence)
        except StageError as exc:
            raise ConfigError(config_path, [(key.rsplit(".", 1)[0], str(exc))]) from None

    stages: list[Stage] = []
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
    return Schedule(stages)
