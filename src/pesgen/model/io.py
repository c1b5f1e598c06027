"""The pesgen model file: one versioned file with hyperparameters, type map, statistics, weights.

Layout (a ``torch.save`` dictionary, read back with ``weights_only=True`` so no code is loaded)::

    {"format": "pesgen-model", "version": 1, "kind": "DeepPot" | "Ensemble",
     "n_members": int, "hyperparameters": {...}, "state_dict": {name: tensor},
     "metadata": "<json>", "pesgen_version": "x.y.z"}

Statistics (davg, dstd, energy bias) are buffers inside ``state_dict``. Files are written to a
temporary name and renamed, so a crash never leaves a half-written model under the final name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

FORMAT = "pesgen-model"
VERSION = 1


class ModelFileError(Exception):
    """A model file is missing, truncated, corrupt or incompatible; the message names it."""


def save_potential(potential, path: str | Path) -> Path:
    import pesgen

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "kind": potential.kind,
        "n_members": potential.n_members,
        "hyperparameters": potential.module.hyper.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in potential.module.state_dict().items()},
        "metadata": json.dumps(potential.metadata),
        "pesgen_version": pesgen.__version__,
    }
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def read_payload(path: str | Path) -> dict:
    """The raw dictionary of a model file, checked for format and version."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, not a pesgen model file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for truncated/corrupt zip archives
        raise ModelFileError(f"{path}: not a readable pesgen model file (truncated or corrupt?): "
                             f"{type(err).__name__}: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a pesgen model file (no '{FORMAT}' header)")
    version = payload.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ModelFileError(f"{path}: model file version {version!r} is newer than this pesgen "
                             f"reads (version {VERSION}); upgrade pesgen")
    for key in ("kind", "n_members", "hyperparameters", "state_dict"):
        if key not in payload:
            raise ModelFileError(f"{path}: model file lacks '{key}'")
    return payload


def load(path: str | Path, device: str | torch.device = "cpu"):
    """Load a saved DeepPot or Ensemble from ``path`` (a run directory: its latest ensemble)."""
    if Path(path).is_dir():
        from pesgen.loop.rundir import load_latest

        return load_latest(path, device=device)
    from pesgen.model.deeppot import DeepPot
    from pesgen.model.ensemble import Ensemble
    from pesgen.model.stacked_model import Hyperparameters, StackedDeepPot

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
