"""The pesgen model file: one versioned file with hyperparameters, type map, statistics, weights.

Layout (a ``torch.save`` dictionary, read back with ``weights_only=True`` so no code is loaded)::

    {"format": "pesgen-model", "version": 1, "kind": "DeepPot" | "Ensemble",
     "n_members": int, "hyperparameters": {...}, "state_dict": {name: tensor},
     "metadata": "<json>", "pesgen_version": "x.y.z",
     "compression": {"settings": {...}, "grid": {...}, "coef": tensor}}   # compressed models only

Statistics (davg, dstd, energy bias) are buffers inside ``state_dict``. ``compression`` (optional:
a reader that ignores it gets the exact model) holds the tabulated embedding nets of a compressed
model (:mod:`pesgen.model.tabulate`): their settings, grid and quintic coefficients.
Files are written to a
temporary name and renamed, so a crash never leaves a half-written model under the final name.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import torch

from pesgen.errors import PesgenError
from pesgen.version import __version__

FORMAT = "pesgen-model"
VERSION = 1


class ModelFileError(PesgenError):
    """A model file is missing, truncated, corrupt or incompatible; the message names it."""


def save_potential(potential, path: str | Path) -> Path:
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
        "pesgen_version": __version__,
    }
    tables = getattr(potential, "tables", None)
    if tables is not None:
        payload["compression"] = {"settings": tables.settings.to_dict(), "grid": tables.grid,
                                  "coef": tables.coef.detach().cpu()}
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
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        raise ModelFileError(f"{path}: not a pesgen model file (not a torch archive: truncated or corrupt, "
                             "or another kind of file)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # torch's text advises weights_only=False: not for us
        raise ModelFileError(f"{path}: not a pesgen model file (a torch archive holding Python objects "
                             "that a pesgen model never contains)") from err
    except Exception as err:  # torch raises many types for truncated/corrupt zip archives
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ModelFileError(f"{path}: not a readable pesgen model file (truncated or corrupt?): "
                             f"{type(err).__name__}: {first}") from err
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
