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
* ``[convergence]``: when a stage is converged;
* ``[label]`` (the labeler, :func:`pesgen.label.make_labeler`), ``[label_policy]``, ``[executor]``.

:func:`load_config` raises :class:`~pesgen.loop.errors.ConfigError` listing every problem with
its key path, what was expected and what was given; relative paths are resolved against the
config file's folder.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any, Literal

from ase.data import atomic_numbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pesgen.explore.select import AdaptiveLower, Classifier, LabelCap, TrustLevels
from pesgen.loop.errors import ConfigError
from pesgen.training.config import TrainSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InitialData(_Strict):
    """Where the first training set comes from."""

    structures: dict[str, Any] | None = Field(
        None, description="initial-structure spec (crystals, scale, perturb, alloys, displacements, surfaces)")
    label_structures: bool = Field(True, description="label the generated structures before iteration 0")
    n_label: int | None = Field(None, ge=1, description="label at most this many of them (random, seeded)")
    files: list[str] = Field(default_factory=list, description="labeled data to import (extxyz, DeePMD, store...)")
    format: str = Field("auto", description="format of 'files' (see pesgen data import)")
    store: str | None = Field(None, description="an existing pesgen store whose frames are imported")


class WarmStart(_Strict):
    """Training after the first iteration starts from the previous ensemble (DP-GEN's training_reuse)."""

    enabled: bool = True
    numb_steps: int | None = Field(None, ge=1, description="default: train.numb_steps // 4")
    start_lr: float | None = Field(None, gt=0, description="default: train.start_lr")
    refresh_statistics: bool = False


class Barostat(_Strict):
    """Stochastic cell rescaling (NPT)."""

    tau_p: float = Field(1000.0, gt=0, description="fs")
    compressibility: float = Field(1e-6, gt=0, description="1/bar")
    flexible: bool = False


class StopSettings(_Strict):
    """When a walker stops (it stops alone; the others go on)."""

    min_distance: float | None = Field(0.5, ge=0, description="Å")
    max_devi_f: float | None = Field(None, gt=0, description="eV/Å; default: 3 x selection.f_hi")
    max_temperature_ratio: float | None = Field(
        50.0, gt=1, description="a walker hotter than this x its target stops (structural changes heat cold walkers)")


class StageSettings(_Strict):
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


class RampSettings(_Strict):
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


class ExplorationSettings(_Strict):
    """Batched MD driven by the ensemble mean; every recorded frame gets its model deviation."""

    ensemble: Literal["nvt", "npt", "nve"] = "nvt"
    thermostat: Literal["langevin", "bussi"] = "langevin"
    friction: float = Field(0.01, ge=0, description="Langevin friction, 1/fs")
    tau_t: float = Field(100.0, gt=0, description="Bussi thermostat time, fs")
    barostat: Barostat = Field(default_factory=Barostat)
    timestep: float = Field(2.0, gt=0, description="fs")
    n_steps: int = Field(1000, ge=1)
    record_every: int = Field(10, ge=1)
    walkers_per_system: int | None = Field(
        None, ge=1, description="walkers per (system, T, P) from the system's structures; default all")
    stop: StopSettings = Field(default_factory=StopSettings)
    keep_all_frames: bool = Field(False, description="store the atoms of every recorded frame, not only ε >= f_lo")
    device: str = "cpu"
    precision: Literal["model", "float32", "float64"] = "model"
    stages: list[StageSettings] = Field(default_factory=list)
    ramp: RampSettings | None = None

    @model_validator(mode="after")
    def _check(self) -> ExplorationSettings:
        if bool(self.stages) == (self.ramp is not None):
            raise ValueError("give either [[exploration.stages]] or [exploration.ramp] (exactly one)")
        return self


class SelectionSettings(_Strict):
    """Trust levels, label cap and strategy."""

    f_lo: float = Field(0.05, ge=0, description="lower trust level, eV/Å")
    f_hi: float = Field(0.15, gt=0, description="upper trust level, eV/Å")
    v_lo: float | None = Field(None, ge=0, description="eV/atom")
    v_hi: float | None = Field(None, gt=0, description="eV/atom")
    adaptive_lower: bool = Field(False, description="DP-GEN's model_devi_adapt_trust_lo")
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
        TrustLevels(self.f_lo, self.f_hi, self.v_lo, self.v_hi), self.label_cap()  # their checks: ValueErrors
        return self

    def classifier(self) -> Classifier:
        """The trust levels: DP-GEN's adaptive lower level, or the fixed window."""
        if self.adaptive_lower:
            return AdaptiveLower(self.f_hi, self.numb_candi_f, self.perc_candi_f, self.v_hi)
        return TrustLevels(self.f_lo, self.f_hi, self.v_lo, self.v_hi)

    def label_cap(self) -> LabelCap:
        """The per-system label cap."""
        return LabelCap(self.max_per_system, self.accurate_threshold, self.accurate_soft_threshold, self.min_per_system)


