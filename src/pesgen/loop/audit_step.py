"""AUDIT: label a random sample of each system's explored frames and measure the true error.

Between explore and select: the rows come from :func:`pesgen.explore.audit.draw_audit` over the
iteration's record (its own seed, ``step_seed(seed, iteration, "audit")``; no deviation column
is read), their labels go through the same :class:`pesgen.label.LabelCampaign` as the
candidates' (provenance origin "audit", task ids salted "audit", so a resumed audit labels only
what is missing and the failure budget counts its failures), and the iteration's ensemble is
compared with them before any training has seen them. The labels then join the training set
like every other label. Writes ``audit.json`` (:class:`~pesgen.loop.summaries.AuditSummary`).

Every recorded frame keeps its atoms while the audit is on
(:func:`pesgen.loop.exploration_step.keep_level`), so any frame can be drawn.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from pesgen.explore.audit import AUDIT_COLUMNS, SystemErrors, draw_audit, pooled, upper_rmse
from pesgen.loop.context import RunContext
from pesgen.loop.labeling_step import calibration, explored_task, run_tasks
from pesgen.loop.seeds import step_seed
from pesgen.loop.summaries import AuditSummary

log = logging.getLogger("pesgen.loop")


def audit_rows(ctx: RunContext, iteration: int) -> dict[str, list[int]]:
    """System -> the record rows of ``iteration`` to audit (reproducible from the run seed)."""
    from pesgen.explore.records import read_record

    a = ctx.cfg.audit
    rec = read_record(ctx.run.record_path(iteration), columns=[c for c in AUDIT_COLUMNS if c != "system"])
    columns = {c: rec.columns[c] for c in AUDIT_COLUMNS if c in rec.columns}
    rng = np.random.default_rng(step_seed(ctx.cfg.seed, iteration, "audit"))
    systems = ctx.schedule.stage(iteration).conditions.systems
    return draw_audit(columns, systems, rng, per_system=a.per_system, fraction=a.fraction)


def _errors_json(e: SystemErrors, drawn: int | None = None) -> dict:
    out = {"n": e.n} | ({} if drawn is None else {"n_drawn": drawn})
    return out | {"rmse_f": e.rmse_f, "rmse_e": None if e.rmse_e is None else 1000 * e.rmse_e,
                  "max_force_error": e.max_force_error if e.n else None}


def audit_step(ctx: RunContext, iteration: int) -> AuditSummary:
    """Label ``iteration``'s audit sample and measure its ensemble on it; writes audit.json."""
    from pesgen.explore.records import read_record
    from pesgen.model.io import load

    start = time.perf_counter()
    drawn = audit_rows(ctx, iteration)
    rows = sorted(r for rs in drawn.values() for r in rs)
    rec = read_record(ctx.run.record_path(iteration))
    frames = rec.frames(rows) if rows else []
    h = ctx.labeler.settings_hash()
    tasks, row_of = [], {}
    for a in frames:
        task = explored_task(a, iteration, "audit", h, salt="audit")
        tasks.append(task)
        row_of[task.task_id] = int(a.info["record_row"])
    log.info("iteration %d: auditing %d frames of %d systems", iteration, len(tasks), len(drawn))
    report = run_tasks(ctx, tasks, iteration, f"iter {iteration} audit", ctx.run.iter_dir(iteration) / "audit_tasks")
    labeled = sorted((f for f in ctx.store.frames(iteration=iteration, origin="audit")
                      if f.info["provenance"].task_id in row_of), key=lambda f: row_of[f.info["provenance"].task_id])
    per_frame: list[dict] = []
    if labeled:
        cal = calibration(load(ctx.run.model_path(iteration)), labeled)
        for k, f in enumerate(labeled):
            prov = f.info["provenance"]
            per_frame.append({"system": prov.system, "row": row_of[prov.task_id], "deviation": prov.deviation,
                              "max_force_error": cal["max_force_error"][k], "rmse_f": cal["rmse_f"][k],
                              "energy_error": 1000 * cal["energy_error"][k]})
    errors = {}
    for name in drawn:
        mine = [f for f in per_frame if f["system"] == name]
        errors[name] = SystemErrors.of_frames([f["rmse_f"] for f in mine], [f["energy_error"] / 1000 for f in mine],
                                              [f["max_force_error"] for f in mine])
    total = pooled(errors)
    confidence = ctx.cfg.convergence.target_confidence
    stage_errors = _errors_json(total) | {
        "upper_rmse_f": upper_rmse(total.sum_sq_f, total.n, confidence) if total.n else None,
        "upper_rmse_e": 1000 * upper_rmse(total.sum_sq_e, total.n, confidence) if total.n else None,
        "confidence": confidence}
    stage = ctx.schedule.stage_of(iteration)
    summary = AuditSummary(iteration, stage, ctx.schedule.stages[stage].name, rows, report,
                           per_system={name: _errors_json(e, len(drawn[name])) for name, e in errors.items()},
                           stage_errors=stage_errors, frames=per_frame, wall_time=time.perf_counter() - start)
    ctx.run.write_summary(summary)
    if total.n:
        log.info("iteration %d: audit of %d frames: force RMSE %.4f eV/Å, energy RMSE %.2f meV/atom, max force "
                 "error %.3f eV/Å", iteration, total.n, total.rmse_f, 1000 * total.rmse_e, total.max_force_error)
    return summary
