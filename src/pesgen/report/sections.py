"""The report's text sections: the summary a user reads first (how the run ended, what it cost,
how accurate the final model is), the convergence decision with its rule and numbers, the
systems of the last iteration, and the labeled frames per iteration with links to them."""

from __future__ import annotations

import datetime
import html
from typing import Any

import pesgen
from pesgen.report.collect import RunData
from pesgen.report.labels import ORIGINS


def table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    """An HTML table of escaped text cells (a cell starting with ``<a `` is a link, kept as is),
    in a box that scrolls sideways on a narrow page."""
    def cell(c: str) -> str:
        return c if c.startswith("<a ") else html.escape(c)

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<div class="scroll"><table class="{cls}"><tr>{head}</tr>{body}</table></div>'


def duration(seconds: float) -> str:
    """``1 h 02 min``, ``4 min 51 s`` or ``12 s``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60} s"
    return f"{s} s"


def _final_audit(data: RunData) -> tuple[int, Any] | None:
    """(iteration, AuditSummary) of the last iteration with audited frames."""
    for d in reversed(data.iterations):
        if d.audit is not None and d.audit.stage_errors.get("n"):
            return d.iteration, d.audit
    return None


def _last_trained(data: RunData) -> dict[str, Any] | None:
    rows = [r for r in data.rows if r["dataset"] is not None]
    return rows[-1] if rows else None


def summary_section(data: RunData) -> str:
    """The header: config, version, date, wall time, labels, and the final model's accuracy (the
    audit's true errors, ``pesgen test``'s rows or a hint to run it)."""
    state, tally, esc = data.state, data.labels, html.escape
    reason = str(state.reason or "")
    for prefix in ("converged: ", "not converged: "):
        reason = reason.removeprefix(prefix)
    if state.finished:
        outcome = ("<b>converged</b>" if state.converged else "<b>finished without converging</b>") + f": {esc(reason)}"
    else:
        outcome = (f"<b>not finished</b> ({len(state.done)} steps done; <code>pesgen run "
                   f"{esc(str(data.run_dir))}</code> goes on)")
    origins = ", ".join(f"{sum(c[o] for c in tally.by_iteration.values())} {o}" for o in ORIGINS
                        if any(c[o] for c in tally.by_iteration.values()))
    items = [
        ("run", f"{esc(data.name)} in <code>{esc(str(data.run_dir))}</code>"),
        ("outcome", outcome),
        ("iterations", f"{len(data.rows)}; wall time {duration(data.wall_time)} (all steps)"),
        ("labels", f"{tally.labeled} labeled ({origins}), {tally.failed} failed"),
        ("report", f"pesgen {esc(pesgen.__version__)}, "
                   f"{datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M')} UTC"),
    ]
    last = _last_trained(data)
    if last is not None:
        val = ("no validation frames" if last["rmse_f_val"] is None else
               f"validation force RMSE {last['rmse_f_val']:.3f} eV/Å, energy "
               f"{last['rmse_e_val']:.1f} meV/atom on {_count(last['n_valid'])} held-out frames")
        items.append(("final model", f"<code>iter.{last['iteration']:06d}/model.pt</code> (<code>pesgen export "
                                     f"{esc(str(data.run_dir))} --out FILE</code>), trained on {last['dataset']} "
                                     f"frames; {val}"))
    audit = _final_audit(data)
    if audit is not None:
        it, au = audit
        e = au.stage_errors
        worst_f, value_f = au.worst("rmse_f")
        worst_e, value_e = au.worst("rmse_e")
        items.append(("accuracy (audit)", (
            f"the ensemble of iteration {it} on {e['n']} random explored frames of its stage, drawn whatever "
            f"their deviation and labeled after it was trained (true errors, not the deviation): force RMSE "
            f"<b>{e['rmse_f']:.3f} eV/Å</b> (upper {100 * e['confidence']:.0f}% bound {e['upper_rmse_f']:.3f}), "
            f"energy RMSE <b>{e['rmse_e']:.1f} meV/atom</b> (upper bound {e['upper_rmse_e']:.1f}); worst system "
            f"{esc(str(worst_f))} {value_f:.3f} eV/Å, {esc(str(worst_e))} {value_e:.1f} meV/atom")))
    else:
        items.append(("accuracy (audit)", "no audited frames (the config's <code>[audit]</code> is off)"))
    items.append(("materials properties", _validation_summary(data)))
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in items)
    return f'<div class="scroll"><table class="summary">{body}</table></div>'


def _count(n: int | None) -> str:
    return "?" if n is None else str(n)


def _validation_summary(data: RunData) -> str:
    """Table-I-like rows of ``pesgen test RUN`` (the full table is further down), or how to get them."""
    if data.validation is None:
        return (f"not measured yet: <code>pesgen test {html.escape(str(data.run_dir))} --reference "
                f"LABELER</code> compares the final model's equilibrium, elastic, defect and surface "
                f"properties with the reference's (the paper's Table I) and puts them in this report")
    from pesgen.validate.table import _fmt

    v = data.validation
    rows = [[r["quantity"], r["unit"], _fmt(r["model"], r["unit"]), _fmt(r["reference"], r["unit"]),
             _fmt(r["difference"], r["unit"])] for r in v["rows"]]
    return (f"<code>pesgen test</code> against {html.escape(str(v['reference']))} ({len(rows)} quantities; "
            f"plots below)" + table(["quantity", "unit", "model", "reference", "model − reference"], rows))


def convergence_section(data: RunData) -> str:
    """The rule in words with its settings, how the run ended, and each iteration's verdict."""
    c = data.convergence
    rule = (f"A stage converges when at least {100 * c.accurate_ratio:.1f}% of its explored frames are accurate "
            f"(deviation ε below the lower trust level f_lo) in {c.n_consecutive} consecutive iteration(s)")
    if c.min_candidates:
        rule += f", or when an iteration finds fewer than {c.min_candidates} candidates"
    if c.conv_tolerance is not None:
        rule += f", or (adaptive f_lo) when f_lo moves less than {c.conv_tolerance} eV/Å"
    targets = [f"{name} RMSE below {value:g} {unit}" for name, value, unit in
               (("force", c.target_force_rmse, "eV/Å"), ("energy", c.target_energy_rmse, "meV/atom"))
               if value is not None]
    if targets:
        rule += (f"; and, since the config sets targets, only when the audit measures a {' and '.join(targets)} "
                 f"for every system of the stage, and the upper {100 * c.target_confidence:.0f}% confidence "
                 f"bound of the RMSE pooled over the stage is below the target too")
    else:
        rule += ("; no error targets are set, so the true error measured by the audit does not enter the "
                 "decision (<code>[convergence] target_force_rmse</code> makes it)")
    rule += (f". A stage runs {c.min_iterations_per_stage} to {c.max_iterations_per_stage} iterations; the run "
             f"converges when its last stage does, and ends unconverged at a stage's iteration cap or at the "
             f"run's <code>max_iterations</code>.")
    rows = []
    for r in data.rows:
        v = r["convergence"] or {}
        if not v:
            continue
        rows.append([str(r["iteration"]), r["stage"] or "", v.get("deviation", ""),
                     _holds(v.get("deviation_holds")), v.get("audit") or "", _holds(v.get("audit_holds")),
                     "yes" if v.get("converged") else "no"])
    state = data.state
    end = (f"<p><b>Decision:</b> {html.escape(str(state.reason))}</p>" if state.finished else
           "<p><b>Decision:</b> the run has not finished.</p>")
    return (f"<p>{rule}</p>{end}" + table(["iter", "stage", "deviation rule", "holds", "audit rule", "holds",
                                          "stage converged"], rows))