class ConvergenceSettings(_Strict):
    """A stage is converged when its accurate ratio stays >= ``accurate_ratio`` for
    ``n_consecutive`` iterations, or its candidate count falls below ``min_candidates``."""

    accurate_ratio: float = Field(0.99, gt=0, le=1)
    n_consecutive: int = Field(1, ge=1)
    min_candidates: int = Field(0, ge=0, description="0 disables the rule")
    conv_tolerance: float | None = Field(None, gt=0, description="eV/Å; adaptive lower: converged when f_lo moves less")
    min_iterations_per_stage: int = Field(1, ge=1)
    max_iterations_per_stage: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _check(self) -> ConvergenceSettings:
        if self.min_iterations_per_stage > self.max_iterations_per_stage:
            raise ValueError("min_iterations_per_stage is above max_iterations_per_stage")
        return self


class LabelPolicySettings(_Strict):
    """How each label runs (see :class:`pesgen.label.LabelPolicy`) and the failed-ratio stop."""

    timeout: float | None = Field(None, gt=0, description="s")
    isolate: bool = False
    retries: int = Field(0, ge=0)
    retry_on: list[str] = Field(default_factory=lambda: ["crash", "timeout"])
    max_force: float | None = Field(100.0, gt=0, description="eV/Å")
    keep_workdirs: bool = Field(False, description="keep one directory per label task in the run directory")
    max_failed_ratio: float = Field(0.2, ge=0, le=1)


