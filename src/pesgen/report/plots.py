"""The report's figures (matplotlib, Agg backend, PNG files).

* deviation histograms per iteration with the trust window;
* accurate / candidate / failed ratios and dataset size vs iteration;
* learning curves (force and energy RMSE, training and validation, over all iterations);
* parity plots of energies and forces on held-out labels (each iteration's model against the
  frames it selected, which it never saw in training);
* the indicator's calibration: true maximal force error vs predicted deviation of every labeled
  candidate, per iteration; with calibrated trust levels, the last fitted relation (its quantile
  and median lines), the target and the levels it gave;
* the audit: each system's true force and energy RMSE on its random audit frames vs iteration,
  with the convergence targets.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pesgen.report.collect import RunData  # noqa: E402

COLORS = {"accurate": "#2a9d8f", "candidate": "#e9c46a", "failed": "#e76f51"}


def _cmap(n: int):
    cmap = plt.get_cmap("viridis")
    return [cmap(x) for x in np.linspace(0.0, 0.9, max(n, 1))]


def _iteration_colorbar(fig, axes, iterations: list[int]) -> None:
    """A colour bar that says which colour is which iteration (the colours of :func:`_cmap`)."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    colors = _cmap(len(iterations))
    bounds = np.arange(len(iterations) + 1) - 0.5
    mappable = matplotlib.cm.ScalarMappable(norm=BoundaryNorm(bounds, len(colors)), cmap=ListedColormap(colors))
    bar = fig.colorbar(mappable, ax=axes, fraction=0.04, pad=0.02)
    step = max(1, len(iterations) // 10)
    ticks = list(range(0, len(iterations), step))
    bar.set_ticks(ticks, labels=[str(iterations[k]) for k in ticks])
    bar.set_label("iteration", fontsize=8)
    bar.ax.tick_params(labelsize=7)


def _integer_ticks(ax) -> None:
    """Iterations are whole numbers: no 2.5 on an iteration axis."""
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))