def _holds(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def systems_section(data: RunData) -> str:
    """Per system of the last selected iteration: explored frames by class, labels in the store
    (all iterations), and its audited errors."""
    last = next((d for d in reversed(data.iterations) if d.per_system), None)
    if last is None:
        return "<p>No iteration has been selected yet.</p>"
    audit = last.audit.per_system if last.audit is not None else {}
    rows = []
    for name, s in sorted(last.per_system.items()):
        n = s["accurate"] + s["candidate"] + s["failed"]
        a = audit.get(name, {})
        rows.append([name, str(n), _pct(s["accurate"], n), _pct(s["candidate"], n), _pct(s["failed"], n),
                     str(data.labels.by_system.get(name, 0)), str(a.get("n", "")), _num(a.get("rmse_f"), "{:.3f}"),
                     _num(a.get("rmse_e"), "{:.1f}"), _num(a.get("max_force_error"), "{:.3f}"),
                     _num(s.get("f_lo"), "{:.3f}")])
    return (f"<p>Iteration {last.iteration} ({html.escape(last.stage or '')}); labels: every labeled frame of "
            f"the system in the store.</p>" + table(
                ["system", "explored", "accurate %", "candidate %", "failed %", "labels", "audited",
                 "audit F RMSE (eV/Å)", "audit E RMSE (meV/atom)", "audit max |ΔF| (eV/Å)", "f_lo (eV/Å)"], rows))


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}" if n else ""


def _num(x: Any, fmt: str) -> str:
    return "" if x is None else fmt.format(x)


def labels_section(data: RunData) -> str:
    """The labeled frames of each iteration by origin, the failed ones, and a link to the extxyz
    of its labeled selection (candidates and audit frames, with provenance)."""
    tally = data.labels
    iterations = sorted(set(tally.by_iteration) | set(tally.failed_by_iteration))
    if not iterations:
        return "<p>The store holds no frames yet.</p>"
    stage = {r["iteration"]: r["stage"] or "" for r in data.rows}
    rows = []
    for it in iterations:
        c = tally.by_iteration.get(it, {})
        link = tally.files.get(it)
        rows.append([str(it), stage.get(it, ""), *(str(c.get(o, 0)) for o in ORIGINS),
                     str(tally.failed_by_iteration.get(it, 0)),
                     f'<a href="{html.escape(link)}">{html.escape(link.split("/")[-1])}</a>' if link else ""])
    return ("<p>Frames in the store by the iteration that labeled them (initial data counts as iteration 0). "
            "Each file holds that iteration's labeled candidates and audit frames with energies (eV), forces "
            "(eV/Å) and provenance (system, temperature, deviation); open it with <code>ase gui</code> or "
            "OVITO.</p>" + table(["iter", "stage", *ORIGINS, "failed", "extxyz"], rows))
