"""The per-iteration table of a run (``pesgen status RUN``; ``--json``: the rows as JSON)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.table import Table

from pesgen.loop.rundir import STEPS, RunDir


def iteration_rows(run_dir: str | Path) -> list[dict[str, Any]]:
    """One dict per iteration with its explored frames, class ratios, labels, RMSEs (energies
    eV/atom), the audit (``audit``: per system and pooled over the stage, energies meV/atom;
    None without one), the convergence verdict and wall times (s)."""
    run = RunDir(run_dir)
    run.check()
    state = run.load_state()
    rows = []
    for it in run.iterations():
        rec = run.iteration_record(it)
        tr, ex, se, la, au = rec.train, rec.explore, rec.select, rec.label, rec.audit
        ratios = se.ratios if se else {}
        row: dict[str, Any] = {
            "iteration": it,
            "stage": rec.stage_name,
            "temperatures": ex.temperatures if ex else None,
            "frames": se.counts.total if se else None,
            "accurate": ratios.get("accurate"), "candidate": ratios.get("candidate"), "failed": ratios.get("failed"),
            "selected": len(se.selected_rows) if se else None,
            "labeled": la.report.n_labeled_total if la else None,
            "failed_labels": la.report.n_failed_total if la else None,
            "dataset": tr.n_frames if tr else None,
            "rmse_e_trn": tr.rmse_e_trn if tr else None, "rmse_e_val": tr.rmse_e_val if tr else None,
            "rmse_f_trn": tr.rmse_f_trn if tr else None, "rmse_f_val": tr.rmse_f_val if tr else None,
            "walkers_stopped": ex.walkers_stopped if ex else None,
            "audit": None if au is None else {"per_system": au.per_system, "stage": au.stage_errors,
                                              "labeled": au.report.n_labeled_total,
                                              "failed_labels": au.report.n_failed_total},
            "audit_worst_rmse_f": au.worst("rmse_f")[1] if au else None,
            "audit_worst_rmse_e": au.worst("rmse_e")[1] if au else None,
            "convergence": se.convergence if se else None,
        }
        for step in STEPS:
            row[f"time_{step}"] = state.wall_time(it, step)
        row["done"] = [s for s in STEPS if state.is_done(f"{it}/{s}")]
        rows.append(row)
    return rows


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def _num(x: Any, fmt: str = "{}") -> str:
    return "" if x is None else fmt.format(x)


def status_table(run_dir: str | Path) -> tuple[Table, str]:
    """A rich table of :func:`iteration_rows` and a line saying where the run stands."""
    run = RunDir(run_dir)
    state = run.load_state()
    rows = iteration_rows(run_dir)
    table = Table(title=f"pesgen run {run.path}", show_lines=False)
    for name in ("iter", "stage", "frames", "acc %", "cand %", "fail %", "labeled", "failed labels",
                 "dataset", "RMSE F trn/val (eV/Å)", "RMSE E trn/val (meV/atom)",
                 "audit worst F (eV/Å) / E (meV/atom)", "time train/explore/audit/select/label (s)"):
        table.add_column(name, justify="right")
    for r in rows:
        e = ("" if r["rmse_e_trn"] is None else
             f"{1000 * r['rmse_e_trn']:.1f}/" + ("" if r["rmse_e_val"] is None else f"{1000 * r['rmse_e_val']:.1f}"))
        f = ("" if r["rmse_f_trn"] is None else
             f"{r['rmse_f_trn']:.3f}/" + ("" if r["rmse_f_val"] is None else f"{r['rmse_f_val']:.3f}"))
        times = "/".join("-" if r[f"time_{s}"] is None else f"{r[f'time_{s}']:.0f}" for s in STEPS)
        audit = ("" if r["audit_worst_rmse_f"] is None else
                 f"{r['audit_worst_rmse_f']:.3f}/{r['audit_worst_rmse_e']:.1f}")
        table.add_row(str(r["iteration"]), r["stage"] or "", _num(r["frames"]), _pct(r["accurate"]),
                      _pct(r["candidate"]), _pct(r["failed"]), _num(r["labeled"]), _num(r["failed_labels"]),
                      _num(r["dataset"]), f, e, audit, times)
    if state.finished:
        where = f"finished: {state.reason}"
    else:
        done = state.done
        where = f"not finished; last step done: {done[-1] if done else 'none'} (run `pesgen run {run.path}` to go on)"
    return table, where


def status_json(run_dir: str | Path) -> dict[str, Any]:
    """``pesgen status RUN --json``: the run's state and :func:`iteration_rows` (one per
    iteration), with non-finite numbers as null so that any JSON reader takes it."""
    run = RunDir(run_dir)
    run.check()
    state = run.load_state()
    return _finite({"run_dir": str(run.path), "finished": state.finished, "converged": state.converged,
                    "reason": state.reason, "iterations": iteration_rows(run_dir)})


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
