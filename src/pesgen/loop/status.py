"""The per-iteration table of a run (``pesgen status RUN``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from pesgen.loop.rundir import STEPS, RunDir


def iteration_rows(run_dir: str | Path) -> list[dict[str, Any]]:
    """One dict per iteration with its explored frames, class ratios, labels, RMSEs and wall times."""
    run = RunDir(run_dir)
    run.check()
    state = run.load_state()
    rows = []
    for it in run.iterations():
        rec = run.iteration_record(it)
        tr, ex, se, la = rec.train, rec.explore, rec.select, rec.label
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
                 "time train/explore/select/label (s)"):
        table.add_column(name, justify="right")
    for r in rows:
        e = ("" if r["rmse_e_trn"] is None else
             f"{1000 * r['rmse_e_trn']:.1f}/" + ("" if r["rmse_e_val"] is None else f"{1000 * r['rmse_e_val']:.1f}"))
        f = ("" if r["rmse_f_trn"] is None else
             f"{r['rmse_f_trn']:.3f}/" + ("" if r["rmse_f_val"] is None else f"{r['rmse_f_val']:.3f}"))
        times = "/".join("-" if r[f"time_{s}"] is None else f"{r[f'time_{s}']:.0f}" for s in STEPS)
        table.add_row(str(r["iteration"]), r["stage"] or "", _num(r["frames"]), _pct(r["accurate"]),
                      _pct(r["candidate"]), _pct(r["failed"]), _num(r["labeled"]), _num(r["failed_labels"]),
                      _num(r["dataset"]), f, e, times)
    if state.finished:
        where = f"finished: {state.reason}"
    else:
        done = state.done
        where = f"not finished; last step done: {done[-1] if done else 'none'} (run `pesgen run {run.path}` to go on)"
    return table, where
