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


def test_neighbour_list_of_another_precision(model):
    """A float32 neighbour list (e.g. a float32 MD's Verlet list) drives a float64 model."""
    from pesgen.model.batch import Batch
    from pesgen.model.neighbors import neighbor_list

    atoms = alcu_cell(seed=52)
    batch32 = Batch.from_atoms(atoms, model.type_map, dtype=torch.float32)
    nl32 = neighbor_list(batch32, model.rcut + 0.5)
    out = model.evaluate(batch32, nl32)
    ref = model.evaluate(atoms)
    assert out["forces"].dtype == torch.float64
    assert np.abs(out["forces"].numpy() - ref["forces"].numpy()).max() < 1e-5
