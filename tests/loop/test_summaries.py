"""The typed step summaries and the run state: files as older runs wrote them read back unchanged."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from pesgen.explore.select import Counts
from pesgen.label.campaign import CampaignReport
from pesgen.loop.errors import RunDirError
from pesgen.loop.rundir import RunDir
from pesgen.loop.summaries import (
    AuditSummary,
    ExploreSummary,
    InitialSummary,
    LabelSummary,
    RunState,
    SelectSummary,
    TrainSummary,
)

# The files of iteration 0 of a run written before the summaries were typed (key order included).
REPORT = {"n_tasks": 5, "n_labeled": 2, "n_failed": 1, "n_skipped": 2, "n_failed_before": 1,
          "n_failed_total": 2, "failure_kinds": {"timeout": 1}, "wall_time": 3.5}
OLD = {
    "train": {"iteration": 0, "n_frames": 8, "numb_steps": 120, "warm_start": False, "seed": 11,
              "rmse_e_trn": 0.01, "rmse_f_trn": 0.2, "rmse_e_val": None, "rmse_f_val": None,
              "learning_curve": [{"step": 0, "lr": 0.005, "rmse_f_trn": 0.3}], "wall_time": 1.5},
    "explore": {"iteration": 0, "stage": 0, "stage_name": "stage 0", "ensemble": "nvt",
                "temperatures": [600.0], "pressures": [], "n_walkers": 2, "n_steps": 40, "n_frames": 18,
                "n_kept": 9, "stops": {"max_devi_f": 1, "min_distance": 1}, "wall_time": 2.0},
    "select": {"iteration": 0, "stage": 0, "stage_name": "stage 0", "strategy": "diverse",
               "counts": {"accurate": 3, "candidate": 12, "failed": 3, "total": 18},
               "ratios": {"accurate": 3 / 18, "candidate": 12 / 18, "failed": 3 / 18},
               "selected_rows": [4, 7, 2], "per_system": {"Al-fcc": {"accurate": 3, "candidate": 12, "failed": 3,
                                                                     "cap": 3, "selected": 3, "rejected": 0,
                                                                     "f_lo": None}},
               "per_condition": [{"temperature": 600.0, "pressure": None, "accurate": 3, "candidate": 12,
                                  "failed": 3}],
               "trust": {"f_lo": 0.02, "f_hi": 0.8, "adaptive_lower": False, "f_lo_adapted": None},
               "messages": [], "schedule_events": [], "wall_time": 0.1},
    "label": {"iteration": 0, "report": REPORT, "n_store": 10, "n_store_failed": 2,
              "calibration": {"deviation": [0.1, 0.2]}, "wall_time": 4.0},
}
KINDS = {"train": TrainSummary, "explore": ExploreSummary, "select": SelectSummary, "label": LabelSummary}


@pytest.mark.parametrize("step", list(OLD))
def test_old_files_read_and_write_back_the_same(step):
    summary = KINDS[step].from_json(json.loads(json.dumps(OLD[step])))
    assert summary.to_json() == OLD[step]
    assert list(summary.to_json()) == list(OLD[step])          # same keys, same order
    assert json.dumps(summary.to_json()) == json.dumps(OLD[step])


def test_derived_numbers():
    label = LabelSummary.from_json(OLD["label"])
    # 2 labeled now + 2 skipped of which 1 had failed before: 3 labeled frames of this campaign
    assert label.report.n_labeled_total == 3 and label.report.n_failed_total == 2
    assert label.report.failure_kinds == Counter(timeout=1)
    assert ExploreSummary.from_json(OLD["explore"]).walkers_stopped == 2
    sel = SelectSummary.from_json(OLD["select"])
    assert sel.counts.total == 18 and sel.ratios["candidate"] == 12 / 18
    assert (sel.f_lo, sel.f_hi) == (0.02, 0.8)
    adapted = SelectSummary.from_json({**OLD["select"], "trust": {**OLD["select"]["trust"], "f_lo_adapted": 0.05}})
    assert adapted.f_lo == 0.05
    empty = SelectSummary(1, 0, "s", "random", Counts(), [], {}, [], {}, [], [], 0.0)
    assert empty.ratios == {"accurate": None, "candidate": None, "failed": None}


def test_initial_summary_omits_imported_skipped_without_files():
    generated = InitialSummary(labeled=CampaignReport(n_tasks=8, n_labeled=8), n_frames=8, wall_time=1.0)
    data = generated.to_json()
    assert list(data) == ["imported", "labeled", "n_frames", "wall_time"]
    assert data["labeled"]["n_failed_total"] == 0
    assert InitialSummary.from_json(data) == generated
    imported = InitialSummary(imported=3, imported_skipped=1, n_frames=3, wall_time=0.5)
    assert list(imported.to_json()) == ["imported", "labeled", "imported_skipped", "n_frames", "wall_time"]
    assert InitialSummary.from_json(imported.to_json()) == imported


def test_run_state_keys_as_before():
    fresh = RunState()
    assert list(fresh.to_json()) == ["version", "done", "schedule", "iterations", "finished", "reason",
                                     "events", "wall_times"]
    fresh.mark_done("initial", 1.23456)
    fresh.mark_done("0/train", 2.0)
    fresh.mark_done("0/train", 3.0)                          # a step is done once; its last time counts
    assert fresh.done == ["initial", "0/train"] and fresh.wall_times == {"initial": 1.235, "0/train": 3.0}
    fresh.mark_done("0/explore", 4.0)
    fresh.mark_done("1/train", 5.0)
    assert fresh.iterations() == [0, 1] and fresh.iterations("explore") == [0]
    assert fresh.wall_time(0) == 7.0 and fresh.wall_time(0, "select") is None
    fresh.finished, fresh.converged, fresh.reason = True, False, "stopped"
    data = fresh.to_json()
    assert list(data)[-1] == "converged" and data["converged"] is False
    assert RunState.from_json(json.loads(json.dumps(data))) == fresh


def test_run_directory_reads_and_writes_summaries(tmp_path):
    run = RunDir(tmp_path / "run")
    assert run.load_state() == RunState()
    assert run.read_summary(TrainSummary, 0) is None
    for step, data in OLD.items():
        run.write_summary(KINDS[step].from_json(data))
    for name in ("train", "explore", "selection", "label"):
        assert json.loads((run.iter_dir(0) / f"{name}.json").read_text()) == OLD[
            "select" if name == "selection" else name]
    rec = run.iteration_record(0)
    assert rec.select == SelectSummary.from_json(OLD["select"]) and rec.train.n_frames == 8
    assert rec.stage_name == "stage 0"
    later = run.iteration_record(1)
    assert (later.train, later.explore, later.select, later.label, later.stage_name) == (None,) * 5
    run.write_summary(InitialSummary(imported=2, n_frames=2))
    assert run.read_summary(InitialSummary) == InitialSummary(imported=2, n_frames=2)
    assert (run.path / "initial.json").is_file()
    state = RunState(done=["initial"], wall_times={"initial": 1.0})
    run.save_state(state)
    assert run.load_state() == state
    run.state_path.write_text(json.dumps({**state.to_json(), "version": 99}))
    with pytest.raises(RunDirError, match="version 99"):
        run.load_state()


AUDIT = {"iteration": 2, "stage": 1, "stage_name": "T=105K", "rows": [3, 17, 40],
         "report": REPORT | {"n_tasks": 3, "n_labeled": 2, "n_failed": 1, "n_skipped": 0, "n_failed_before": 0,
                             "n_failed_total": 1},
         "per_system": {"a": {"n": 2, "n_drawn": 2, "rmse_f": 0.05, "rmse_e": 5.0, "max_force_error": 0.2},
                        "b": {"n": 0, "n_drawn": 1, "rmse_f": None, "rmse_e": None, "max_force_error": None}},
         "stage_errors": {"n": 2, "rmse_f": 0.05, "rmse_e": 5.0, "max_force_error": 0.2, "upper_rmse_f": 0.15,
                          "upper_rmse_e": 15.0, "confidence": 0.9},
         "frames": [{"system": "a", "row": 3, "deviation": 0.01, "max_force_error": 0.2, "rmse_f": 0.03,
                     "energy_error": -3.0},
                    {"system": "a", "row": 17, "deviation": 0.02, "max_force_error": 0.1, "rmse_f": 0.0640312,
                     "energy_error": 6.403124}],
         "wall_time": 1.25}


def test_audit_summary_round_trips_and_gives_the_errors(tmp_path):
    summary = AuditSummary.from_json(json.loads(json.dumps(AUDIT)))
    assert summary.to_json() == AUDIT and list(summary.to_json()) == list(AUDIT)
    assert summary.report.n_labeled_total == 2 and summary.report.n_failed_total == 1
    errors = summary.errors()
    assert set(errors) == {"a", "b"} and errors["b"].n == 0 and errors["b"].rmse_f is None
    assert errors["a"].rmse_f == pytest.approx(0.05, rel=1e-6)
    assert errors["a"].rmse_e == pytest.approx(0.005, rel=1e-6)         # eV/atom from meV/atom
    assert errors["a"].max_force_error == 0.2
    assert summary.worst("rmse_f") == ("a", 0.05) and summary.worst("nothing") == (None, None)
    run = RunDir(tmp_path / "run")
    run.iter_dir(2).mkdir(parents=True)
    run.write_summary(summary)
    assert (run.iter_dir(2) / "audit.json").is_file()
    assert run.read_summary(AuditSummary, 2) == summary
    assert run.iteration_record(2).audit == summary and run.iteration_record(3).audit is None


def test_select_summary_keeps_the_verdict_and_reads_files_without_it():
    verdict = {"converged": False, "rule": "accurate_ratio", "decided_by": "audit", "deviation_holds": True,
               "deviation": "accurate 100.0% over 1 iteration(s) vs 95.0%", "audit_holds": False,
               "audit": "4 frames: ...", "text": "..."}
    with_verdict = OLD["select"] | {"convergence": verdict}
    summary = SelectSummary.from_json(json.loads(json.dumps(with_verdict)))
    assert summary.convergence == verdict and summary.to_json() == with_verdict
    assert SelectSummary.from_json(OLD["select"]).convergence is None
    assert "convergence" not in SelectSummary.from_json(OLD["select"]).to_json()
