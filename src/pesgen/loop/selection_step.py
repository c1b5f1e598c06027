"""SELECT: classify the explored frames, pick the candidates to label, judge convergence."""

from __future__ import annotations

import logging
import time

import numpy as np

from pesgen.explore.filters import MinDistanceFilter
from pesgen.explore.pick import PICKERS, DiversePicker
from pesgen.explore.records import read_record
from pesgen.explore.select import select
from pesgen.loop.context import RunContext
from pesgen.loop.seeds import step_seed
from pesgen.loop.summaries import SelectSummary

log = logging.getLogger("pesgen.loop")


def select_step(ctx: RunContext, iteration: int) -> SelectSummary:
    """Select frames of ``iteration``'s record; records the statistics in the schedule."""
    from pesgen.model.io import load

    start = time.perf_counter()
    s = ctx.cfg.selection
    rec = read_record(ctx.run.record_path(iteration))
    stage_index = ctx.schedule.stage_of(iteration)
    stage = ctx.schedule.stages[stage_index]
    picker = (DiversePicker.of_record(rec, s.f_hi, lambda: load(ctx.run.model_path(iteration)))
              if s.strategy == "diverse" else PICKERS[s.strategy]())
    filters = [MinDistanceFilter(s.min_distance)] if s.min_distance else []
    rng = np.random.default_rng(step_seed(ctx.cfg.seed, iteration, "select"))
    sel = select(rec, s.classifier(), stage.label_cap, picker, rng, filters, skip_steps=s.skip_steps)
    f_lo = None
    if s.adaptive_lower:
        los = [p.f_lo for p in sel.per_system.values() if p.f_lo is not None]
        f_lo = float(np.mean(los)) if los else None
    c = sel.counts
    ctx.schedule.record(iteration, c.accurate, c.candidate, c.failed, len(sel.selected_rows), f_lo)
    summary = SelectSummary(
        iteration, stage_index, stage.name, sel.strategy, c,
        selected_rows=[int(r) for r in sel.selected_rows],
        per_system={name: {"accurate": p.counts.accurate, "candidate": p.counts.candidate,
                           "failed": p.counts.failed, "cap": int(p.cap), "selected": int(len(p.selected)),
                           "rejected": len(p.rejected), "f_lo": p.f_lo}
                    for name, p in sel.per_system.items()},
        per_condition=[{"temperature": t, "pressure": p, "accurate": n.accurate, "candidate": n.candidate,
                        "failed": n.failed} for (t, p), n in sel.per_condition.items()],
        trust={"f_lo": s.f_lo, "f_hi": s.f_hi, "adaptive_lower": s.adaptive_lower, "f_lo_adapted": f_lo},
        messages=sel.messages, schedule_events=list(ctx.schedule.events), wall_time=time.perf_counter() - start)
    ctx.run.write_summary(summary)
    log.info("iteration %d: %d frames, accurate %.1f%%, candidate %.1f%%, failed %.1f%%; %d selected",
             iteration, c.total, 100 * c.accurate / c.total, 100 * c.candidate / c.total,
             100 * c.failed / c.total, len(sel.selected_rows))
    return summary
