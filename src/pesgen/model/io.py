"""DeepPot and Ensemble objects from pesgen model files (the layout: :mod:`pesgen.model.fileformat`)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from pesgen.model.deeppot import DeepPot
from pesgen.model.ensemble import Ensemble
from pesgen.model.fileformat import ModelFileError, read_payload
from pesgen.model.stacked_model import Hyperparameters, StackedDeepPot

__all__ = ["ModelFileError", "describe", "load"]


def load(path: str | Path, device: str | torch.device = "cpu"):
    """Load a saved DeepPot or Ensemble from the model file ``path`` (see ``pesgen.load`` for run directories)."""
    payload = read_payload(path)
    kinds = {"DeepPot": DeepPot, "Ensemble": Ensemble}
    if payload["kind"] not in kinds:
        raise ModelFileError(f"{path}: unknown model kind {payload['kind']!r}")
    try:
        hyper = Hyperparameters(**payload["hyperparameters"])
        module = StackedDeepPot(hyper, n_members=int(payload["n_members"]), seed=0)
        module.load_state_dict(payload["state_dict"], strict=True)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ModelFileError(f"{path}: model file does not match its hyperparameters "
                             f"(incompatible or corrupt): {err}") from err
    try:
        metadata = json.loads(payload.get("metadata") or "{}")
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{path}: corrupt metadata: {err}") from err
    module.to(device=device)
    return kinds[payload["kind"]].from_module(module, metadata)


def describe(path: str | Path) -> str:
    """A human-readable summary of a model file."""
    model = load(path)
    payload = read_payload(path)
    h = model.module.hyper
    bias = model.energy_bias()
    lines = [
        f"{path}: {payload['kind']} with {model.n_members} member(s), file version {payload['version']}, "
        f"written by pesgen {payload.get('pesgen_version', '?')}",
        f"  type_map      {h.type_map}",
        f"  rcut          {h.rcut} Å (smoothing from {h.rcut_smth} Å), sel {h.sel}",
        f"  embedding     {h.neuron} (axis_neuron {h.axis_neuron}, type_one_side {h.type_one_side}, "
        f"resnet_dt {h.resnet_dt})",
        f"  fitting       {h.fitting_neuron} (resnet_dt {h.fitting_resnet_dt}), activation {h.activation}",
        f"  precision     {h.precision}",
        f"  parameters    {model.n_parameters():,} per member",
        "  energy bias   " + ", ".join(f"{s}: {b:.4f} eV" for s, b in zip(h.type_map, bias[0], strict=True)),
    ]
    for key, value in sorted(model.metadata.items()):
        if key == "learning_curve" and value:
            last = value[-1]
            worst = {k: max(v) for k, v in last.items() if k.startswith("rmse_") and v}
            text = f"{len(value)} points to step {last['step']}; last (worst member): " + ", ".join(
                f"{k} {v:.4g}" for k, v in sorted(worst.items()))
            lines.append(f"  {key:<13} {text}")
            continue
        text = json.dumps(value)
        lines.append(f"  {key:<13} {text if len(text) < 80 else text[:77] + '...'}")
    return "\n".join(lines)
