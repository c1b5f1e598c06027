"""Training's cached environment: rows and their Jacobian once per frame give the model's own outputs."""

from __future__ import annotations

import pytest
import torch
from model_testkit import emt_frames, make_model

import pesgen
from pesgen.model.batch import Batch
from pesgen.model.env import environment_rows, row_jacobian
from pesgen.training.dataset import build_systems


def test_row_jacobian_is_the_derivative_of_the_rows():
    """Edges below rcut_smth, in the switching window and near rcut, in every direction."""
    generator = torch.Generator().manual_seed(0)
    directions = torch.nn.functional.normalize(torch.randn(600, 3, generator=generator, dtype=torch.float64), dim=1)
    lengths = torch.linspace(0.8, 4.99, 600, dtype=torch.float64)[:, None]
    rij = (directions * lengths).requires_grad_(True)
    rows = environment_rows(rij, 1.0, 5.0)
    expected = torch.stack([torch.autograd.grad(rows[:, a].sum(), rij, retain_graph=True)[0] for a in range(4)], 1)
    got = row_jacobian(rij, 1.0, 5.0)
    assert got.shape == (600, 4, 3)
    assert torch.allclose(got, expected, rtol=0, atol=1e-13)
    assert got[lengths[:, 0] > 1.0, 0].abs().max() > 0.1  # the switching window is covered


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_cached_environment_gives_the_models_outputs(precision):
    """Energies bit for bit (same rows, same arithmetic); forces and virials to rounding (dE/dr by the
    chain rule through the cached Jacobian instead of autograd through the geometry)."""
    frames = emt_frames(6)
    ensemble = pesgen.Ensemble([make_model(frames, seed=s, precision=precision) for s in range(3)])
    module = ensemble.module
    systems = build_systems(frames, ensemble.type_map, 5.0, 1.0, module.dtype, "cpu")
    assert len(systems) == 6  # random Al/Cu orders: one system per frame
    tol = {"float64": 1e-11, "float32": 2e-5}[precision]
    for system, atoms in zip(systems, frames, strict=True):
        env, labels = system.environment([0])
        cached = module.forward_environment(env)
        direct = module(Batch.from_atoms(atoms, ensemble.type_map, dtype=module.dtype))
        assert torch.equal(cached["energy"], direct["energy"])
        assert torch.equal(cached["atom_energy"], direct["atom_energy"])
        for key in ("forces", "virial"):
            assert torch.allclose(cached[key], direct[key], rtol=0, atol=tol * direct[key].abs().max()), key
        assert torch.allclose(labels["forces"].double(), torch.tensor(atoms.get_forces()), atol=1e-6)
