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
from pesgen.model.tabulate import Compression, EmbeddingTables

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
    potential = kinds[payload["kind"]].from_module(module, metadata)
    if payload.get("compression") is not None:
        potential.tables = _tables(path, payload["compression"], module)
    return potential


def _tables(path, entry, module: StackedDeepPot) -> EmbeddingTables:
    """The tabulated embedding nets of a compressed model file."""
    try:
        coef = entry["coef"].to(dtype=module.dtype)
        n_nets, _, n_members, _, width = coef.shape
        if (n_nets, n_members, width) != (len(module.descriptor.embeddings), module.n_members, module.descriptor.m1):
            raise ValueError(f"tables of shape {tuple(coef.shape)} for {module.n_members} member(s)")
        tables = EmbeddingTables(Compression(**entry["settings"]), entry["grid"], coef)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ModelFileError(f"{path}: corrupt compression tables: {err}") from err
    return tables.to(device=module.device)


def _compression_facts(model) -> dict[str, Any] | None:
    """Settings and grid of a compressed model's tables, None for exact nets."""
    if model.compression is None:
        return None
    return {**model.compression.to_dict(), **model.tables.grid}


def _compression_text(facts: dict[str, Any] | None) -> str:
    if facts is None:
        return "none (exact embedding nets)"
    return (f"tabulated, step {facts['step']} in s^ ({facts['n_fine']} fine + {facts['n_coarse']} coarse pieces), "
            f"min_distance {facts['min_distance']:.3f} Å, extrapolate {facts['extrapolate']}")


def model_facts(path: str | Path) -> dict[str, Any]:
    """What a model file holds, as plain JSON-ready values (``pesgen model info --json``): ``path``,
    ``kind``, ``n_members``, ``file_version``, ``pesgen_version``, ``hyperparameters`` (``type_map``,
    ``rcut`` and ``rcut_smth`` Å, ``sel``, network sizes, ...), ``n_parameters`` (per member),
    ``energy_bias`` (element -> eV, member 0), ``metadata`` (as saved: the learning curve, RMSEs
    in eV/atom and eV/Å, the training settings) and ``compression`` (None, or the tables' step,
    extrapolate, min_distance Å and grid)."""
    model = load(path)
    payload = read_payload(path)
    bias = model.energy_bias()
    return {"path": str(path), "kind": payload["kind"], "n_members": model.n_members,
            "file_version": payload["version"], "pesgen_version": payload.get("pesgen_version"),
            "hyperparameters": dataclasses.asdict(model.module.hyper), "n_parameters": model.n_parameters(),
            "energy_bias": {s: float(b) for s, b in zip(model.type_map, bias[0], strict=True)},
            "metadata": model.metadata, "compression": _compression_facts(model)}


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
        f"  compression   {_compression_text(facts['compression'])}",
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
