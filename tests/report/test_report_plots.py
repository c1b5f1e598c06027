"""Report plots from synthetic run data (the full report of a real run is tested in tests/loop)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pesgen.explore.calibration import Pairs, fit_calibration
from pesgen.report import plots
from pesgen.report.collect import IterationData, RunData
from pesgen.report.html import _levels_table


def _data(n_iter: int = 3, with_labels: bool = True) -> RunData:
    rng = np.random.default_rng(0)
    its, rows = [], []
    for it in range(n_iter):
        dev = rng.lognormal(np.log(0.05), 0.5, 200)
        err = dev * rng.lognormal(np.log(2.0), 0.3, 200)
        f_label = rng.normal(0, 1, 300)
        cal = {"deviation": dev[:20].tolist(), "max_force_error": err[:20].tolist(),
               "energy_label": rng.normal(-3.4, 0.1, 20).tolist(), "energy_model": rng.normal(-3.4, 0.1, 20).tolist(),
               "force_label": f_label.tolist(), "force_model": (f_label + rng.normal(0, 0.05, 300)).tolist()}
        curve = [{"step": s, "rmse_f_trn": 0.1 / (1 + s), "rmse_f_val": 0.1 / (1 + s / 2),
                  "rmse_e_trn": 0.01, "rmse_e_val": 0.02} for s in range(0, 500, 100)]
        acc = 0.6 + 0.1 * it
        its.append(IterationData(it, f"T={100 * (it + 1)}K", dev, 0.05, 0.15,
                                 {"accurate": acc, "candidate": 0.95 - acc, "failed": 0.05}, 24 + 10 * it, curve,
                                 cal if with_labels else {}))
        rows.append({"iteration": it, "stage": its[-1].stage, "frames": 200, "accurate": acc,
                     "candidate": 0.95 - acc, "failed": 0.05, "dataset": 24 + 10 * it})
    return RunData(Path("."), {}, rows, its)


@pytest.mark.parametrize("fn", [plots.deviation_histograms, plots.ratios_and_dataset, plots.learning_curves,
                                plots.parity, plots.calibration])
def test_each_plot_writes_a_png(fn, tmp_path):
    path = fn(_data(), tmp_path / "x.png")
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000


def test_plots_without_labels_are_skipped(tmp_path):
    data = _data(with_labels=False)
    assert plots.parity(data, tmp_path / "p.png") is None
    assert plots.calibration(data, tmp_path / "c.png") is None
    assert not (tmp_path / "p.png").exists()
    empty = RunData(Path("."), {}, [], [])
    for fn in (plots.deviation_histograms, plots.ratios_and_dataset, plots.learning_curves):
        assert fn(empty, tmp_path / "e.png") is None


def test_spearman():
    x = np.arange(10.0)
    assert plots.spearman(x, x ** 3) == pytest.approx(1.0)
    assert plots.spearman(x, -x) == pytest.approx(-1.0)
    # a known value: ranks (1,2,3,4,5) vs (2,1,4,3,5): 1 - 6*4/(5*24) = 0.8
    assert plots.spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    assert np.isnan(plots.spearman([1, 2], [2, 1]))


def test_calibration_plot_and_table_show_the_fitted_levels(tmp_path):
    data = _data()
    last = data.iterations[-1]
    pairs = Pairs.of("Al", last.calibration["deviation"], last.calibration["max_force_error"])
    last.fit = fit_calibration(pairs, target=0.2, min_pairs=5)
    path = plots.calibration(data, tmp_path / "c.png")
    assert path is not None and path.stat().st_size > 5000
    f_lo, f_hi = last.fit.levels()
    table = _levels_table(data)
    assert f"{f_lo:.3f}" in table and f"{f_hi:.3f}" in table and "<td>20</td>" in table
    assert _levels_table(_data()) == ""                       # fixed levels: no table


def test_audit_plot_draws_each_system_and_the_targets(tmp_path):
    from pesgen.label.campaign import CampaignReport
    from pesgen.loop.summaries import AuditSummary

    data = _data()
    for d in data.iterations:
        per = {s: {"n": 2, "n_drawn": 2, "rmse_f": 0.05 * (k + 1) / (d.iteration + 1), "rmse_e": 10.0 - d.iteration,
                   "max_force_error": 0.2} for k, s in enumerate(("a", "b", "c"))}
        stage = {"n": 6, "rmse_f": 0.08, "rmse_e": 9.0, "max_force_error": 0.2, "upper_rmse_f": 0.1,
                 "upper_rmse_e": 12.0, "confidence": 0.9}
        d.audit = AuditSummary(d.iteration, 0, d.stage, [1, 2], CampaignReport(n_tasks=6, n_labeled=6), per, stage,
                               [], 1.0)
    plain = plots.audit_errors(data, tmp_path / "a.png")
    assert plain is not None and plain.stat().st_size > 5000
    data.targets = {"force": 0.05, "energy": 5.0}
    with_targets = plots.audit_errors(data, tmp_path / "t.png")
    assert with_targets.read_bytes() != plain.read_bytes()          # the target lines are drawn
    assert plots.audit_errors(_data(), tmp_path / "none.png") is None  # no audit: no plot


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions close after saving, kept open for inspection."""
    kept = []
    monkeypatch.setattr(plots.plt, "close", kept.append)
    return kept


