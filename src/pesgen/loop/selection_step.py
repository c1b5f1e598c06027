"""SELECT: classify the explored frames, pick the candidates to label, judge convergence (with
the iteration's audit, when there is one: :mod:`pesgen.loop.audit_step`).

With ``[selection] trust = "calibrated"`` the trust levels are fitted, per system, on the frames
labeled in the earlier iterations and audited in this one (:func:`measured_pairs`;
:mod:`pesgen.explore.calibration`);
the fit and the levels go into the selection summary.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from pesgen.explore.calibration import Calibration, Pairs
from pesgen.explore.filters import MinDistanceFilter
from pesgen.explore.pick import PICKERS, DiversePicker
from pesgen.explore.records import read_record
from pesgen.explore.select import CalibratedLevels, select
from pesgen.loop.context import RunContext
from pesgen.loop.rundir import RunDir
from pesgen.loop.seeds import step_seed
from pesgen.loop.summaries import AuditSummary, LabelSummary, SelectSummary

log = logging.getLogger("pesgen.loop")


def measured_pairs(run: RunDir, iteration: int) -> Pairs:
    """(system, ε, true max atomic force error, force RMSE) of measured frames, each with its own
    iteration's model: the labeled candidates of the iterations before ``iteration``
    (``label.json``; files written before the calibration named systems give pairs of system "",
    pooled only) and the audit frames of the iterations up to ``iteration`` (``audit.json``: the
    audit runs before selection, with the model whose ε is being classified)."""
    parts = []
    for it in run.iterations():
        if it > iteration:
            break
        label = run.read_summary(LabelSummary, it) if it < iteration else None
        cal = (label.calibration or {}) if label else {}
        if cal.get("deviation"):
            parts.append(Pairs.of(cal.get("system") or "", cal["deviation"], cal["max_force_error"], "candidates",
                                  cal.get("rmse_f")))
        audit = run.read_summary(AuditSummary, it)
        if audit and audit.frames:
            f = audit.frames
            parts.append(Pairs.of([x["system"] for x in f], [x["deviation"] for x in f],
                                  [x["max_force_error"] for x in f], "audit", [x["rmse_f"] for x in f]))
    return Pairs.concat(parts)


def calibration_line(calib: Calibration) -> str:
    """One line: the pooled relation and levels, how many systems have their own."""
    pooled = calib.pooled
    if pooled is None:
        return (f"calibrated trust levels: {sum(calib.sources.values())} measured frames, fewer than "
                f"{calib.min_pairs}: fixed levels")
    f_lo, f_hi = pooled.levels(calib.target, calib.hi_multiple)
    return (f"calibrated trust levels: err <= {pooled.k:.2f} ε^{pooled.exponent:.2f} (q={calib.quantile}, "
            f"{pooled.n_pairs} frames, scatter x{np.exp(pooled.scatter):.2f}) -> f_lo {f_lo:.3f}, f_hi {f_hi:.3f} eV/Å "
            f"for {calib.target:.3g} eV/Å; {len(calib.per_system)} system(s) with their own levels")


def select_step(ctx: RunContext, iteration: int) -> SelectSummary:
    """Select frames of ``iteration``'s record; records the statistics in the schedule."""
    from pesgen.model.io import load

    start = time.perf_counter()
    s = ctx.cfg.selection
    rec = read_record(ctx.run.record_path(iteration))
    stage_index = ctx.schedule.stage_of(iteration)
    stage = ctx.schedule.stages[stage_index]
    calib = (s.calibration.fit(measured_pairs(ctx.run, iteration), ctx.cfg.convergence.target_force_rmse)
             if s.calibrated else None)
    classifier = s.classifier(calib)
    calibrated = classifier if isinstance(classifier, CalibratedLevels) else None
    f_hi = calibrated.f_hi_max if calibrated else s.f_hi     # candidates lie below it
    picker = (DiversePicker.of_record(rec, f_hi, lambda: load(ctx.run.model_path(iteration)))
              if s.strategy == "diverse" else PICKERS[s.strategy]())
    filters = [MinDistanceFilter(s.min_distance)] if s.min_distance else []
    rng = np.random.default_rng(step_seed(ctx.cfg.seed, iteration, "select"))
    sel = select(rec, classifier, stage.label_cap, picker, rng, filters, skip_steps=s.skip_steps)
    f_lo = None
    if s.adaptive_lower:
        los = [p.f_lo for p in sel.per_system.values() if p.f_lo is not None]
        f_lo = float(np.mean(los)) if los else None
    c = sel.counts
    audit = ctx.run.read_summary(AuditSummary, iteration)
    n_events = len(ctx.schedule.events)
    verdict = ctx.schedule.record(iteration, c.accurate, c.candidate, c.failed, len(sel.selected_rows), f_lo,
                                  audit=None if audit is None else audit.errors())
    per_system = {name: {"accurate": p.counts.accurate, "candidate": p.counts.candidate,
                         "failed": p.counts.failed, "cap": int(p.cap), "selected": int(len(p.selected)),
                         "rejected": len(p.rejected), "f_lo": p.f_lo}
                  for name, p in sel.per_system.items()}
    trust = {"f_lo": s.f_lo, "f_hi": s.f_hi, "adaptive_lower": s.adaptive_lower, "f_lo_adapted": f_lo}
    if calib is not None and calibrated is not None:
        for name, entry in per_system.items():
            entry["f_hi"] = calibrated.window(name).f_hi
            entry["levels_from"] = calib.fit_of(name)[1]
        pooled = calib.levels()
        trust |= {"trust": "calibrated", "f_lo_calibrated": pooled and pooled[0],
                  "f_hi_calibrated": pooled and pooled[1]}
    summary = SelectSummary(
        iteration, stage_index, stage.name, sel.strategy, c,
        selected_rows=[int(r) for r in sel.selected_rows], per_system=per_system,
        per_condition=[{"temperature": t, "pressure": p, "accurate": n.accurate, "candidate": n.candidate,
                        "failed": n.failed} for (t, p), n in sel.per_condition.items()],
        trust=trust, messages=sel.messages, schedule_events=list(ctx.schedule.events),
        wall_time=time.perf_counter() - start, calibration=calib, convergence=verdict.to_json())
    ctx.run.write_summary(summary)
    if calib is not None:
        log.info("iteration %d: %s", iteration, calibration_line(calib))
    log.info("iteration %d: %d frames, accurate %.1f%%, candidate %.1f%%, failed %.1f%%; %d selected",
             iteration, c.total, 100 * c.accurate / c.total, 100 * c.candidate / c.total,
             100 * c.failed / c.total, len(sel.selected_rows))
    for event in ctx.schedule.events[n_events:]:  # a stage ended, or a hint (no candidates left)
        log.info("%s", event)
        ctx.console.print(f"note: {event}", highlight=False)
    return summary
