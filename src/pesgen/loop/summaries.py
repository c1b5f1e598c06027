"""Typed summaries of the loop's steps and the run's state, as the run directory holds them.

One dataclass per file: :class:`InitialSummary` (``initial.json``), per iteration
:class:`TrainSummary`, :class:`ExploreSummary`, :class:`AuditSummary`, :class:`SelectSummary`,
:class:`LabelSummary` (``train.json``, ``explore.json``, ``audit.json``, ``selection.json``,
``label.json``) and :class:`RunState` (``state.json``). ``to_json`` gives the file's content
(the keys, in the order, that every version wrote, so older run directories read the same);
``from_json`` reads it back. Numbers derived from a summary are computed here and nowhere else.
:class:`pesgen.loop.rundir.RunDir` reads and writes them. Units: eV/atom (energy RMSE; meV/atom
in ``audit.json``), eV/Å (forces, trust levels), K, bar, s.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

from pesgen.explore.audit import SystemErrors
from pesgen.explore.calibration import Calibration
from pesgen.explore.select import Counts

if TYPE_CHECKING:  # pesgen.label imports every labeler; `pesgen status` needs none of them
    from pesgen.label.campaign import CampaignReport

CLASSES = ("accurate", "candidate", "failed")
STATE_VERSION = 1
_REPORT_KEYS = ("n_tasks", "n_labeled", "n_failed", "n_skipped", "n_failed_before", "n_failed_total",
                "failure_kinds", "wall_time", "n_retried")


class Summary:
    """A step's summary: its fields are the keys of its file, in order (``STEP`` names the file)."""

    STEP: ClassVar[str]
    iteration: int | None

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]):
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.init and f.name in data})


def _report_json(report: CampaignReport) -> dict[str, Any]:
    out = {k: getattr(report, k) for k in _REPORT_KEYS} | {"failure_kinds": dict(report.failure_kinds)}
    if not report.n_retried:  # written only when failures were retried: older files read back the same
        del out["n_retried"]
    return out


def _report_from_json(data: dict[str, Any]) -> CampaignReport:
    from pesgen.label.campaign import CampaignReport

    values = {k: data[k] for k in _REPORT_KEYS if k != "n_failed_total" and (k in data or k != "n_retried")}
    return CampaignReport(**values | {"failure_kinds": Counter(data["failure_kinds"])})