def test_ratio_plot_legend_sits_off_the_lines_and_iterations_are_whole(tmp_path, figures):
    plots.ratios_and_dataset(_data(3), tmp_path / "r.png")
    fig = figures[-1]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y1 < ax.get_window_extent(renderer).y0           # below the axes, clear of the 100 % line


def test_every_histogram_has_axis_labels(tmp_path, figures):
    plots.deviation_histograms(_data(6), tmp_path / "d.png")
    panels = [ax for ax in figures[-1].axes if ax.axison]
    assert len(panels) == 6
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in panels)


@pytest.mark.parametrize("fn", [plots.learning_curves, plots.parity, plots.calibration])
def test_iteration_colours_have_a_colour_bar(fn, tmp_path, figures):
    fn(_data(4), tmp_path / "x.png")
    bars = [ax for ax in figures[-1].axes if ax.get_ylabel() == "iteration"]
    assert len(bars) == 1
    assert [t.get_text() for t in bars[0].get_yticklabels()] == ["0", "1", "2", "3"]


def test_calibration_axes_fit_the_points(tmp_path, figures):
    data = _data(3)
    plots.calibration(data, tmp_path / "c.png")
    ax = figures[-1].axes[0]
    for key, (lo, hi) in (("deviation", ax.get_xlim()), ("max_force_error", ax.get_ylim())):
        values = np.concatenate([d.calibration[key] for d in data.iterations])
        assert values.min() / 1.3 <= lo <= values.min() and values.max() <= hi <= values.max() * 1.3


def test_validation_parity_labels_do_not_overlap():
    from matplotlib.text import Text

    from pesgen.validate.plots import caption, plot_parity

    rows = [{"group": "surfaces", "unit": "J/m^2", "quantity": f"E_s Al ({h}{k}{l}) relaxed", "model": 0.9 + 0.001 * n,
             "reference": 0.9 + 0.0012 * n} for n, (h, k, l) in enumerate(
                 [(1, 0, 0), (1, 1, 0), (1, 1, 1), (2, 1, 0), (2, 1, 1), (2, 2, 1), (3, 1, 0), (3, 1, 1)])]
    fig = plot_parity({"rows": rows}, "surfaces", "J/m^2", "surface formation energies", "relaxed")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [Text.get_window_extent(t, renderer) for t in fig.axes[0].texts]   # the text, not its line
    assert len(boxes) == 8 and {t.get_text() for t in fig.axes[0].texts} >= {"(111) relaxed", "(100) relaxed"}
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    assert caption("eos_Al") == "Al: energy against volume of each crystal (equation of state)"
    assert caption("alloys_vacancy").startswith("vacancy formation energies")
