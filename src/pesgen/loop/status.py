"""The per-iteration table of a run (``pesgen status RUN``; ``--json``: the rows as JSON)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from pesgen.loop.check import store_problems
from pesgen.loop.rundir import STEPS, RunDir


def iteration_rows(run_dir: str | Path) -> list[dict[str, Any]]:
    """One dict per iteration with its explored frames, class ratios, labels, RMSEs (forces eV/Å,
    energies meV/atom; ``n_valid``: the validation frames), the audit (``audit``: per system and
    pooled over the stage, energies meV/atom; None without one), the convergence verdict and wall
    times (s)."""
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
            "rmse_e_trn": _mev(tr.rmse_e_trn) if tr else None, "rmse_e_val": _mev(tr.rmse_e_val) if tr else None,
            "rmse_f_trn": tr.rmse_f_trn if tr else None, "rmse_f_val": tr.rmse_f_val if tr else None,
            "n_valid": tr.n_valid if tr else None,
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


def _mev(x: float | None) -> float | None:
    """eV/atom -> meV/atom."""
    return None if x is None else 1000.0 * x


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def _num(x: Any, fmt: str = "{}") -> str:
    return "" if x is None else fmt.format(x)


def _times(r: dict[str, Any]) -> str:
    return "/".join("-" if r[f"time_{s}"] is None else f"{r[f'time_{s}']:.0f}" for s in STEPS)


def _total_time(r: dict[str, Any]) -> str:
    times = [r[f"time_{s}"] for s in STEPS if r[f"time_{s}"] is not None]
    return f"{sum(times):.0f}" if times else ""


@dataclass(frozen=True)
class Column:
    """One column of the status table: its header (units in the legend below the table), how a
    row's cell reads, whether the default (80-column) table shows it, and, for a column shown by
    default only where it says something, the row key that must be non-zero in some row."""

    header: str
    cell: Callable[[dict[str, Any]], str]
    default: bool
    only_if: str | None = None


#: every column of ``pesgen status --wide``; the default table shows those marked ``default``
COLUMNS = (
    Column("iter", lambda r: str(r["iteration"]), True),
    Column("stage", lambda r: r["stage"] or "", True),
    Column("frames", lambda r: _num(r["frames"]), False),
    Column("acc\n%", lambda r: _pct(r["accurate"]), True),
    Column("cand\n%", lambda r: _pct(r["candidate"]), True),
    Column("fail\n%", lambda r: _pct(r["failed"]), True),
    Column("labeled", lambda r: _num(r["labeled"]), True),
    Column("label\nfailed", lambda r: _num(r["failed_labels"]), True, only_if="failed_labels"),
    Column("data\nset", lambda r: _num(r["dataset"]), True),
    Column("F trn", lambda r: _num(r["rmse_f_trn"], "{:.3f}"), False),
    Column("F val", lambda r: _num(r["rmse_f_val"], "{:.3f}"), True),
    Column("val\nframes", lambda r: _num(r["n_valid"]), False),
    Column("E trn", lambda r: _num(r["rmse_e_trn"], "{:.1f}"), False),
    Column("E val", lambda r: _num(r["rmse_e_val"], "{:.1f}"), False),
    Column("audit\nframes", lambda r: _num(r["audit"] and r["audit"]["labeled"]), False, only_if="audit"),
    Column("audit\nF", lambda r: _num(r["audit_worst_rmse_f"], "{:.3f}"), True, only_if="audit"),
    Column("audit\nE", lambda r: _num(r["audit_worst_rmse_e"], "{:.1f}"), True, only_if="audit"),
    Column("time\n(s)", _total_time, True),
    Column("time train/explore/\naudit/select/label (s)", _times, False),
)

LEGEND = ("acc/cand/fail: % of explored frames; labeled: candidates labeled; data set: frames trained on; "
          "F: force RMSE (eV/Å), val: validation frames; E: energy RMSE (meV/atom); audit: the worst "
          "system's on its audit frames; time: the iteration's steps")


@dataclass
class StatusView:
    """What ``pesgen status`` prints: the table, the legend of its headers, where the run stands."""

    table: Table
    legend: str
    where: str


def status_table(run_dir: str | Path, wide: bool = False) -> StatusView:
    """A rich table of :func:`iteration_rows`, its legend and a line saying where the run stands. The default
    table fits 80 columns (the columns marked ``default`` in :data:`COLUMNS`, the conditional ones
    only when some row has them); ``wide``: every column."""
    run = RunDir(run_dir)
    state = run.load_state()
    rows = iteration_rows(run_dir)
    columns = [c for c in COLUMNS if wide or (c.default and (c.only_if is None or any(r[c.only_if] for r in rows)))]
    table = Table(title=f"pesgen run {run.path}", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  padding=(0, 1), collapse_padding=True)
    for c in columns:
        table.add_column(c.header, justify="left" if c.header == "stage" else "right", no_wrap=True)
    for r in rows:
        table.add_row(*(c.cell(r) for c in columns))
    if state.finished:
        where = f"finished: {state.reason}"
    else:
        done = state.done
        where = f"not finished; last step done: {done[-1] if done else 'none'} (run `pesgen run {run.path}` to go on)"
    for problem in store_problems(run, state, thorough=False):
        where += f"\nwarning: {problem} (`pesgen check {run.path}`)"
    return StatusView(table, LEGEND, where)


def status_json(run_dir: str | Path) -> dict[str, Any]:
    """``pesgen status RUN --json``: the run's state and :func:`iteration_rows` (one per
    iteration), with non-finite numbers as null so that any JSON reader takes it."""
    run = RunDir(run_dir)
    run.check()
    state = run.load_state()
    return _finite({"run_dir": str(run.path), "finished": state.finished, "converged": state.converged,
                    "reason": state.reason, "iterations": iteration_rows(run_dir),
                    "store_problems": [str(p) for p in store_problems(run, state, thorough=False)]})


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
