"""The run configuration: one TOML file, validated completely before anything runs.

Tables (all keys optional unless noted; see ``docs/loop.md`` and ``pesgen init``):

* top level: ``name``, ``seed``, ``elements`` (required), ``masses`` (amu), ``max_iterations``;
* ``[initial]``: generated structures (``[initial.structures]``, the explore sub-package's spec),
  labeled ``files`` / a ``store`` to import, ``n_label`` (label at most this many generated
  structures first);
* ``[train]``: :class:`pesgen.training.config.TrainSettings` (ensemble size ``n_members``, default 4),
  with ``[train.model]``; ``[warm_start]``: later iterations continue from the previous ensemble;
* ``[exploration]``: MD settings shared by all stages, then either ``[[exploration.stages]]`` or
  ``[exploration.ramp]`` (the paper's rising temperature, 50-2000 K);
* ``[selection]``: trust levels, label cap (DP-GEN's soft/hard accurate thresholds), strategy;
* ``[audit]``: each iteration, label a few random explored frames per system to measure the
  ensemble's true error (default on, 2 per system);
* ``[convergence]``: when a stage is converged (optionally: audited errors below targets);
* ``[label]`` (the labeler, :func:`pesgen.label.make_labeler`), ``[label_policy]``, ``[executor]``.

:func:`load_config` raises :class:`~pesgen.errors.ConfigError` listing every problem (key path,
expected, given); relative paths are resolved against the config file's folder. ``[label]`` and
``[executor]`` are the models of their ``kind``, beside the implementations; the ``build_*``
methods make the runtime objects once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from ase import Atoms
from ase.data import atomic_numbers
from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from pesgen.errors import ConfigError
from pesgen.execute.factory import ExecutorConfig
from pesgen.execute.local import LocalSettings
from pesgen.explore.calibration import Calibration, Pairs, fit_calibration, max_to_rmse
from pesgen.explore.dynamics import CellRescalingSettings, LangevinSettings, ThermostatConfig
from pesgen.explore.errors import SelectionError
from pesgen.explore.select import AdaptiveLower, Classifier, LabelCap, TrustLevels
from pesgen.explore.structures import InitialStructureSpec
from pesgen.label.base import Labeler
from pesgen.label.factory import LabelerConfig
from pesgen.schema import ConfigPath, StrictModel, parse, read_toml
from pesgen.structures.errors import StructureSpecError
from pesgen.training.config import TrainSettings


def _symbol(value: str) -> str:
    if value not in atomic_numbers or value == "X":
        raise ValueError(f"expected a chemical symbol, got {value!r}")
    return value


def _exists(value: str) -> str:
    if not Path(value).exists():
        raise ValueError(f"no such file or folder: {value}")
    return value


Element = Annotated[str, AfterValidator(_symbol)]


class InitialData(StrictModel):
    """Where the first training set comes from."""

    structures: InitialStructureSpec | None = Field(
        None, description="initial-structure spec (crystals, scale, perturb, alloys, displacements, surfaces)")
    label_structures: bool = Field(True, description="label the generated structures before iteration 0")
    n_label: int | None = Field(None, ge=1, description="label at most this many of them (random, seeded)")
    files: list[Annotated[ConfigPath, AfterValidator(_exists)]] = Field(
        default_factory=list, description="labeled data to import (extxyz, DeePMD, store...)")
    format: str = Field("auto", description="format of 'files' (see pesgen data import)")
    store: Annotated[ConfigPath, AfterValidator(_exists)] | None = Field(
        None, description="an existing pesgen store whose frames are imported")


class WarmStart(StrictModel):
    """Training after the first iteration starts from the previous ensemble (DP-GEN's training_reuse)."""

    enabled: bool = True
    numb_steps: int | None = Field(None, ge=1, description="default: train.numb_steps // 4")
    start_lr: float | None = Field(None, gt=0, description="default: train.start_lr")
    refresh_statistics: bool = False


class StopSettings(StrictModel):
    """When a walker stops (it stops alone; the others go on)."""

    min_distance: float | None = Field(0.5, ge=0, description="Å")
    max_devi_f: float | None = Field(None, gt=0, description="eV/Å; default: 3 x selection.f_hi")
    max_temperature_ratio: float | None = Field(
        50.0, gt=1, description="a walker hotter than this x its target stops (structural changes heat cold walkers)")


class StageSettings(StrictModel):
    """One exploration stage: walkers = systems x temperatures (x pressures for NPT)."""

    name: str = ""
    systems: list[str] = Field(default_factory=lambda: ["*"],
                               description="system id patterns (fnmatch), '*' = all initial systems")
    temperatures: list[float] = Field(..., min_length=1, description="K")
    pressures: list[float] = Field(default_factory=list, description="bar (NPT)")
    ensemble: Literal["nvt", "npt", "nve"] | None = None
    n_steps: int | None = Field(None, ge=1)
    record_every: int | None = Field(None, ge=1)
    max_iterations: int | None = Field(None, ge=1)
    min_iterations: int | None = Field(None, ge=1)


class RampSettings(StrictModel):
    """The paper's protocol: one stage per temperature, rising from t_min to t_max."""

    n_stages: int = Field(..., ge=1)
    t_min: float = Field(50.0, gt=0, description="K")
    t_max: float = Field(2000.0, gt=0, description="K")
    spacing: Literal["geometric", "linear"] = "geometric"
    systems: list[str] = Field(default_factory=lambda: ["*"])
    pressures: list[float] = Field(default_factory=list, description="bar (NPT)")

    @model_validator(mode="after")
    def _check(self) -> RampSettings:
        if self.t_min > self.t_max:
            raise ValueError(f"t_min ({self.t_min} K) is above t_max ({self.t_max} K)")
        return self


class ExplorationSettings(StrictModel):
    """Batched MD driven by the ensemble mean; every recorded frame gets its model deviation."""

    ensemble: Literal["nvt", "npt", "nve"] = "nvt"
    thermostat: ThermostatConfig = Field(default_factory=LangevinSettings)
    barostat: CellRescalingSettings = Field(default_factory=CellRescalingSettings)
    timestep: float = Field(2.0, gt=0, description="fs")
    n_steps: int = Field(1000, ge=1)
    record_every: int = Field(10, ge=1)
    walkers_per_system: int | None = Field(
        None, ge=1, description="walkers per (system, T, P) from the system's structures; default all")
    stop: StopSettings = Field(default_factory=StopSettings)
    keep_all_frames: bool = Field(False, description="store the atoms of every recorded frame, not only ε >= f_lo "
                                                     "(always with adaptive or calibrated levels)")
    device: str = "cpu"
    precision: Literal["model", "float32", "float64"] = "model"
    compress: bool = Field(True, description="MD with the compressed ensemble (tabulated embedding nets, "
                                             "pesgen.model.tabulate); false: the exact nets")
    stages: list[StageSettings] = Field(default_factory=list)
    ramp: RampSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_thermostat(cls, data: Any) -> Any:
        """``thermostat = "bussi"`` names the kind alone; the flat keys of earlier configs
        (``thermostat = "langevin"`` with ``friction`` / ``tau_t`` beside it) map onto the table."""
        if isinstance(data, dict) and (isinstance(data.get("thermostat"), str) or {"friction", "tau_t"} & set(data)):
            data = dict(data)
            table = {"kind": data.pop("thermostat", "langevin")}
            table.update({new: data.pop(old) for old, new in (("friction", "friction"), ("tau_t", "tau"))
                          if old in data})
            data["thermostat"] = table
        return data

    @model_validator(mode="after")
    def _check(self) -> ExplorationSettings:
        if bool(self.stages) == (self.ramp is not None):
            raise ValueError("give either [[exploration.stages]] or [exploration.ramp] (exactly one)")
        npt = self.ensemble == "npt" or any(s.ensemble == "npt" for s in self.stages)
        if npt and self.thermostat.kind != "langevin":
            raise ValueError(f"NPT (stochastic cell rescaling) thermostats the particles with Langevin BAOAB: "
                             f"thermostat kind must be 'langevin', not {self.thermostat.kind!r}")
        return self

    def integrator(self, ensemble: str):
        """The MD integrator of a stage's ensemble ("nvt", "npt", "nve") with these settings."""
        if ensemble == "nve":
            from pesgen.explore.md.nve import NVE

            return NVE(timestep=self.timestep)
        if ensemble == "npt":
            return self.barostat.build(self.timestep, self.thermostat)
        return self.thermostat.build(self.timestep)


class CalibrationSettings(StrictModel):
    """Trust levels fitted per system from measured errors (``[selection] trust = "calibrated"``;
    :mod:`pesgen.explore.calibration`)."""

    target_max_force_error: float | None = Field(
        None, gt=0, description="eV/Å: accurate frames have a true max atomic force error below this; "
                                "default: convergence.target_force_rmse x the measured max/RMSE ratio")
    quantile: float = Field(0.9, gt=0, lt=1, description="the fitted error line is this upper quantile")
    min_pairs: int = Field(10, ge=2, description="measured frames a system needs for its own levels")
    hi_multiple: float = Field(4.0, gt=1, description="f_hi: where the predicted error is this x the target")
    model: Literal["proportional", "power"] = Field(
        "power", description="err = k ε^b with b fitted (measured better with audit frames), or k ε")

    def target(self, pairs: Pairs, target_force_rmse: float | None = None) -> tuple[float, str]:
        """The target max force error (eV/Å) and where it comes from: ``target_max_force_error``, or
        ``target_force_rmse`` (eV/Å) x the median ratio of max atomic force error to force RMSE
        measured on ``pairs`` (audit frames first, :func:`~pesgen.explore.calibration.max_to_rmse`);
        √3 before any is measured (the smallest the ratio can be: max |ΔF_i| ≥ the rms |ΔF_i|)."""
        if self.target_max_force_error is not None:
            return self.target_max_force_error, "selection.calibration.target_max_force_error"
        if target_force_rmse is None:
            raise SelectionError("selection.calibration.target_max_force_error is needed with trust = 'calibrated' "
                                 "(or convergence.target_force_rmse)")
        ratio = max_to_rmse(pairs, min_pairs=self.min_pairs)
        ratio, how = (3 ** 0.5, "√3, none measured") if ratio is None else (ratio, "measured median")
        return target_force_rmse * ratio, f"convergence.target_force_rmse x {ratio:.2f} (max/RMSE, {how})"

    def fit(self, pairs: Pairs, target_force_rmse: float | None = None) -> Calibration:
        """The calibration of ``pairs`` with these settings (target: :meth:`target`)."""
        target, source = self.target(pairs, target_force_rmse)
        return fit_calibration(pairs, target, self.quantile, self.min_pairs, self.hi_multiple, self.model,
                               target_source=source)


class SelectionSettings(StrictModel):
    """Trust levels, label cap and strategy."""

    f_lo: float = Field(0.05, ge=0, description="lower trust level, eV/Å")
    f_hi: float = Field(0.15, gt=0, description="upper trust level, eV/Å")
    v_lo: float | None = Field(None, ge=0, description="eV/atom")
    v_hi: float | None = Field(None, gt=0, description="eV/atom")
    e_lo: float | None = Field(None, ge=0, description="energy deviation, eV/atom")
    e_hi: float | None = Field(None, gt=0, description="energy deviation, eV/atom")
    adaptive_lower: bool = Field(False, description="DP-GEN's model_devi_adapt_trust_lo")
    trust: Literal["fixed", "calibrated"] = Field(
        "fixed", description="fixed f_lo/f_hi, or levels fitted per system from measured errors "
                             "(the fixed ones until there are enough)")
    calibration: CalibrationSettings = Field(default_factory=CalibrationSettings, validate_default=True)
    numb_candi_f: int = Field(10, ge=0)
    perc_candi_f: float = Field(0.0, ge=0, le=100)
    max_per_system: int = Field(20, ge=0, description="K, DP-GEN's fp_task_max")
    min_per_system: int = Field(0, ge=0, description="DP-GEN's fp_task_min")
    accurate_threshold: float = Field(1.0, ge=0, le=1, description="hard: no labels at or above it")
    accurate_soft_threshold: float | None = Field(None, ge=0, le=1, description="fp_accurate_soft_threshold")
    strategy: Literal["diverse", "random", "highest"] = "random"  # measured best: bench/bench_selection.py
    skip_steps: int = Field(0, ge=0)
    min_distance: float | None = Field(None, gt=0, description="reject candidates with a pair closer, Å")

    @model_validator(mode="after")
    def _check(self) -> SelectionSettings:
        self.fixed_levels(), self.label_cap()  # their checks: ValueErrors
        if self.adaptive_lower and self.e_hi is not None:
            raise ValueError("adaptive_lower has no energy-deviation levels; drop e_lo/e_hi or adaptive_lower")
        return self

    @field_validator("trust")
    @classmethod
    def _not_adaptive(cls, value: str, info: ValidationInfo) -> str:
        if value == "calibrated" and info.data.get("adaptive_lower"):
            raise ValueError("trust = 'calibrated' and adaptive_lower = true exclude each other")
        return value

    @property
    def calibrated(self) -> bool:
        return self.trust == "calibrated"

    def fixed_levels(self) -> TrustLevels:
        """The fixed window (f_lo, f_hi eV/Å; v_lo, v_hi, e_lo, e_hi eV/atom)."""
        return TrustLevels(self.f_lo, self.f_hi, self.v_lo, self.v_hi, self.e_lo, self.e_hi)

    def classifier(self, calibration: Calibration | None = None) -> Classifier:
        """The trust levels: DP-GEN's adaptive lower level, the calibrated per-system windows (the
        fixed window where ``calibration`` has no fit, or without one), or the fixed window."""
        if self.adaptive_lower:
            return AdaptiveLower(self.f_hi, self.numb_candi_f, self.perc_candi_f, self.v_hi)
        if self.calibrated and calibration is not None:
            return calibration.classifier(self.fixed_levels())
        return self.fixed_levels()

    def label_cap(self) -> LabelCap:
        """The per-system label cap."""
        return LabelCap(self.max_per_system, self.accurate_threshold, self.accurate_soft_threshold, self.min_per_system)


class AuditSettings(StrictModel):
    """Audit labels: each iteration, a random sample of each system's explored frames, drawn
    whatever their deviation, labeled to measure the ensemble's true error (docs/loop.md)."""

    enabled: bool = True
    per_system: int = Field(2, ge=1, description="frames per system and iteration")
    fraction: float | None = Field(None, gt=0, le=1, description="instead: this share of each system's frames")

    @model_validator(mode="after")
    def _one_size(self) -> AuditSettings:
        if self.fraction is not None and "per_system" in self.model_fields_set:
            raise ValueError("give per_system or fraction, not both")
        return self


class ConvergenceSettings(StrictModel):
    """A stage is converged when its accurate ratio stays >= ``accurate_ratio`` for
    ``n_consecutive`` iterations, or its candidate count falls below ``min_candidates``; with
    targets, only when the audited errors are below them too (docs/loop.md gives the rule)."""

    accurate_ratio: float = Field(0.99, gt=0, le=1)
    n_consecutive: int = Field(1, ge=1)
    min_candidates: int = Field(0, ge=0, description="0 disables the rule")
    conv_tolerance: float | None = Field(None, gt=0, description="eV/Å; adaptive lower: converged when f_lo moves less")
    min_iterations_per_stage: int = Field(1, ge=1)
    max_iterations_per_stage: int = Field(10, ge=1)
    target_force_rmse: float | None = Field(None, gt=0, description="eV/Å; audited force RMSE must be below it")
    target_energy_rmse: float | None = Field(None, gt=0, description="meV/atom; audited energy RMSE must be below it")
    target_confidence: float = Field(0.9, gt=0, lt=1, description="of the upper bound of the pooled audited RMSE")

    @model_validator(mode="after")
    def _check(self) -> ConvergenceSettings:
        if self.min_iterations_per_stage > self.max_iterations_per_stage:
            raise ValueError("min_iterations_per_stage is above max_iterations_per_stage")
        return self


class LabelPolicySettings(StrictModel):
    """How each label runs (see :class:`pesgen.label.LabelPolicy`) and the failed-ratio stop."""

    timeout: float | None = Field(None, gt=0, description="s")
    isolate: bool = False
    retries: int = Field(0, ge=0)
    retry_on: list[str] = Field(default_factory=lambda: ["crash", "timeout"])
    max_force: float | None = Field(100.0, gt=0, description="eV/Å")
    keep_workdirs: bool = Field(False, description="keep one directory per label task in the run directory")
    max_failed_ratio: float = Field(0.2, ge=0, le=1)


class RunConfig(StrictModel):
    """A whole run (see the module docstring)."""

    name: str = ""
    seed: int = 0
    elements: list[Element] = Field(..., min_length=1)
    masses: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict, description="amu; default ASE's")
    max_iterations: int = Field(20, ge=1, description="the run ends after this many iterations")
    threads: int | None = Field(None, ge=1, description="torch intra-op threads for training and MD; default torch's")
    initial: InitialData = Field(default_factory=InitialData)
    train: TrainSettings = Field(default_factory=TrainSettings)
    warm_start: WarmStart = Field(default_factory=WarmStart)
    exploration: ExplorationSettings
    audit: AuditSettings = Field(default_factory=AuditSettings)
    convergence: ConvergenceSettings = Field(default_factory=ConvergenceSettings)
    selection: SelectionSettings = Field(default_factory=SelectionSettings)  # after convergence: its validator reads it
    label: LabelerConfig = Field(..., description="labeler table, e.g. {kind = 'emt'}")
    label_policy: LabelPolicySettings = Field(default_factory=LabelPolicySettings)
    executor: ExecutorConfig = Field(default_factory=lambda: LocalSettings(max_workers=2))

    @field_validator("convergence")
    @classmethod
    def _targets_need_audit(cls, c: ConvergenceSettings, info: ValidationInfo) -> ConvergenceSettings:
        audit = info.data.get("audit")
        if (c.target_force_rmse is not None or c.target_energy_rmse is not None) and audit and not audit.enabled:
            raise ValueError("target_force_rmse / target_energy_rmse need audit.enabled = true")
        return c

    @field_validator("selection")
    @classmethod
    def _calibration_target(cls, s: SelectionSettings, info: ValidationInfo) -> SelectionSettings:
        conv = info.data.get("convergence")
        if s.calibrated and s.calibration.target_max_force_error is None and conv is not None \
                and conv.target_force_rmse is None:
            raise ValueError("trust = 'calibrated' needs calibration.target_max_force_error (eV/Å), "
                             "or convergence.target_force_rmse to derive it from")
        return s

    @field_validator("elements")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"repeated element in {value}")
        return value

    @field_validator("masses")
    @classmethod
    def _listed(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        if extra := [el for el in value if el not in info.data.get("elements", [])]:
            raise ValueError(f"{extra} are not in elements {info.data.get('elements')}")
        return value

    @field_validator("initial")
    @classmethod
    def _some_data(cls, init: InitialData) -> InitialData:
        if init.structures is None and not init.files and init.store is None:
            raise ValueError("no initial data: give [initial.structures], initial.files or initial.store")
        return init

    def build_labeler(self, path: str | Path) -> Labeler:
        """The labeler, built once per run; a setup that cannot work is a :class:`ConfigError`
        at ``label`` (unknown potential file, elements it does not cover...)."""
        with _problem_at(path, "label"):
            labeler = self.label.build()
            labeler.check_elements(self.elements)
        return labeler

    def build_structures(self, path: str | Path) -> list[Atoms]:
        """The generated initial structures (``[initial.structures]``, given), each with info["system"]."""
        with _problem_at(path, "initial.structures"):
            structures = self.initial.structures.build()  # type: ignore[union-attr]
            if extra := sorted({s for a in structures for s in a.get_chemical_symbols()} - set(self.elements)):
                raise StructureSpecError(f"structures contain {extra}, which are not in elements {self.elements}")
        return structures


@contextmanager
def _problem_at(path: str | Path, key: str) -> Iterator[None]:
    """Errors raised while building the objects a config section describes, as a ConfigError at ``key``."""
    try:
        yield
    except (TypeError, ValueError) as exc:
        msg = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
        raise ConfigError(path, [(key, msg)]) from None


def parse_config(data: dict[str, Any], path: str | Path = "<config>", base: Path | None = None) -> RunConfig:
    """Validate a parsed TOML table; relative paths are resolved against ``base`` (default: the
    config file's folder). Nothing is built or run.

    Raises:
        ConfigError: listing every problem (key path, expected, given).
    """
    base = Path(base) if base is not None else Path(path).resolve().parent
    return parse(RunConfig, data, str(path), context={"base": base})


def load_config(path: str | Path, base: Path | None = None) -> RunConfig:
    """Read and validate a run config file (see :func:`parse_config`)."""
    path = Path(path)
    _, data = read_toml(path)
    return parse_config(data, path, base if base is not None else path.resolve().parent)


def config_digest(text: str) -> str:
    """A short SHA-256 of a config's text (a resumed run must use the same config)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
