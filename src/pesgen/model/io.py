"""DeepPot and Ensemble objects from pesgen model files (the layout: :mod:`pesgen.model.fileformat`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from pesgen.model.deeppot import DeepPot
from pesgen.model.ensemble import Ensemble
from pesgen.model.fileformat import ModelFileError, read_payload
from pesgen.model.stacked_model import Hyperparameters, StackedDeepPot

__all__ = ["ModelFileError", "describe", "load", "model_facts"]


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


def model_facts(path: str | Path) -> dict[str, Any]:
    """What a model file holds, as plain JSON-ready values (``pesgen model info --json``): ``path``,
    ``kind``, ``n_members``, ``file_version``, ``pesgen_version``, ``hyperparameters`` (``type_map``,
    ``rcut`` and ``rcut_smth`` Å, ``sel``, network sizes, ...), ``n_parameters`` (per member),
    ``energy_bias`` (element -> eV, member 0) and ``metadata`` (as saved: the learning curve, RMSEs
    in eV/atom and eV/Å, the training settings)."""
    model = load(path)
    payload = read_payload(path)
    bias = model.energy_bias()
    return {"path": str(path), "kind": payload["kind"], "n_members": model.n_members,
            "file_version": payload["version"], "pesgen_version": payload.get("pesgen_version"),
            "hyperparameters": dataclasses.asdict(model.module.hyper), "n_parameters": model.n_parameters(),
            "energy_bias": {s: float(b) for s, b in zip(model.type_map, bias[0], strict=True)},
            "metadata": model.metadata}


def describe(path: str | Path) -> str:
    """A human-readable summary of a model file (:func:`model_facts`; learning-curve energies in meV/atom)."""
    facts = model_facts(path)
    h = SimpleNamespace(**facts["hyperparameters"])
    lines = [
        f"{path}: {facts['kind']} with {facts['n_members']} member(s), file version {facts['file_version']}, "
        f"written by pesgen {facts['pesgen_version'] or '?'}",
        f"  type_map      {h.type_map}",
        f"  rcut          {h.rcut} Å (smoothing from {h.rcut_smth} Å), sel {h.sel}",
        f"  embedding     {h.neuron} (axis_neuron {h.axis_neuron}, type_one_side {h.type_one_side}, "
        f"resnet_dt {h.resnet_dt})",
        f"  fitting       {h.fitting_neuron} (resnet_dt {h.fitting_resnet_dt}), activation {h.activation}",
        f"  precision     {h.precision}",
        f"  parameters    {facts['n_parameters']:,} per member",
        "  energy bias   " + ", ".join(f"{s}: {b:.4f} eV" for s, b in facts["energy_bias"].items()),
    ]
    for key, value in sorted(facts["metadata"].items()):
        if key == "learning_curve" and value:
            last = value[-1]
            worst = {k: max(v) for k, v in last.items() if k.startswith("rmse_") and v}
            text = f"{len(value)} points to step {last['step']}; last (worst member): " + ", ".join(
                _rmse_text(k, v) for k, v in sorted(worst.items()))
            lines.append(f"  {key:<13} {text}")
            continue
        text = json.dumps(value)
        lines.append(f"  {key:<13} {text if len(text) < 80 else text[:77] + '...'}")
    return "\n".join(lines)


def _rmse_text(key: str, value: float) -> str:
    """A learning-curve RMSE with its unit: energies and virials per atom in meV/atom, forces in eV/Å."""
    if key.startswith("rmse_f"):
        return f"{key} {value:.4f} eV/Å"
    return f"{key} {1000 * value:.2f} meV/atom"
