"""The per-iteration table of a run (``pesgen status RUN``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from pesgen.loop.rundir import RunDir


def iteration_rows(run_dir: str | Path) -> list[dict[str, Any]]:
    """One dict per iteration with its explored frames, class ratios, labels, RMSEs and wall times."""
    run = RunDir(run_dir)
    run.check()
    state = run.load_state()
    walls = state.get("wall_times", {})
    rows = []
    for it in run.iterations():
        tr = run.step_summary(it, "train") or {}
        ex = run.step_summary(it, "explore") or {}
        se = run.step_summary(it, "select") or {}
        la = run.step_summary(it, "label") or {}
        rep = la.get("report", {})
        row: dict[str, Any] = {
            "iteration": it,
            "stage": se.get("stage_name") or ex.get("stage_name"),
            "temperatures": ex.get("temperatures"),
            "frames": se.get("counts", {}).get("total"),
            "accurate": se.get("ratios", {}).get("accurate"),
            "candidate": se.get("ratios", {}).get("candidate"),
            "failed": se.get("ratios", {}).get("failed"),
            "selected": len(se["selected_rows"]) if se else None,
            "labeled": (rep["n_labeled"] + rep["n_skipped"] - rep["n_failed_before"]) if rep else None,
            "failed_labels": rep.get("n_failed_total") if rep else None,
            "dataset": tr.get("n_frames"),
            "rmse_e_trn": tr.get("rmse_e_trn"), "rmse_e_val": tr.get("rmse_e_val"),
            "rmse_f_trn": tr.get("rmse_f_trn"), "rmse_f_val": tr.get("rmse_f_val"),
            "walkers_stopped": sum(ex.get("stops", {}).values()) if ex else None,
        }
        for step in ("train", "explore", "select", "label"):
            row[f"time_{step}"] = walls.get(f"{it}/{step}")
        row["done"] = [s for s in ("train", "explore", "select", "label") if f"{it}/{s}" in state["done"]]
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
        times = "/".join("-" if r[f"time_{s}"] is None else f"{r[f'time_{s}']:.0f}"
                         for s in ("train", "explore", "select", "label"))
        table.add_row(str(r["iteration"]), r["stage"] or "", _num(r["frames"]), _pct(r["accurate"]),
                      _pct(r["candidate"]), _pct(r["failed"]), _num(r["labeled"]), _num(r["failed_labels"]),
                      _num(r["dataset"]), f, e, times)
    if state.get("finished"):
        where = f"finished: {state.get('reason')}"
    else:
        done = state["done"]
        where = f"not finished; last step done: {done[-1] if done else 'none'} (run `pesgen run {run.path}` to go on)"
    return table, where
