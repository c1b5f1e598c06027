"""float32 agrees with float64 to single-precision accuracy; conversion keeps the model."""

from __future__ import annotations

import copy

import numpy as np
import torch
from model_testkit import alcu_cell


def test_float32_close_to_float64(model):
    atoms = alcu_cell(seed=51, repeat=3)
    ref = model.evaluate(atoms)
    single = copy.deepcopy(model).to(torch.float32)
    assert single.dtype == torch.float32 and single.hyperparameters["precision"] == "float32"
    out = single.evaluate(atoms)
    assert out["forces"].dtype == torch.float32
    n = len(atoms)
    assert abs(out["energy"].item() - ref["energy"].item()) / n < 1e-5
    scale = ref["forces"].abs().max().item()
    assert np.abs(out["forces"].double().numpy() - ref["forces"].numpy()).max() < 1e-4 * max(scale, 1.0)
    assert scale > 1e-3