class RunConfig(_Strict):
    """A whole run (see the module docstring)."""

    name: str = ""
    seed: int = 0
    elements: list[str] = Field(..., min_length=1)
    masses: dict[str, float] = Field(default_factory=dict, description="amu; default ASE's")
    max_iterations: int = Field(20, ge=1, description="the run ends after this many iterations")
    threads: int | None = Field(None, ge=1, description="torch intra-op threads for training and MD; default torch's")
    initial: InitialData = Field(default_factory=InitialData)
    train: TrainSettings = Field(default_factory=TrainSettings)
    warm_start: WarmStart = Field(default_factory=WarmStart)
    exploration: ExplorationSettings
    selection: SelectionSettings = Field(default_factory=SelectionSettings)
    convergence: ConvergenceSettings = Field(default_factory=ConvergenceSettings)
    label: dict[str, Any] = Field(..., description="labeler table, e.g. {kind = 'emt'}")
    label_policy: LabelPolicySettings = Field(default_factory=LabelPolicySettings)
    executor: dict[str, Any] = Field(default_factory=lambda: {"kind": "local", "max_workers": 2})


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of ``loc`` (for listing allowed keys)."""
    model: Any = RunConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        elif args:
            model = args[0]
        else:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _given(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def pydantic_problems(err: ValidationError) -> list[tuple[str, str]]:
    """(key path, 'expected ..., got ...') for every error pydantic found."""
    problems = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        key = _loc(loc)
        kind = e["type"]
        if kind == "extra_forbidden":
            owner = _model_at(loc)
            allowed = f"; allowed keys: {', '.join(owner.model_fields)}" if owner else ""
            problems.append((key, f"unknown key (given {_given(e['input'])}){allowed}"))
        elif kind == "missing":
            problems.append((key, "required key is missing"))
        elif kind == "value_error":
            problems.append((key, str(e["msg"]).removeprefix("Value error, ")))
        else:
            msg = str(e["msg"])
            expected = msg[0].lower() + msg[1:] if msg else kind
            expected = expected.removeprefix("input should be ")
            problems.append((key, f"expected {expected}, got {_given(e['input'])}"))
    return problems


def _resolve(base: Path, value: str) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _semantic_problems(cfg: RunConfig, base: Path) -> list[tuple[str, str]]:
    """Checks that need other sub-packages: elements, structures, labeler, executor, stages."""
    from pesgen.label.errors import LabelerConfigError
    from pesgen.structures.errors import StructureSpecError

    problems: list[tuple[str, str]] = []
    for k, el in enumerate(cfg.elements):
        if el not in atomic_numbers or el == "X":
            problems.append((f"elements[{k}]", f"expected a chemical symbol, got {el!r}"))
    if len(set(cfg.elements)) != len(cfg.elements):
        problems.append(("elements", f"repeated element in {cfg.elements}"))
    for el, m in cfg.masses.items():
        if el not in cfg.elements:
            problems.append((f"masses.{el}", f"{el!r} is not in elements {cfg.elements}"))
        if not m > 0:
            problems.append((f"masses.{el}", f"expected a mass > 0 amu, got {m!r}"))
    init = cfg.initial
    if init.structures is None and not init.files and init.store is None:
        problems.append(("initial", "no initial data: give [initial.structures], initial.files or initial.store"))
    if init.structures is not None:
        from pesgen.explore.structures import InitialStructureSpec, generate_initial_structures

        try:
            spec = InitialStructureSpec.from_dict(init.structures, where="initial.structures")
            structures = generate_initial_structures(spec)
        except StructureSpecError as exc:
            text = str(exc)
            key, _, msg = text.partition(": ")
            problems.append((key if key.startswith("initial.structures") else "initial.structures",
                             msg if key.startswith("initial.structures") else text))
        else:
            found = sorted({s for a in structures for s in a.get_chemical_symbols()})
            extra = [s for s in found if s not in cfg.elements]
            if extra:
                problems.append(("initial.structures",
                                 f"structures contain {extra}, which are not in elements {cfg.elements}"))
    for k, f in enumerate(init.files):
        if not Path(f).exists():
            problems.append((f"initial.files[{k}]", f"no such file or folder: {f}"))
    if init.store is not None and not Path(init.store).is_file():
        problems.append(("initial.store", f"no such store: {init.store}"))
    # the labeler: building it checks kinds, keys and potential files
    try:
        from pesgen.label import make_labeler

        labeler = make_labeler(dict(cfg.label))
    except LabelerConfigError as exc:
        problems.append(("label", str(exc)))
    except (TypeError, ValueError) as exc:
        problems.append(("label", f"{type(exc).__name__}: {exc}"))
    else:
        supported = getattr(labeler, "elements", None)
        if supported is not None:
            missing = [e for e in cfg.elements if e not in supported]
            if missing:
                problems.append(("label.elements", f"the labeler has no types for {missing} (elements {supported})"))
        if cfg.label.get("kind") == "emt":
            from ase.calculators.emt import parameters

            missing = [e for e in cfg.elements if e not in parameters]
            if missing:
                problems.append(("label", f"EMT has no parameters for {missing}; it knows {sorted(parameters)}"))
    ex = dict(cfg.executor)
    kind = ex.get("kind", "local")
    from pesgen.execute import factory

    if kind not in factory._KEYS:
        problems.append(("executor.kind", f"expected one of {sorted(factory._KEYS)}, got {kind!r}"))
    else:
        unknown = sorted(set(ex) - {"kind"} - factory._KEYS[kind])
        if unknown:
            problems.append(("executor", f"unknown key(s) {unknown} for kind {kind!r}; "
                                         f"allowed: {sorted(factory._KEYS[kind])}"))
    try:
        from pesgen.label import LabelPolicy

        pol = cfg.label_policy
        LabelPolicy(timeout=pol.timeout, isolate=pol.isolate, retries=pol.retries,
                    retry_on=tuple(pol.retry_on), max_force=pol.max_force)
    except LabelerConfigError as exc:
        problems.append(("label_policy", str(exc)))
    ex_cfg = cfg.exploration
    for k, st in enumerate(ex_cfg.stages):
        ens = st.ensemble or ex_cfg.ensemble
        if ens == "npt" and not st.pressures:
            problems.append((f"exploration.stages[{k}].pressures", "ensemble 'npt' needs pressures (bar)"))
        n_steps = st.n_steps or ex_cfg.n_steps
        every = st.record_every or ex_cfg.record_every
        if every > n_steps:
            problems.append((f"exploration.stages[{k}].record_every",
                             f"record_every={every} > n_steps={n_steps} records nothing"))
    if ex_cfg.ramp is not None and ex_cfg.ensemble == "npt" and not ex_cfg.ramp.pressures:
        problems.append(("exploration.ramp.pressures", "ensemble 'npt' needs pressures (bar)"))
    if ex_cfg.ramp is not None and ex_cfg.record_every > ex_cfg.n_steps:
        problems.append(("exploration.record_every",
                         f"record_every={ex_cfg.record_every} > n_steps={ex_cfg.n_steps} records nothing"))
    if cfg.train.model.rcut_smth >= cfg.train.model.rcut:
        problems.append(("train.model.rcut_smth", "must be below rcut"))
    return problems


def parse_config(data: dict[str, Any], path: str | Path = "<config>", base: Path | None = None) -> RunConfig:
    """Validate a parsed TOML table; relative paths are resolved against ``base``.

    Raises:
        ConfigError: listing every problem (key path, expected, given).
    """
    base = Path(base) if base is not None else Path(path).resolve().parent
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(path, pydantic_problems(err)) from None
    init = cfg.initial
    init.files = [_resolve(base, f) for f in init.files]
    if init.store is not None:
        init.store = _resolve(base, init.store)
    if "potential_dirs" in cfg.label and isinstance(cfg.label["potential_dirs"], list):
        cfg.label["potential_dirs"] = [_resolve(base, d) if isinstance(d, str) else d
                                       for d in cfg.label["potential_dirs"]]
    problems = _semantic_problems(cfg, base)
    if problems:
        raise ConfigError(path, problems)
    return cfg


def read_toml(path: str | Path) -> tuple[str, dict[str, Any]]:
    """The text and parsed table of a TOML file; syntax errors become :class:`ConfigError`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, [("", "no such config file")])
    text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, [("", f"not valid TOML: {err}")]) from None
    return text, data


def load_config(path: str | Path, base: Path | None = None) -> RunConfig:
    """Read and validate a run config file (see :func:`parse_config`)."""
    path = Path(path)
    _, data = read_toml(path)
    return parse_config(data, path, base if base is not None else path.resolve().parent)


def config_digest(text: str) -> str:
    """A short SHA-256 of a config's text (a resumed run must use the same config)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
