"""The loop's modules driven alone: the stage schedule, the training settings per iteration, and
the selection step on a hand-written deviation record (no training, no MD, no labels)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from loop_testkit import write_tiny
from rich.console import Console

from pesgen.explore.calibration import Calibration
from pesgen.explore.records import RecordWriter
from pesgen.explore.stages import temperature_ramp
from pesgen.label.campaign import CampaignReport
from pesgen.loop.config import load_config
from pesgen.loop.context import RunContext
from pesgen.loop.errors import ConfigError
from pesgen.loop.progress import LoopProgress
from pesgen.loop.rundir import RunDir
from pesgen.loop.schedule import build_schedule, match_systems
from pesgen.loop.seeds import step_seed
from pesgen.loop.selection_step import select_step
from pesgen.loop.summaries import AuditSummary, LabelSummary, RunState, SelectSummary
from pesgen.loop.training_step import iteration_settings

SYSTEMS = ["Al-fcc", "Al-sc"]


def _config(tmp_path, replace: dict[str, str] | None = None):
    path = write_tiny(tmp_path)
    text = path.read_text()
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)
    return load_config(path)


def _context(tmp_path, cfg) -> RunContext:
    return RunContext(cfg, RunDir(tmp_path / "run"), "<test>", [], cfg.build_labeler("<test>"),
                      build_schedule(cfg, SYSTEMS), RunState(), LoopProgress(quiet=True), Console(quiet=True))


# ----------------------------------------------------------------------------- schedule
def test_match_systems_keeps_the_order_of_the_systems():
    assert match_systems(["*-sc", "Al-f*"], SYSTEMS) == ("Al-fcc", "Al-sc")
    assert match_systems(["Mg*"], SYSTEMS) == ()


def test_explicit_stages_take_the_exploration_defaults(tmp_path):
    cfg = _config(tmp_path, {"temperatures = [600.0]": 'temperatures = [600.0, 900.0]\nsystems = ["*-sc"]\n'
                                                       "max_iterations = 3"})
    sched = build_schedule(cfg, SYSTEMS)
    assert len(sched.stages) == 1
    stage = sched.stages[0]
    assert stage.name == "stage 0"
    c = stage.conditions
    assert (c.systems, c.temperatures, c.n_steps, c.record_every, c.timestep) == (("Al-sc",), (600.0, 900.0),
                                                                                 40, 5, 2.0)
    assert (stage.max_iterations, stage.min_iterations, stage.accurate_threshold) == (3, 1, 0.999)
    assert stage.label_cap.cap(0.0) == 3


def test_ramp_has_one_stage_per_temperature(tmp_path):
    ramp = "[exploration.ramp]\nn_stages = 3\nt_min = 100.0\nt_max = 900.0\n\n[selection]"
    cfg = _config(tmp_path, {"[[exploration.stages]]\ntemperatures = [600.0]\n\n[selection]": ramp})
    sched = build_schedule(cfg, SYSTEMS)
    temps = temperature_ramp(3, 100.0, 900.0, "geometric")
    assert [s.conditions.temperatures for s in sched.stages] == [(t,) for t in temps]
    assert [s.name for s in sched.stages] == [f"T={t:.0f}K" for t in temps] == ["T=100K", "T=300K", "T=900K"]
    assert all(s.conditions.systems == tuple(SYSTEMS) for s in sched.stages)


def test_a_pattern_matching_no_system_names_its_key(tmp_path):
    cfg = _config(tmp_path, {"temperatures = [600.0]": 'temperatures = [600.0]\nsystems = ["Mg*"]'})
    with pytest.raises(ConfigError) as info:
        build_schedule(cfg, SYSTEMS, "c.toml")
    assert [k for k, _ in info.value.problems] == ["exploration.stages[0].systems"]


def test_a_restored_schedule_goes_on_as_the_original(tmp_path):
    cfg = _config(tmp_path, {"max_iterations_per_stage = 5": "max_iterations_per_stage = 2"})
    sched = build_schedule(cfg, SYSTEMS)
    sched.stage_of(0)
    sched.record(0, accurate=10, candidate=8, failed=2)
    again = build_schedule(cfg, SYSTEMS)
    again.restore(sched.to_dict())
    assert again.to_dict() == sched.to_dict() and not again.finished
    for s in (sched, again):
        s.stage_of(1)
        s.record(1, accurate=12, candidate=6, failed=2)
    assert again.to_dict() == sched.to_dict()
    assert again.finished and not again.converged                # the only stage ran out of iterations


# ----------------------------------------------------------------------------- training settings
def test_first_iteration_trains_cold_with_the_train_table(tmp_path):
    ctx = _context(tmp_path, _config(tmp_path))
    settings, warm = iteration_settings(ctx, 0)
    assert not warm
    assert (settings.numb_steps, settings.start_lr, settings.n_members) == (120, 0.005, 2)
    assert settings.seed == step_seed(3, 0, "train")


def test_later_iterations_warm_start_with_their_own_seed(tmp_path):
    ctx = _context(tmp_path, _config(tmp_path, {"numb_steps = 60": "numb_steps = 60\nstart_lr = 5e-5"}))
    s1, warm = iteration_settings(ctx, 1)
    s2, _ = iteration_settings(ctx, 2)
    assert warm and s1.numb_steps == 60
    assert s1.start_lr == 5e-5 and s1.stop_lr == 5e-5      # stop_lr never above start_lr
    assert s1.seed == step_seed(3, 1, "train") != s2.seed


def test_warm_start_defaults_to_a_quarter_of_the_steps_and_can_be_off(tmp_path):
    ctx = _context(tmp_path, _config(tmp_path, {"numb_steps = 60": "", "disp_freq = 50": "decay_steps = 50"}))
    settings, warm = iteration_settings(ctx, 1)
    assert warm and settings.numb_steps == 30 and settings.decay_steps == 30
    ctx = _context(tmp_path, _config(tmp_path, {"numb_steps = 60": "enabled = false"}))
    settings, warm = iteration_settings(ctx, 1)
    assert not warm and settings.numb_steps == 120


# ----------------------------------------------------------------------------- selection step
def _write_record(ctx: RunContext, devi_per_system: list[list[float]], iteration: int = 0) -> None:
    columns: dict[str, list] = {name: [] for name in ("walker", "system", "step", "time", "temperature_target",
                                                      "temperature", "pressure_target", "pressure", "max_devi_f",
                                                      "min_devi_f", "avg_devi_f", "devi_e", "max_devi_v",
                                                      "min_devi_v", "avg_devi_v")}
    frames = []
    for walker, (system, devi) in enumerate(zip(SYSTEMS, devi_per_system, strict=True)):
        for k, f in enumerate(devi):
            row = {"walker": walker, "system": system, "step": 5 * k, "time": 10.0 * k, "temperature_target": 600.0,
                   "temperature": 590.0, "pressure_target": np.nan, "pressure": 0.0, "max_devi_f": f,
                   "min_devi_f": f / 4, "avg_devi_f": f / 2, "devi_e": 1e-3, "max_devi_v": 1e-3,
                   "min_devi_v": 1e-4, "avg_devi_v": 5e-4}
            for name, value in row.items():
                columns[name].append(value)
            atoms = bulk("Al", "fcc", a=4.05, cubic=True)
            atoms.rattle(0.01, seed=100 * walker + k)
            frames.append(atoms)
    with RecordWriter(ctx.run.record_path(iteration), keep_above=0.0, mode="w") as writer:
        writer.append({k: np.asarray(v) for k, v in columns.items()}, frames)


DEVI = [[0.01, 0.01, 0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.9],       # 3 accurate, 5 candidates, 2 failed
        [0.01, 0.05, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]]        # 1 accurate, 1 candidate, 8 failed


def test_select_step_picks_capped_candidates_and_records_the_iteration(tmp_path):
    ctx = _context(tmp_path, _config(tmp_path, {'strategy = "diverse"': 'strategy = "random"'}))
    _write_record(ctx, DEVI)
    summary = select_step(ctx, 0)
    assert ctx.run.read_summary(SelectSummary, 0) == summary
    c = summary.counts
    assert (c.accurate, c.candidate, c.failed, c.total) == (4, 6, 10, 20)
    assert summary.ratios == {"accurate": 0.2, "candidate": 0.3, "failed": 0.5}
    rows = summary.selected_rows
    assert len(rows) == 4 and len(set(rows)) == 4                       # 3 of the first system (cap) + 1
    candidates = {k for k, f in enumerate(DEVI[0] + DEVI[1]) if 0.02 <= f < 0.8}
    assert set(rows) <= candidates and 11 in rows
    assert summary.per_system["Al-fcc"]["selected"] == 3 and summary.per_system["Al-sc"]["selected"] == 1
    assert ctx.schedule.stats[0].accurate_ratio == [0.2] and ctx.schedule.stats[0].n_selected == [4]
    assert summary.schedule_events == ctx.schedule.events
    # the same seed picks the same frames
    again = _context(tmp_path, ctx.cfg)
    assert select_step(again, 0).selected_rows == rows


def test_select_step_with_calibrated_levels_fits_each_system_on_earlier_labels(tmp_path):
    cfg = _config(tmp_path, {'strategy = "diverse"': 'strategy = "random"\ntrust = "calibrated"\n'
                                                     '[selection.calibration]\ntarget_max_force_error = 0.3\n'
                                                     'min_pairs = 4\nquantile = 0.5\nhi_multiple = 2.0\n'
                                                     'model = "proportional"'})
    ctx = _context(tmp_path, cfg)
    _write_record(ctx, DEVI)
    first = select_step(ctx, 0)                          # nothing measured yet: the fixed levels
    assert first.calibration is not None and first.calibration.pooled is None
    assert {p["levels_from"] for p in first.per_system.values()} == {"none"}
    assert (first.counts.accurate, first.counts.candidate, first.counts.failed) == (4, 6, 10)
    # iteration 0's labels: true max force error = 3 x ε on Al-fcc and 15 x ε on Al-sc
    dev = [0.05, 0.1, 0.2, 0.4, 0.05, 0.1, 0.2, 0.4]
    systems = ["Al-fcc"] * 4 + ["Al-sc"] * 4
    err = [3 * d for d in dev[:4]] + [15 * d for d in dev[4:]]
    ctx.run.write_summary(LabelSummary(0, CampaignReport(8, 8, 0, 0), 20, 0,
                                       {"system": systems, "deviation": dev, "max_force_error": err}, 1.0))
    _write_record(ctx, DEVI, iteration=1)
    # iteration 1's audit (before its selection, with its model): two frames of a third system
    frames = [{"system": "Al-bcc", "row": r, "deviation": 0.1, "max_force_error": 0.5, "rmse_f": 0.2,
               "energy_error": 1.0} for r in (0, 1)]
    ctx.run.write_summary(AuditSummary(1, 0, "stage 0", [0, 1], CampaignReport(2, 2, 0, 0), {}, {}, frames, 1.0))
    summary = select_step(ctx, 1)
    cal = summary.calibration
    assert cal.sources == {"audit": 2, "candidates": 8} and set(cal.per_system) == {"Al-fcc", "Al-sc"}
    assert cal.pooled.n_pairs == 10 and cal.target_source == "selection.calibration.target_max_force_error"
    assert cal.per_system["Al-fcc"].k == pytest.approx(3.0) and cal.per_system["Al-sc"].k == pytest.approx(15.0)
    fcc, sc = summary.per_system["Al-fcc"], summary.per_system["Al-sc"]
    assert (fcc["f_lo"], fcc["f_hi"]) == pytest.approx((0.1, 0.2))           # 0.3 / 3, 2 x that
    assert (sc["f_lo"], sc["f_hi"]) == pytest.approx((0.02, 0.04))           # 0.3 / 15
    assert fcc["levels_from"] == sc["levels_from"] == "system"
    # Al-fcc: 0.01 x3 accurate; 0.1 candidate; 0.2 ... failed.  Al-sc: 0.01 accurate, 0.05 and up failed
    assert (fcc["accurate"], fcc["candidate"], fcc["failed"]) == (3, 1, 6)
    assert (sc["accurate"], sc["candidate"], sc["failed"]) == (1, 0, 9)
    assert summary.trust["trust"] == "calibrated" and summary.f_lo == pytest.approx(cal.levels()[0])
    again = ctx.run.read_summary(SelectSummary, 1)
    assert again == summary and isinstance(again.calibration, Calibration)
