"""The HTML report of a run directory: one page, PNG plots beside it, tables of numbers."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from pesgen.loop.rundir import STEPS, RunDir
from pesgen.report import plots
from pesgen.report.collect import RunData, collect
from pesgen.report.sections import convergence_section, labels_section, summary_section, systems_section, table

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>pesgen report: {title}</title>
<style>
body {{ font-family: sans-serif; max-width: 1000px; margin: 2em auto; padding: 0 1em; color: #222; }}
.scroll {{ overflow-x: auto; max-width: 100%; }}
table {{ border-collapse: collapse; font-size: 0.8em; margin: 0.5em 0 1em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 5px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
th {{ background: #f0f0f0; }}
table.summary {{ font-size: 0.9em; }}
table.summary td {{ text-align: left; overflow-wrap: anywhere; }}
table.summary th {{ white-space: nowrap; vertical-align: top; }}
figure {{ margin: 0.5em 0 1.5em; }}
img {{ max-width: 100%; border: 1px solid #eee; }}
figcaption {{ font-size: 0.85em; color: #444; }}
pre {{ background: #f7f7f7; padding: 0.5em; font-size: 0.8em; overflow-x: auto; max-width: 100%; }}
code {{ overflow-wrap: anywhere; }}
</style></head><body>
<h1>pesgen run {title}</h1>
{body}
</body></html>
"""


def _fmt(x, fmt: str = "{:.3f}") -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    return fmt.format(x)


def _scaled(x, factor: float, fmt: str) -> str:
    return "" if x is None else _fmt(factor * x, fmt)


def _iteration_table(data: RunData) -> str:
    rows = []
    for r in data.rows:
        times = "/".join("-" if r[f"time_{s}"] is None else f"{r[f'time_{s}']:.0f}" for s in STEPS)
        rows.append([str(r["iteration"]), r["stage"] or "", _fmt(r["frames"], "{}"),
                     _scaled(r["accurate"], 100, "{:.1f}"), _scaled(r["candidate"], 100, "{:.1f}"),
                     _scaled(r["failed"], 100, "{:.1f}"),
                     _fmt(r["labeled"], "{}"), _fmt(r["failed_labels"], "{}"), _fmt(r["dataset"], "{}"),
                     _fmt(r["rmse_f_trn"]), _fmt(r["rmse_f_val"]), _fmt(r["rmse_e_val"], "{:.1f}"),
                     _fmt(r["n_valid"], "{}"), _fmt(r["audit_worst_rmse_f"]),
                     _fmt(r["audit_worst_rmse_e"], "{:.1f}"), times])
    return table(["iter", "stage", "explored", "acc %", "cand %", "fail %", "labeled", "failed labels",
                  "dataset", "F RMSE trn (eV/Å)", "F RMSE val (eV/Å)", "E RMSE val (meV/atom)", "val frames",
                  "audit worst F (eV/Å)", "audit worst E (meV/atom)",
                  "time " + "/".join(STEPS) + " (s)"], rows)


def _calibration_table(data: RunData) -> str:
    rows = []
    for d in data.iterations:
        cal = d.calibration
        if not cal.get("deviation"):
            continue
        dev, err = np.array(cal["deviation"]), np.array(cal["max_force_error"])
        fl, fm = np.array(cal["force_label"]), np.array(cal["force_model"])
        el, em = np.array(cal["energy_label"]), np.array(cal["energy_model"])
        ratio = err / dev
        q90 = float(np.quantile(ratio[np.isfinite(ratio)], 0.9)) if np.isfinite(ratio).any() else None
        rows.append([str(d.iteration), str(len(dev)), _fmt(float(np.median(dev))), _fmt(float(np.median(err))),
                     _fmt(float(np.median(ratio)), "{:.2f}"), _fmt(q90, "{:.2f}"),
                     _fmt(plots.spearman(dev, err), "{:.2f}"),
                     _fmt(float(np.sqrt(np.mean((fl - fm) ** 2)))),
                     _fmt(float(1000 * np.sqrt(np.mean((el - em) ** 2))), "{:.1f}")])
    if not rows:
        return "<p>No labeled candidates yet.</p>"
    return table(["iter", "labeled", "median ε (eV/Å)", "median true max error (eV/Å)", "median error/ε",
                   "error/ε q90", "Spearman(ε, error)", "force RMSE (eV/Å)", "energy RMSE (meV/atom)"], rows)


