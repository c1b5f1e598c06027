"""What the report shows, read from a run directory (nothing else is needed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pesgen.explore.calibration import Calibration
from pesgen.loop.config import ConvergenceSettings
from pesgen.loop.rundir import VALIDATION_DIR, RunDir
from pesgen.loop.status import iteration_rows
from pesgen.loop.summaries import AuditSummary, RunState
from pesgen.report.labels import LabelTally, tally_labels


@dataclass
class IterationData:
    """One iteration's numbers for the plots."""

    iteration: int
    stage: str | None
    max_devi_f: np.ndarray | None
    f_lo: float | None
    f_hi: float | None
    ratios: dict[str, float | None]
    dataset: int | None
    learning_curve: list[dict[str, Any]]
    calibration: dict[str, list[float]]
    fit: Calibration | None = None  # the calibrated trust levels this iteration's selection used
    audit: AuditSummary | None = None
    per_system: dict[str, dict[str, Any]] = field(default_factory=dict)  # the selection's, per system


@dataclass
class RunData:
    """Everything the report needs.

    ``name``: the config's name; ``convergence``: its convergence settings (the rule, targets in
    eV/Å and meV/atom); ``validation``: what ``pesgen test RUN`` wrote (None before it ran);
    ``labels``: the store's frames counted (:class:`~pesgen.report.labels.LabelTally`);
    ``wall_time``: the seconds of every step done (s).
    """

    run_dir: Path
    state: RunState
    rows: list[dict[str, Any]]
    iterations: list[IterationData] = field(default_factory=list)
    config_text: str = ""
    targets: dict[str, float | None] = field(default_factory=dict)
    name: str = ""
    convergence: ConvergenceSettings = field(default_factory=ConvergenceSettings)
    validation: dict[str, Any] | None = None
    labels: LabelTally = field(default_factory=LabelTally)
    wall_time: float = 0.0


def collect(run_dir: str | Path, out: Path | None = None) -> RunData:
    """Read the state, per-iteration summaries, deviation records, calibrations and audits of a
    run, the audit targets of its config (force eV/Å, energy meV/atom; None when unset), its
    convergence settings, the store's counts and ``pesgen test``'s results; with ``out`` (the
    report folder) each iteration's labeled selection is written there as extxyz."""
    from pesgen.explore.records import read_record

    run = RunDir(run_dir)
    run.check()
    import json
    import tomllib

    text = run.config_path.read_text()
    table = tomllib.loads(text)
    conv = ConvergenceSettings.model_validate(table.get("convergence", {}))
    state = run.load_state()
    validation = run.path / VALIDATION_DIR / "results.json"
    data = RunData(run.path, state, iteration_rows(run.path), config_text=text,
                   targets={"force": conv.target_force_rmse, "energy": conv.target_energy_rmse},
                   name=str(table.get("name") or run.path.name), convergence=conv,
                   validation=json.loads(validation.read_text()) if validation.is_file() else None,
                   labels=tally_labels(run.store_path, out), wall_time=sum(state.wall_times.values()))
    for it in run.iterations():
        rec = run.iteration_record(it)
        tr, se, la = rec.train, rec.select, rec.label
        devi = None
        if se and run.record_path(it).is_file():
            devi = read_record(run.record_path(it), columns=["max_devi_f"]).columns["max_devi_f"].astype(float)
        data.iterations.append(IterationData(
            iteration=it, stage=se.stage_name if se else None, max_devi_f=devi,
            f_lo=se.f_lo if se else None, f_hi=se.f_hi if se else None,
            ratios=se.ratios if se else {}, dataset=tr.n_frames if tr else None,
            learning_curve=tr.learning_curve if tr else [], calibration=(la.calibration or {}) if la else {},
            fit=se.calibration if se else None, audit=rec.audit, per_system=se.per_system if se else {}))
    return data