def deviation_histograms(data: RunData, path: Path) -> Path | None:
    """One log-x histogram of max_devi_f per iteration, trust window shaded."""
    its = [d for d in data.iterations if d.max_devi_f is not None and len(d.max_devi_f)]
    if not its:
        return None
    n = len(its)
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False, sharex=True)
    finite = np.concatenate([d.max_devi_f[np.isfinite(d.max_devi_f) & (d.max_devi_f > 0)] for d in its])
    lo = max(float(np.min(finite)) if len(finite) else 1e-4, 1e-5)
    hi = float(np.max(finite)) if len(finite) else 1.0
    bins = np.geomspace(lo, max(hi, lo * 10), 50)
    for ax, d in zip(axes.flat, its, strict=False):
        f = d.max_devi_f[np.isfinite(d.max_devi_f)]
        f = np.clip(f, bins[0], bins[-1])
        ax.hist(f, bins=bins, color="#457b9d")
        if d.f_lo is not None and d.f_hi is not None:
            ax.axvspan(d.f_lo, d.f_hi, color=COLORS["candidate"], alpha=0.3, lw=0)
            ax.axvline(d.f_lo, color="k", lw=0.8, ls="--")
            ax.axvline(d.f_hi, color=COLORS["failed"], lw=0.8, ls="--")
        ax.set_xscale("log")
        acc = d.ratios.get("accurate")
        ax.set_title(f"iter {d.iteration} {d.stage or ''}" + (f"  acc {100 * acc:.0f}%" if acc is not None else ""),
                     fontsize=8)
        ax.tick_params(labelsize=7, labelbottom=True)
        ax.set_xlabel("ε (eV/Å)", fontsize=7)
        ax.set_ylabel("frames", fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Model deviation of explored frames (shaded: trust window, candidates)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def ratios_and_dataset(data: RunData, path: Path) -> Path | None:
    """Accurate / candidate / failed ratios and dataset size vs iteration."""
    rows = [r for r in data.rows if r["frames"]]
    if not rows:
        return None
    its = [r["iteration"] for r in rows]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    for name in ("accurate", "candidate", "failed"):
        ax.plot(its, [100 * r[name] for r in rows], "o-", color=COLORS[name], label=name)
    stages = [r["stage"] for r in rows]
    for k in range(1, len(rows)):
        if stages[k] != stages[k - 1]:
            ax.axvline(its[k] - 0.5, color="0.7", lw=0.8)
    for k, r in enumerate(rows):
        if k == 0 or stages[k] != stages[k - 1]:
            ax.annotate(r["stage"] or "", (its[k] - 0.4, 50), fontsize=7, color="0.4", rotation=90)
    ax.set_xlabel("iteration")
    ax.set_ylabel("% of explored frames")
    ax.set_ylim(-2, 102)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    ax.set_title("Exploration outcome", fontsize=9)
    _integer_ticks(ax)
    ds = [(r["iteration"], r["dataset"]) for r in data.rows if r["dataset"] is not None]
    if ds:
        ax2.step([x for x, _ in ds], [y for _, y in ds], where="mid", color="#1d3557")
        ax2.plot([x for x, _ in ds], [y for _, y in ds], "o", color="#1d3557")
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("labeled frames in training")
    ax2.set_title("Dataset size", fontsize=9)
    _integer_ticks(ax2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def learning_curves(data: RunData, path: Path) -> Path | None:
    """Force and energy RMSE (training batch, validation) over the cumulative training steps."""
    its = [d for d in data.iterations if d.learning_curve]
    if not its:
        return None
    fig, (axf, axe) = plt.subplots(1, 2, figsize=(9, 3.3))
    offset = 0
    colors = _cmap(len(its))
    for d, c in zip(its, colors, strict=True):
        steps = np.array([p["step"] for p in d.learning_curve]) + offset
        for ax, key, scale in ((axf, "rmse_f", 1.0), (axe, "rmse_e", 1000.0)):
            trn = [p.get(f"{key}_trn") for p in d.learning_curve]
            val = [p.get(f"{key}_val") for p in d.learning_curve]
            if all(v is not None for v in trn):
                ax.plot(steps, np.array(trn) * scale, color=c, lw=0.8, alpha=0.6)
            if all(v is not None for v in val):
                ax.plot(steps, np.array(val) * scale, "o-", color=c, ms=2.5, lw=1.2)
        offset = int(steps[-1]) + 1
        axf.axvline(offset, color="0.85", lw=0.5)
    for ax, label in ((axf, "force RMSE (eV/Å)"), (axe, "energy RMSE (meV/atom)")):
        ax.set_yscale("log")
        ax.set_xlabel("training step (all iterations)")
        ax.set_ylabel(label)
    axf.set_title("lines: training batch, dots: validation", fontsize=9)
    axe.set_title("ensemble mean", fontsize=9)
    fig.tight_layout()
    _iteration_colorbar(fig, [axf, axe], [d.iteration for d in its])
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parity(data: RunData, path: Path) -> Path | None:
    """Model vs label for energies (eV/atom) and force components (eV/Å) of held-out frames."""
    its = [d for d in data.iterations if d.calibration.get("energy_label")]
    if not its:
        return None
    fig, (axe, axf) = plt.subplots(1, 2, figsize=(9, 4))
    colors = _cmap(len(its))
    for d, c in zip(its, colors, strict=True):
        cal = d.calibration
        axe.plot(cal["energy_label"], cal["energy_model"], "o", ms=3, color=c, alpha=0.8, label=f"iter {d.iteration}")
        axf.plot(cal["force_label"], cal["force_model"], ".", ms=1.5, color=c, alpha=0.5)
    for ax in (axe, axf):
        lims = np.array([ax.get_xlim(), ax.get_ylim()])
        lo, hi = lims.min(), lims.max()
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.6)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
    axe.set_xlabel("label energy (eV/atom)")
    axe.set_ylabel("model energy (eV/atom)")
    axf.set_xlabel("label force component (eV/Å)")
    axf.set_ylabel("model force component (eV/Å)")
    axe.set_title("Held-out: each iteration's model on the frames it selected", fontsize=9)
    last = its[-1].calibration
    fl, fm = np.array(last["force_label"]), np.array(last["force_model"])
    axf.set_title(f"iter {its[-1].iteration}: force RMSE {np.sqrt(np.mean((fl - fm) ** 2)):.3f} eV/Å", fontsize=9)
    fig.tight_layout()
    _iteration_colorbar(fig, [axe, axf], [d.iteration for d in its])
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def calibration(data: RunData, path: Path) -> Path | None:
    """True maximal force error vs predicted deviation of every labeled candidate."""
    its = [d for d in data.iterations if d.calibration.get("deviation")]
    if not its:
        return None
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    colors = _cmap(len(its))
    for d, c in zip(its, colors, strict=True):
        ax.plot(d.calibration["deviation"], d.calibration["max_force_error"], "o", ms=3, color=c, alpha=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    (x_lo, x_hi), (y_lo, y_hi) = (_log_range(np.concatenate([d.calibration[k] for d in its]))
                                  for k in ("deviation", "max_force_error"))
    lo, hi = min(x_lo, y_lo), max(x_hi, y_hi)
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.6, label="error = ε")
    f_lo, f_hi = its[-1].f_lo, its[-1].f_hi
    fitted = [d for d in data.iterations if d.fit is not None and d.fit.pooled is not None]
    title = "Indicator calibration (labeled candidates)"
    if fitted:   # calibrated trust levels: the last fit, its levels and the target
        d = fitted[-1]
        cal, fit = d.fit, d.fit.pooled  # type: ignore[union-attr]
        x = np.geomspace(lo, hi, 50)
        ax.plot(x, fit.error_at(x), "-", color="#e63946", lw=1.2,
                label=f"fit iter {d.iteration}: q{100 * cal.quantile:.0f} {fit.k:.2f} ε^{fit.exponent:.2f}")
        ax.plot(x, fit.k_median * x ** fit.exponent, "--", color="#e63946", lw=0.8, label="median")
        ax.axhline(cal.target, color="0.3", lw=0.8, ls=":", label=f"target {cal.target} eV/Å")
        f_lo, f_hi = fit.levels(cal.target, cal.hi_multiple)
        title = f"Indicator calibration; levels of iter {d.iteration}: f_lo {f_lo:.3f}, f_hi {f_hi:.3f} eV/Å"
    if f_lo and f_hi:
        ax.axvspan(f_lo, f_hi, color=COLORS["candidate"], alpha=0.2, lw=0)
        ax.axvline(f_lo, color="k", lw=0.8, ls="--")
        ax.axvline(f_hi, color=COLORS["failed"], lw=0.8, ls="--")
    ax.set_xlim(x_lo, x_hi)   # fitted to the points (the lines above may reach beyond)
    ax.set_ylim(y_lo, y_hi)
    for axis in (ax.xaxis, ax.yaxis):   # 0.2, not 2×10⁻¹, on a narrow log range
        axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("predicted max force deviation ε (eV/Å)")
    ax.set_ylabel("true max force error |F_model − F_label| (eV/Å)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    _iteration_colorbar(fig, ax, [d.iteration for d in its])
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def audit_errors(data: RunData, path: Path) -> Path | None:
    """Per system: audited force RMSE (eV/Å) and energy RMSE (meV/atom) vs iteration; the
    stage's pooled RMSE and its upper confidence bound in black; the targets as dashed lines."""
    its = [d for d in data.iterations if d.audit is not None and d.audit.stage_errors.get("n")]
    if not its:
        return None
    fig, (axf, axe) = plt.subplots(1, 2, figsize=(10, 3.8))
    systems = list(dict.fromkeys(name for d in its for name in d.audit.per_system))
    colors = _cmap(len(systems))
    for ax, key, target, unit in ((axf, "rmse_f", data.targets.get("force"), "eV/Å"),
                                  (axe, "rmse_e", data.targets.get("energy"), "meV/atom")):
        for name, c in zip(systems, colors, strict=True):
            pts = [(d.iteration, d.audit.per_system[name][key]) for d in its
                   if name in d.audit.per_system and d.audit.per_system[name].get(key) is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), "o-", ms=2.5, lw=0.8, color=c, alpha=0.7,
                        label=name if len(systems) <= 12 else None)
        x = [d.iteration for d in its]
        ax.plot(x, [d.audit.stage_errors[key] for d in its], "k-", lw=1.8, label="stage, pooled")
        ax.plot(x, [d.audit.stage_errors[f"upper_{key}"] for d in its], "k:", lw=1.2,
                label=f"upper {100 * its[-1].audit.stage_errors['confidence']:.0f}% bound")
        if target is not None:
            ax.axhline(target, color=COLORS["failed"], ls="--", lw=1.2, label=f"target {target:g} {unit}")
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        _integer_ticks(ax)
        ax.set_ylabel(f"audited {'force' if key == 'rmse_f' else 'energy'} RMSE ({unit})")
    axf.set_title("True error on random explored frames (audit), per system", fontsize=9)
    if data.targets.get("force") is not None:
        axf.legend(handles=axf.get_lines()[-1:], fontsize=6)
    axe.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _log_range(values: np.ndarray, margin: float = 1.25) -> tuple[float, float]:
    """The positive range of ``values`` widened by ``margin`` on each side (log axes)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return 1e-3, 1.0
    return float(v.min()) / margin, float(v.max()) * margin


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (NaN for fewer than 3 points)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3:
        return float("nan")
    rx = np.argsort(np.argsort(x)).astype(float)
    ry = np.argsort(np.argsort(y)).astype(float)
    rx -= rx.mean()
    ry -= ry.mean()
    den = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / den) if den > 0 else float("nan")
