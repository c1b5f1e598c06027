"""DeePMD-kit peers of a pesgen model for the benchmarks: the same weights in DeePMD-kit's PyTorch backend.

``deepmd_models(module, folder, compress=...)`` writes one DeePMD-kit checkpoint per member
(``pesgen.model.deepmd_weights``; precision = the module's, so float32 models give DeePMD-kit
``"precision": "float32"`` models) and loads them as ``deepmd.infer.DeepPot``. With ``compress``
each checkpoint is frozen and compressed by DeePMD-kit's own ``dp --pt freeze`` and
``dp --pt compress`` entry points (called in process: the command line's code without its
start-up), with the closest-pair distance of the pesgen model as DeePMD-kit's ``min_nbor_dist``.

DeePMD-kit 3.2's PyTorch backend imports ``e3nn`` (``pip install -e ".[bench]"``). Returns None,
with the reason printed, when DeePMD-kit cannot be imported.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pesgen.model.deepmd_weights import deepmd_model_params, deepmd_state_dict


def checkpoint(module, member: int, path: Path, min_nbor_dist: float | None = None) -> Path:
    """A DeePMD-kit PyTorch checkpoint (.pt) of member ``member`` of a pesgen StackedDeepPot."""
    from deepmd.pt.model.model import get_model

    params = deepmd_model_params(module)
    state = {"_extra_state": {"model_params": params, "train_infos": {"lr": 0.0, "step": 0}}}
    for key, value in deepmd_state_dict(module, member).items():
        state[f"model.Default.{key}"] = value
    for key, value in get_model(params).state_dict().items():  # compression placeholders, min_nbor_dist
        state.setdefault(f"model.Default.{key}", value)
    if min_nbor_dist is not None:
        state["model.Default.min_nbor_dist"] = torch.tensor(float(min_nbor_dist), dtype=torch.float64)
    torch.save({"model": state}, path)
    return path


def deepmd_models(module, folder: Path, compress: bool = False, min_nbor_dist: float | None = None,
                  step: float = 0.01, extrapolate: float = 5.0):
    """Four (n_members) ``deepmd.infer.DeepPot`` of ``module``'s members, compressed or not."""
    try:
        from deepmd.infer import DeepPot
    except ImportError as err:
        print(f"DeePMD-kit not importable ({err}); DeePMD-kit peer skipped.")
        return None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    models = []
    for k in range(module.n_members):
        path = checkpoint(module, k, folder / f"member{k}.pt", min_nbor_dist)
        if compress:
            from deepmd.pt.entrypoints.compress import enable_compression
            from deepmd.pt.entrypoints.main import freeze

            frozen = folder / f"member{k}.pth"
            freeze(model=str(path), output=str(frozen))
            path = folder / f"member{k}-compressed.pth"
            enable_compression(str(frozen), str(path), stride=step, extrapolate=extrapolate)
        models.append(DeepPot(str(path)))
    return models