def _levels_table(data: RunData) -> str:
    """The calibrated trust levels each iteration's selection used (fitted on earlier labels)."""
    rows = []
    for d in data.iterations:
        if d.fit is None:
            continue
        cal, fit = d.fit, d.fit.pooled
        if fit is None:
            rows.append([str(d.iteration), str(sum(cal.sources.values())), "", "", "", "", "", "", "fixed levels"])
            continue
        f_lo, f_hi = fit.levels(cal.target, cal.hi_multiple)
        rows.append([str(d.iteration), str(fit.n_pairs), _fmt(fit.k, "{:.2f}"), _fmt(fit.exponent, "{:.2f}"),
                     _fmt(float(np.exp(fit.scatter)), "{:.2f}"), _fmt(fit.coverage, "{:.2f}"), _fmt(f_lo),
                     _fmt(f_hi), f"{len(cal.per_system)} system(s) with their own"])
    if not rows:
        return ""
    return "<h3>Calibrated trust levels</h3>" + table(
        ["iter", "pairs", "k (quantile)", "exponent", "scatter (x)", "coverage", "pooled f_lo (eV/Å)",
         "pooled f_hi (eV/Å)", "per system"], rows)


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``index.html`` and its PNG plots into ``out`` (default ``RUN/report``); returns the page."""
    run = RunDir(run_dir)
    run.check()                       # nothing is created for a folder that is no run directory
    out = Path(out) if out is not None else run.path / "report"
    out.mkdir(parents=True, exist_ok=True)
    data = collect(run_dir, out)
    figures = [
        ("Explored frames and dataset", plots.ratios_and_dataset, "ratios.png",
         "Share of explored frames that are accurate (ε < f_lo), candidates and failed (ε ≥ f_hi) per "
         "iteration; vertical lines separate stages. Right: labeled frames the iteration trained on."),
        ("Model deviation per iteration", plots.deviation_histograms, "deviation.png",
         "Histogram of the maximal force deviation ε (eq. 1) of every recorded MD frame; the shaded band "
         "is the trust window [f_lo, f_hi)."),
        ("Learning curves", plots.learning_curves, "learning.png",
         "Mean over the ensemble members; each iteration continues the step axis."),
        ("Parity on held-out labels", plots.parity, "parity.png",
         "Each iteration's ensemble mean against the labels of the frames it selected (not in its training set)."),
        ("Audited error", plots.audit_errors, "audit.png",
         "Each iteration's ensemble on a random sample of each system's explored frames (drawn whatever their "
         "deviation, labeled before training on them): force and energy RMSE per system; black: pooled over "
         "the stage and its upper confidence bound, which the convergence targets (dashed) must beat."),
        ("Indicator calibration", plots.calibration, "calibration.png",
         "True maximal atomic force error of every labeled candidate against its predicted deviation ε. "
         "The paper notes the indicator has no theory; this measures it every iteration."),
    ]
    body = [summary_section(data), "<h2>Convergence</h2>", convergence_section(data),
            "<h2>Iterations</h2>", _iteration_table(data), "<h2>Systems</h2>", systems_section(data),
            "<h2>Labeled frames</h2>", labels_section(data)]
    for title, fn, name, caption in figures:
        path = fn(data, out / name)
        body.append(f"<h2>{html.escape(title)}</h2>")
        if path is None:
            body.append("<p>Not enough data yet.</p>")
        else:
            body.append(f'<figure><img src="{name}" alt="{html.escape(title)}">'
                        f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        if name == "calibration.png":
            body.append(_calibration_table(data))
            body.append(_levels_table(data))
    events = (data.state.schedule or {}).get("events")
    if events:
        body.append("<h2>Stage events</h2><ul>" + "".join(f"<li>{html.escape(e)}</li>" for e in events) + "</ul>")
    if data.validation is not None:   # written by `pesgen test RUN`
        from pesgen.validate.report import report_section

        body.append(report_section(data.validation))
    body.append(f"<h2>Config</h2><pre>{html.escape(data.config_text)}</pre>")
    page = out / "index.html"
    page.write_text(PAGE.format(title=html.escape(data.name), body="\n".join(body)))
    return page
