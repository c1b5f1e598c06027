"""LABEL: reference labels of the selected frames (and of the initial structures), into the store.

Labels go through :class:`pesgen.label.LabelCampaign`, which writes each one as it finishes and
skips task ids the store already holds: a resumed run labels only what was missing. After the
campaign, the iteration's model is compared with the new labels (never seen in its training): the
true force error of every labeled candidate against its predicted deviation, i.e. the
indicator's calibration.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from pesgen.loop.context import RunContext
from pesgen.loop.errors import RunStopped
from pesgen.loop.seeds import step_seed
from pesgen.loop.summaries import AuditSummary, InitialSummary, LabelSummary, SelectSummary

log = logging.getLogger("pesgen.loop")


def make_policy(ctx: RunContext, workdir: Path | None):
    from pesgen.label import LabelPolicy

    p = ctx.cfg.label_policy
    return LabelPolicy(timeout=p.timeout, isolate=p.isolate, retries=p.retries, retry_on=tuple(p.retry_on),
                       max_force=p.max_force, workdir_root=str(workdir) if (workdir and p.keep_workdirs) else None)


def run_tasks(ctx: RunContext, tasks: list, iteration: int, description: str, workdir: Path | None):
    """Label ``tasks`` on the configured executor with a progress bar; returns the CampaignReport."""
    from pesgen.execute import ExecutorUnavailable
    from pesgen.label import FailedRatioExceeded, FailureBudget, LabelCampaign

    unique = list({t.task_id: t for t in tasks}.values())
    budget = FailureBudget(max_failed_ratio=ctx.cfg.label_policy.max_failed_ratio)
    failed = 0
    try:
        with ctx.progress.bar(description, len(unique)) as advance, ctx.cfg.executor.build() as ex:
            def on_outcome(task, outcome) -> None:
                nonlocal failed
                failed += 0 if outcome.ok else 1
                advance(1, f"failed {failed}")

            report = LabelCampaign(unique, ctx.labeler, ctx.store, ex, make_policy(ctx, workdir), budget=budget,
                                   iteration=iteration, on_outcome=on_outcome, retry_failed=ctx.retry_failed).run()
    except FailedRatioExceeded as exc:
        raise RunStopped(f"labeling stopped: {exc} Finished labels are kept; change [label] or "
                         f"[label_policy] in {ctx.run.config_path} and run `pesgen run {ctx.run.path}` "
                         f"(failures are retried when the label settings change), or retry them "
                         f"as they are with `pesgen run {ctx.run.path} --retry-failed`.") from exc
    except ExecutorUnavailable as exc:
        raise RunStopped(f"labeling stopped: {exc}; finished labels are kept and `pesgen run {ctx.run.path}` "
                         "resumes (raise [executor] start_timeout / worker_timeout for a slow queue)") from exc
    log.info("iteration %d: %s", iteration, report.summary())
    return report


def clean_atoms(atoms: Atoms) -> Atoms:
    """The structure alone (numbers, positions Å, cell, pbc), as a labeler gets it."""
    out = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    return out


def initial_step(ctx: RunContext) -> InitialSummary:
    """Import the given labeled data and label the generated initial structures (iteration 0)."""
    from pesgen.data.importers import import_into_store
    from pesgen.data.store import Provenance
    from pesgen.label import LabelTask, make_task_id

    start = time.perf_counter()
    init = ctx.cfg.initial
    summary = InitialSummary()
    sources = list(init.files) + ([init.store] if init.store else [])
    if sources:
        results = import_into_store(ctx.store, sources, init.format, type_map=ctx.cfg.elements,
                                    provenance=Provenance(iteration=0, origin="imported"))
        summary.imported = sum(r.added for r in results)
        summary.imported_skipped = sum(r.skipped for r in results)
        log.info("imported %d labeled frames from %s", summary.imported, [str(s) for s in sources])
    if init.structures is not None and init.label_structures:
        structures = ctx.structures
        if init.n_label is not None and init.n_label < len(structures):
            rng = np.random.default_rng(step_seed(ctx.cfg.seed, -1, "initial"))
            picked = sorted(rng.choice(len(structures), size=init.n_label, replace=False).tolist())
            structures = [structures[k] for k in picked]
        h = ctx.labeler.settings_hash()
        tasks = [LabelTask(make_task_id(a, h, 0, salt="initial"), clean_atoms(a),
                           Provenance(iteration=0, origin="initial", system=str(a.info["system"])))
                 for a in structures]
        log.info("labeling %d initial structures", len(tasks))
        summary.labeled = run_tasks(ctx, tasks, 0, "initial labels", ctx.run.path / "initial_labels")
    summary.n_frames = len(ctx.store)
    summary.wall_time = time.perf_counter() - start
    if summary.n_frames == 0:
        raise RunStopped("no labeled initial data: every initial label failed or nothing was given")
    ctx.run.write_summary(summary)
    return summary


def calibration(ensemble, frames: list[Atoms]) -> dict[str, list[float]]:
    """Model vs labels on ``frames``: per frame the system id, the predicted deviation (eV/Å), the
    true maximal atomic force error |F_model - F_label| (eV/Å), the force RMSE (eV/Å) and the
    energy error (eV/atom); plus all force components (for parity plots)."""
    out: dict[str, list] = {"system": [], "deviation": [], "recorded_deviation": [], "max_force_error": [],
                            "rmse_f": [], "energy_error": [], "energy_label": [], "energy_model": [],
                            "force_label": [], "force_model": []}
    for start in range(0, len(frames), 32):
        part = frames[start:start + 32]
        res = ensemble.evaluate(part)
        forces = res["forces"].detach().cpu().numpy()
        energy = res["energy"].detach().cpu().numpy()
        dev = res["max_devi_f"].detach().cpu().numpy()
        offset = 0
        for k, a in enumerate(part):
            n = len(a)
            f_pred = forces[offset:offset + n]
            offset += n
            f_true = a.get_forces()
            err = np.linalg.norm(f_pred - f_true, axis=1)
            out["deviation"].append(float(dev[k]))
            prov = a.info.get("provenance")
            out["system"].append(str(getattr(prov, "system", None) or a.info.get("system", "")))
            recorded = getattr(prov, "deviation", None)
            out["recorded_deviation"].append(float("nan") if recorded is None else float(recorded))
            out["max_force_error"].append(float(err.max()))
            out["rmse_f"].append(float(np.sqrt(np.mean((f_pred - f_true) ** 2))))
            e_true = a.get_potential_energy()
            out["energy_error"].append(float((energy[k] - e_true) / n))
            out["energy_label"].append(float(e_true / n))
            out["energy_model"].append(float(energy[k] / n))
            out["force_label"].extend(f_true.ravel().tolist())
            out["force_model"].extend(f_pred.ravel().tolist())
    return out


def explored_task(atoms: Atoms, iteration: int, origin: str, labeler_hash: str, salt: str = ""):
    """The LabelTask of a frame of ``iteration``'s record, its walker's conditions (K, bar) and
    deviation at exploration (eV/Å) as provenance."""
    from pesgen.data.store import Provenance
    from pesgen.label import LabelTask, make_task_id

    p = atoms.info.get("pressure_target")
    prov = Provenance(iteration=iteration, origin=origin, system=str(atoms.info["system"]),
                      temperature=float(atoms.info["temperature_target"]),
                      pressure=None if p is None or not math.isfinite(float(p)) else float(p),
                      walker=int(atoms.info["walker"]), step=int(atoms.info["step"]),
                      deviation=float(atoms.info["max_devi_f"]))
    return LabelTask(make_task_id(atoms, labeler_hash, iteration, salt=salt), clean_atoms(atoms), prov)


def label_step(ctx: RunContext, iteration: int) -> LabelSummary:
    """Label the frames selected in ``iteration``; writes label.json (report and calibration)."""
    from pesgen.explore.records import read_record
    from pesgen.model.io import load

    start = time.perf_counter()
    rows = ctx.run.read_summary(SelectSummary, iteration).selected_rows
    audit = ctx.run.read_summary(AuditSummary, iteration)
    if audit is not None:  # a candidate that was audited is labeled already (origin "audit")
        audited = set(audit.rows)
        rows = [r for r in rows if r not in audited]
    rec = read_record(ctx.run.record_path(iteration))
    frames = rec.frames(rows) if rows else []
    h = ctx.labeler.settings_hash()
    tasks = [explored_task(a, iteration, "explored", h) for a in frames]
    report = run_tasks(ctx, tasks, iteration, f"iter {iteration} label", ctx.run.iter_dir(iteration) / "label_tasks")
    labeled = ctx.store.frames(iteration=iteration, origin="explored")
    calib: dict[str, Any] = {}
    if labeled:
        calib = calibration(load(ctx.run.model_path(iteration)), labeled)
    summary = LabelSummary(iteration, report, len(ctx.store), ctx.store.count_failed(), calib,
                           wall_time=time.perf_counter() - start)
    ctx.run.write_summary(summary)
    return summary
