"""EXPLORE: batched MD of every walker of the iteration's stage, driven by the ensemble mean.

Walkers are (system, temperature, pressure) triples of the stage, each started from the
system's initial structures (all of them, or ``walkers_per_system``). Every recorded frame goes
to the iteration's deviation record; frames that selection or the audit may pick keep their atoms. A killed
exploration is rerun from the start (same seed, same trajectories) over a fresh record.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter

import numpy as np
import torch
from ase import Atoms

from pesgen.loop.context import RunContext
from pesgen.loop.errors import RunStopped
from pesgen.loop.seeds import step_seed
from pesgen.loop.summaries import ExploreSummary

log = logging.getLogger("pesgen.loop")


def keep_level(ctx: RunContext) -> float:
    """Frames with max_devi_f at or above this (eV/Å) keep their atoms in the record: all of them
    when the lower level is only known at selection (adaptive or calibrated levels) or when the
    audit may draw any frame."""
    sel = ctx.cfg.selection
    keep_all = sel.adaptive_lower or sel.calibrated or ctx.cfg.exploration.keep_all_frames or ctx.cfg.audit.enabled
    return 0.0 if keep_all else float(sel.f_lo)


def walkers(ctx: RunContext, iteration: int) -> tuple[list[Atoms], list[float], list[float] | None]:
    """Start structures, target temperatures (K) and pressures (bar, None without NPT)."""
    cond = ctx.schedule.conditions(iteration)
    per = ctx.cfg.exploration.walkers_per_system
    masses = ctx.cfg.masses
    structures, temps, press = [], [], []
    for system, t, p in cond.walkers():
        for atoms in ctx.by_system[system][:per]:
            a = atoms.copy()
            a.info = {"system": system}
            if masses:
                a.set_masses([masses.get(s, m) for s, m in zip(a.get_chemical_symbols(), a.get_masses(),
                                                              strict=True)])
            structures.append(a)
            temps.append(float(t))
            press.append(None if p is None else float(p))
    pressures = None if cond.ensemble != "npt" else [float(p) for p in press]
    return structures, temps, pressures


def explore_step(ctx: RunContext, iteration: int) -> ExploreSummary:
    """Run the iteration's MD; writes record.sqlite and explore.json."""
    from pesgen.explore.md import MDSampler, StopCriteria
    from pesgen.explore.records import RecordWriter
    from pesgen.model.io import load

    start = time.perf_counter()
    ex = ctx.cfg.exploration
    cond = ctx.schedule.conditions(iteration)
    stage = ctx.schedule.stage_of(iteration)
    structures, temps, pressures = walkers(ctx, iteration)
    ensemble = load(ctx.run.model_path(iteration), device=ex.device)
    ensemble = ensemble.compress() if ex.compress else ensemble.decompress()
    dtype = ensemble.dtype if ex.precision == "model" else getattr(torch, ex.precision)
    stop = StopCriteria(min_distance=ex.stop.min_distance,
                        max_devi_f=ex.stop.max_devi_f or 3.0 * ctx.cfg.selection.f_hi,
                        max_temperature_ratio=ex.stop.max_temperature_ratio)
    n_records = cond.n_steps // cond.record_every + 1
    sampler = MDSampler(ensemble, ex.integrator(cond.ensemble), record_every=cond.record_every,
                        chunk_records=max(1, math.ceil(n_records / 20)), stop=stop,
                        seed=step_seed(ctx.cfg.seed, iteration, "explore"), dtype=dtype, device=ex.device)
    keep = keep_level(ctx)
    path = ctx.run.record_path(iteration)
    meta = {"iteration": iteration, "stage": stage, "stage_name": ctx.schedule.stages[stage].name,
            "ensemble": cond.ensemble, "n_steps": cond.n_steps, "record_every": cond.record_every,
            "timestep": cond.timestep}
    log.info("iteration %d: exploring %d walkers (stage %d %s, %s, T=%s K) for %d steps", iteration,
             len(structures), stage, ctx.schedule.stages[stage].name, cond.ensemble,
             sorted(set(temps)), cond.n_steps)
    stops: Counter = Counter()
    n_rows = n_kept = 0
    last_step = 0
    with RecordWriter(path, keep_above=keep, meta=meta, mode="w") as writer, \
            ctx.progress.bar(f"iter {iteration} MD", cond.n_steps) as advance:
        for chunk in sampler.run(structures, cond.n_steps, temperature=temps, pressure=pressures):
            for event in chunk.stop_events:
                stops[event.reason] += 1
            if len(chunk) == 0:
                continue
            f = np.asarray(chunk.columns["max_devi_f"], dtype=np.float64)
            writer.append(chunk.columns, chunk.frames)
            n_rows += len(chunk)
            n_kept += int(np.sum(f >= keep))
            step = int(np.max(chunk.columns["step"]))
            advance(max(0, step - last_step), f"max ε {np.nanmax(f) if np.isfinite(f).any() else float('nan'):.3f}")
            last_step = step
    if n_rows == 0:
        raise RunStopped(f"iteration {iteration}: exploration recorded no frames")
    summary = ExploreSummary(iteration, stage, ctx.schedule.stages[stage].name, cond.ensemble,
                             temperatures=sorted(set(temps)), pressures=sorted(set(pressures)) if pressures else [],
                             n_walkers=len(structures), n_steps=cond.n_steps, n_frames=n_rows, n_kept=n_kept,
                             stops=dict(stops), wall_time=time.perf_counter() - start)
    ctx.run.write_summary(summary)
    if stops:
        log.info("iteration %d: walkers stopped early: %s", iteration, dict(stops))
    return summary
