"""Training settings (strict pydantic models, unknown keys rejected). Defaults are DeePMD-kit's unless noted."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pesgen.schema import StrictModel


class ModelSettings(StrictModel):
    """Architecture of each member (DeePMD-kit's names). ``sel`` "auto" sets it from the data."""

    rcut: float = Field(6.0, gt=0, description="cutoff radius, Å")
    rcut_smth: float = Field(0.5, ge=0, description="where the switching starts, Å")
    sel: list[int] | Literal["auto"] = "auto"
    neuron: list[int] = Field(default_factory=lambda: [25, 50, 100])
    axis_neuron: int = 16
    type_one_side: bool = True
    resnet_dt: bool = False
    fitting_neuron: list[int] = Field(default_factory=lambda: [240, 240, 240])
    fitting_resnet_dt: bool = True
    activation: Literal["tanh", "gelu", "relu", "softplus", "sigmoid"] = "tanh"
    precision: Literal["float64", "float32"] = "float64"

    @model_validator(mode="after")
    def _check(self) -> ModelSettings:
        if self.rcut_smth >= self.rcut:
            raise ValueError(f"rcut_smth ({self.rcut_smth}) must be below rcut ({self.rcut})")
        return self

    def hyperparameters(self) -> dict:
        out = self.model_dump()
        if out["sel"] == "auto":
            out.pop("sel")
        return out


class TrainSettings(StrictModel):
    """How an ensemble is trained.

    Loss (DeePMD-kit's "ener"): pe * mean((E - E*)^2) / N + pf * mean((F - F*)^2) + pv * mean((W - W*)^2) / N,
    each prefactor moving from its start to its limit value as the learning rate decays:
    p = p_limit (1 - lr / lr0) + p_start lr / lr0. Learning rate lr0 * r^(step / decay_steps), with r chosen
    so that it reaches stop_lr at numb_steps.
    """

    n_members: int = Field(4, ge=1, description="ensemble size")
    seed: int = 0
    numb_steps: int = Field(2000, ge=1)
    batch_size: int | Literal["auto"] = "auto"
    auto_batch_atoms: int = Field(32, ge=1, description="'auto' batch: frames so that frames x atoms >= this")
    start_lr: float = Field(1e-3, gt=0)
    stop_lr: float = Field(3.51e-8, gt=0)
    decay_steps: int | None = Field(None, ge=1, description="default: min(5000, max(1, numb_steps // 40))")
    start_pref_e: float = 0.02
    limit_pref_e: float = 1.0
    start_pref_f: float = 1000.0
    limit_pref_f: float = 1.0
    # DeePMD-kit's default is 0 for both; with virial labels 0.02 -> 1 fits E(V) 20x better at equal force
    # error (measured on strained EMT Al, see docs/training.md). Frames without a stress label are skipped.
    start_pref_v: float = 0.02
    limit_pref_v: float = 1.0
    validation_fraction: float = Field(0.1, ge=0, lt=1)
    max_validation_frames: int = Field(64, ge=1)
    disp_freq: int = Field(100, ge=1, description="steps between learning-curve points")
    batch_mixing: Literal["system", "mixed"] = Field(
        "system", description="'system': each batch holds frames of one system (DeePMD-kit); 'mixed': "
        "frames of all systems drawn together (docs/training.md)")
    shuffle_per_member: bool = Field(
        False, description="each member draws its own batches (slower: every member sees all batches of a step)")
    device: str = "cpu"
    model: ModelSettings = Field(default_factory=ModelSettings)
    refresh_statistics: bool = Field(False, description="warm start: recompute davg/dstd and energy bias")

    @model_validator(mode="after")
    def _check(self) -> TrainSettings:
        if self.stop_lr > self.start_lr:
            raise ValueError(f"stop_lr ({self.stop_lr}) exceeds start_lr ({self.start_lr})")
        if self.shuffle_per_member and self.batch_mixing == "mixed":
            raise ValueError("shuffle_per_member needs batch_mixing = 'system' (the members' batches "
                             "must have one shape)")
        return self

    @property
    def effective_decay_steps(self) -> int:
        if self.decay_steps is not None:
            return self.decay_steps
        return min(5000, max(1, self.numb_steps // 40))
