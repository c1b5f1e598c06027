"""What the report shows, read from a run directory (nothing else is needed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pesgen.explore.calibration import Calibration
from pesgen.loop.rundir import RunDir
from pesgen.loop.status import iteration_rows
from pesgen.loop.summaries import AuditSummary, RunState


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


@dataclass
class RunData:
    """Everything the report needs."""

    run_dir: Path
    state: RunState
    rows: list[dict[str, Any]]
    iterations: list[IterationData] = field(default_factory=list)
    config_text: str = ""
    targets: dict[str, float | None] = field(default_factory=dict)


def collect(run_dir: str | Path) -> RunData:
    """Read the state, per-iteration summaries, deviation records, calibrations and audits of a
    run, and the audit targets of its config (force eV/Å, energy meV/atom; None when unset)."""
    from pesgen.explore.records import read_record

    run = RunDir(run_dir)
    run.check()
    import tomllib

    text = run.config_path.read_text()
    conv = tomllib.loads(text).get("convergence", {})
    data = RunData(run.path, run.load_state(), iteration_rows(run.path), config_text=text,
                   targets={"force": conv.get("target_force_rmse"), "energy": conv.get("target_energy_rmse")})
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
            fit=se.calibration if se else None, audit=rec.audit))
    return data