@dataclass
class InitialSummary(Summary):
    """The initial data: frames imported (and skipped as already stored, when files were given),
    the campaign that labeled the generated structures (None if none ran), the store's size after."""

    STEP: ClassVar[str] = "initial"
    iteration: ClassVar[None] = None
    imported: int = 0
    labeled: CampaignReport | None = None
    imported_skipped: int | None = None
    n_frames: int = 0
    wall_time: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out = super().to_json() | {"labeled": self.labeled and _report_json(self.labeled)}
        return {k: v for k, v in out.items() if k != "imported_skipped" or v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InitialSummary:
        return super().from_json(data | {"labeled": data["labeled"] and _report_from_json(data["labeled"])})


@dataclass
class ContinuedSummary(Summary):
    """A run started from another (``pesgen run NEW.toml --from RUN``, ``continued.json``): the
    source run, its ensemble that iteration 0 warm-starts from (copied to ``base_model.pt``) and
    the labels imported from its store (origin "imported", the rest of their provenance kept)."""

    STEP: ClassVar[str] = "continued"
    iteration: ClassVar[None] = None
    source_run: str = ""
    source_model: str = ""
    source_iteration: int = 0
    source_elements: list[str] = field(default_factory=list)
    added_elements: list[str] = field(default_factory=list)
    imported: int = 0
    imported_skipped: int = 0
    wall_time: float = 0.0


@dataclass
class TrainSummary(Summary):
    """TRAIN of one iteration: frames trained on, settings that change between iterations, and
    the ensemble-mean RMSE at the last learning-curve point that has it (energy eV/atom, force
    eV/Å; None without validation frames); the learning curve holds ensemble means per point;
    ``n_valid``: the frames held out for the validation RMSEs (None in files written before it
    existed)."""

    STEP: ClassVar[str] = "train"
    iteration: int
    n_frames: int
    numb_steps: int
    warm_start: bool
    seed: int
    rmse_e_trn: float | None
    rmse_f_trn: float | None
    rmse_e_val: float | None
    rmse_f_val: float | None
    learning_curve: list[dict[str, Any]]
    wall_time: float
    n_valid: int | None = None

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        return {k: v for k, v in out.items() if k != "n_valid" or v is not None}   # old files write back the same


@dataclass
class ExploreSummary(Summary):
    """EXPLORE of one iteration: the stage, its distinct target temperatures (K) and pressures
    (bar, empty without NPT), walkers and MD steps, recorded and kept frames, early stops by reason."""

    STEP: ClassVar[str] = "explore"
    iteration: int
    stage: int
    stage_name: str | None
    ensemble: str
    temperatures: list[float]
    pressures: list[float]
    n_walkers: int
    n_steps: int
    n_frames: int
    n_kept: int
    stops: dict[str, int]
    wall_time: float

    @property
    def walkers_stopped(self) -> int:
        """Walkers that stopped before the last MD step."""
        return sum(self.stops.values())


@dataclass
class AuditSummary(Summary):
    """AUDIT of one iteration: a random sample of each system's explored frames, drawn whatever
    their deviation (:func:`pesgen.explore.audit.draw_audit`), labeled (origin "audit"), and the
    iteration's ensemble's error on them before they join the training set. All energies here
    are in meV/atom, forces in eV/Å.

    Attributes:
        rows: the record rows audited (all systems), ascending.
        report: the labeling campaign (failed labels are excluded from the errors).
        per_system: system -> ``n`` (labeled audit frames), ``n_drawn``, ``rmse_f`` (eV/Å),
            ``rmse_e`` (meV/atom), ``max_force_error`` (eV/Å); RMSEs None without a labeled frame.
        stage_errors: the same pooled over the stage's systems, with ``upper_rmse_f`` /
            ``upper_rmse_e``, the upper ``confidence`` bounds (:func:`pesgen.explore.audit.upper_rmse`).
        frames: per labeled audit frame: ``system``, ``row``, ``deviation`` (ε at exploration,
            eV/Å), ``max_force_error`` and ``rmse_f`` (eV/Å), ``energy_error`` (model − label,
            meV/atom); the pairs (ε, true error) from which trust levels can be calibrated.
    """

    STEP: ClassVar[str] = "audit"
    iteration: int
    stage: int
    stage_name: str | None
    rows: list[int]
    report: CampaignReport
    per_system: dict[str, dict[str, Any]]
    stage_errors: dict[str, Any]
    frames: list[dict[str, Any]]
    wall_time: float

    def errors(self) -> dict[str, SystemErrors]:
        """System -> its audited errors (energies in eV/atom), every system of ``per_system``."""
        out = {}
        for name in self.per_system:
            mine = [f for f in self.frames if f["system"] == name]
            out[name] = SystemErrors.of_frames([f["rmse_f"] for f in mine],
                                               [f["energy_error"] / 1000 for f in mine],
                                               [f["max_force_error"] for f in mine])
        return out

    def worst(self, key: str) -> tuple[str | None, float | None]:
        """(system, value) of the largest per-system ``key`` ("rmse_f", "rmse_e", ...); (None, None) if none."""
        values = {k: v[key] for k, v in self.per_system.items() if v.get(key) is not None}
        if not values:
            return None, None
        name = max(values, key=values.__getitem__)
        return name, values[name]

    def to_json(self) -> dict[str, Any]:
        return super().to_json() | {"report": _report_json(self.report)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditSummary:
        return super().from_json(data | {"report": _report_from_json(data["report"])})


@dataclass
class SelectSummary(Summary):
    """SELECT of one iteration: frames per class, the record rows picked for labeling, per-system
    and per-condition details, the trust levels (eV/Å), notes and the schedule's events; with
    calibrated levels, the fitted relation (:class:`~pesgen.explore.calibration.Calibration`; its
    pooled levels are ``trust["f_lo_calibrated"]`` and ``["f_hi_calibrated"]``, each system's
    ``f_lo``, ``f_hi`` and ``levels_from`` ("system", "pooled" or "none": the fixed levels) are in
    ``per_system``); and the stage's convergence verdict (``convergence``,
    :meth:`pesgen.explore.stages.Verdict.to_json`: which rule decided, with the numbers; absent in
    files written before it existed)."""

    STEP: ClassVar[str] = "select"
    iteration: int
    stage: int
    stage_name: str | None
    strategy: str
    counts: Counts
    ratios: dict[str, float | None] = field(init=False)
    selected_rows: list[int]
    per_system: dict[str, dict[str, Any]]
    per_condition: list[dict[str, Any]]
    trust: dict[str, Any]
    messages: list[str]
    schedule_events: list[str]
    wall_time: float
    calibration: Calibration | None = None
    convergence: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        c = self.counts
        self.ratios = {k: (getattr(c, k) / c.total if c.total else None) for k in CLASSES}

    @property
    def f_lo(self) -> float | None:
        """The lower trust level in effect (the adapted one, when adapted; the pooled calibrated one)."""
        t = self.trust
        return t.get("f_lo_adapted") or t.get("f_lo_calibrated") or t.get("f_lo")

    @property
    def f_hi(self) -> float | None:
        """The upper trust level in effect (the pooled calibrated one, when calibrated)."""
        return self.trust.get("f_hi_calibrated") or self.trust.get("f_hi")

    def to_json(self) -> dict[str, Any]:
        counts = {k: getattr(self.counts, k) for k in CLASSES} | {"total": self.counts.total}
        out = super().to_json() | {"counts": counts}
        if self.calibration is None:    # fixed levels: the file as before
            del out["calibration"]
        else:
            out["calibration"] = self.calibration.to_json()
        if self.convergence is None:    # a file written before the verdict was recorded
            del out["convergence"]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SelectSummary:
        calib = data.get("calibration")
        return super().from_json(data | {"counts": Counts(*(data["counts"][k] for k in CLASSES)),
                                         "calibration": None if calib is None else Calibration.from_json(calib)})


@dataclass
class LabelSummary(Summary):
    """LABEL of one iteration: the campaign's report, the store's labeled and failed frames after
    it, and the indicator's calibration (see :func:`pesgen.loop.labeling_step.calibration`)."""

    STEP: ClassVar[str] = "label"
    iteration: int
    report: CampaignReport
    n_store: int
    n_store_failed: int
    calibration: dict[str, list[float]]
    wall_time: float

    def to_json(self) -> dict[str, Any]:
        return super().to_json() | {"report": _report_json(self.report)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabelSummary:
        return super().from_json(data | {"report": _report_from_json(data["report"])})


@dataclass
class IterationRecord:
    """The summaries one iteration's steps have written so far (None: not written yet)."""

    iteration: int
    train: TrainSummary | None
    explore: ExploreSummary | None
    select: SelectSummary | None
    label: LabelSummary | None
    audit: AuditSummary | None = None

    @property
    def stage_name(self) -> str | None:
        return (self.select and self.select.stage_name) or (self.explore and self.explore.stage_name)


@dataclass
class RunState:
    """``state.json``: the steps done ("initial", then "IT/train", "IT/explore", ...) in order, their
    wall times (s), the stage schedule's state, and once finished, why and whether it converged."""

    done: list[str] = field(default_factory=list)
    schedule: dict[str, Any] | None = None
    finished: bool = False
    reason: str | None = None
    wall_times: dict[str, float] = field(default_factory=dict)
    converged: bool | None = None

    def to_json(self) -> dict[str, Any]:
        # "iterations" and "events" are kept (empty) so the file reads as it always did
        out = {"version": STATE_VERSION, "done": self.done, "schedule": self.schedule, "iterations": {},
               "finished": self.finished, "reason": self.reason, "events": [], "wall_times": self.wall_times}
        return out if self.converged is None else out | {"converged": self.converged}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunState:
        return cls(list(data["done"]), data.get("schedule"), bool(data.get("finished")), data.get("reason"),
                   dict(data.get("wall_times", {})), data.get("converged"))

    def is_done(self, key: str) -> bool:
        return key in self.done

    def mark_done(self, key: str, wall_time: float | None = None) -> None:
        if key not in self.done:
            self.done.append(key)
        if wall_time is not None:
            self.wall_times[key] = round(float(wall_time), 3)

    def iterations(self, step: str | None = None) -> list[int]:
        """Iterations with a step done (or with ``step`` done), ascending."""
        keys = [k.split("/") for k in self.done if "/" in k]
        return sorted({int(it) for it, s in keys if step is None or s == step})

    def wall_time(self, iteration: int, step: str | None = None) -> float | None:
        """Seconds of one step of ``iteration`` (None if not done), or of all its steps done."""
        if step is not None:
            return self.wall_times.get(f"{iteration}/{step}")
        return sum(v for k, v in self.wall_times.items() if k.startswith(f"{iteration}/"))
