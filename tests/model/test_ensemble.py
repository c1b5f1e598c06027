"""The stacked ensemble equals its members evaluated one by one; deviations follow eq. (1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_testkit import alcu_cell, make_model

import pesgen
from pesgen.calculator import PesgenCalculator
from pesgen.model.deviation import deviations


def test_ensemble_equals_members_one_by_one(frames, ensemble):
    batch = [alcu_cell(seed=31), alcu_cell(seed=32, repeat=1)]
    out = ensemble.evaluate(batch)
    for k in range(len(ensemble)):
        single = make_model(frames, seed=k).evaluate(batch)
        torch.testing.assert_close(out["energy_members"][k], single["energy"], atol=1e-10, rtol=0)
        torch.testing.assert_close(out["forces_members"][k], single["forces"], atol=1e-10, rtol=0)
        torch.testing.assert_close(out["virial_members"][k], single["virial"], atol=1e-10, rtol=0)
    torch.testing.assert_close(out["energy"], out["energy_members"].mean(0))
    assert out["energy_members"].std(0).min() > 1e-4, "members must differ"


def test_members_round_trip(ensemble):
    atoms = alcu_cell(seed=33)
    members = ensemble.members
    again = pesgen.Ensemble(members)
    torch.testing.assert_close(again.evaluate(atoms)["forces_members"], ensemble.evaluate(atoms)["forces_members"])


def test_deviation_formulas_against_numpy(ensemble):
    frames = [alcu_cell(seed=34), alcu_cell(seed=35)]
    out = ensemble.evaluate(frames)
    fs = out["forces_members"].numpy()  # (M, N, 3)
    n = len(frames[0])
    for f in range(2):
        ff = fs[:, f * n:(f + 1) * n]
        # DeePMD-kit: norm over xyz of the population std over models
        dev = np.linalg.norm(np.std(ff, axis=0), axis=-1)
        assert out["max_devi_f"][f].item() == pytest.approx(dev.max(), rel=1e-10)
        assert out["min_devi_f"][f].item() == pytest.approx(dev.min(), rel=1e-10)
        assert out["avg_devi_f"][f].item() == pytest.approx(dev.mean(), rel=1e-10)
        es = out["energy_members"][:, f].numpy()
        assert out["devi_e"][f].item() == pytest.approx(np.std(es) / n, rel=1e-10)
        vs = out["virial_members"][:, f].reshape(len(ensemble), 9).numpy() / n
        vdev = np.std(vs, axis=0)
        assert out["max_devi_v"][f].item() == pytest.approx(vdev.max(), rel=1e-10)
        assert out["min_devi_v"][f].item() == pytest.approx(vdev.min(), rel=1e-10)
        assert out["avg_devi_v"][f].item() == pytest.approx(np.linalg.norm(vdev) / 3, rel=1e-10)


def test_relative_deviation(ensemble):
    atoms = alcu_cell(seed=36)
    absolute = ensemble.evaluate(atoms)
    relative = ensemble.evaluate(atoms, relative=0.5)
    mean_norm = absolute["forces"].norm(dim=-1)
    torch.testing.assert_close(relative["devi_f"], absolute["devi_f"] / (mean_norm + 0.5))


def test_identical_members_have_zero_deviation(frames):
    m = make_model(frames, seed=3)
    ens = pesgen.Ensemble([m, m, m])
    out = ens.evaluate(alcu_cell(seed=37))
    assert out["max_devi_f"].item() < 1e-12 and out["devi_e"].item() < 1e-12


def test_deviations_per_frame_with_unequal_sizes():
    forces = torch.zeros(2, 5, 3, dtype=torch.float64)
    forces[0, 4, 0], forces[1, 4, 0] = 1.0, -1.0  # atom 4 (frame 1) deviates by 1 eV/Å
    energy = torch.tensor([[1.0, 2.0], [3.0, 2.0]], dtype=torch.float64)
    virial = torch.zeros(2, 2, 3, 3, dtype=torch.float64)
    frame = torch.tensor([0, 0, 0, 1, 1])
    natoms = torch.tensor([3, 2])
    d = deviations(energy, forces, virial, frame, natoms)
    torch.testing.assert_close(d["max_devi_f"], torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(d["avg_devi_f"], torch.tensor([0.0, 0.5], dtype=torch.float64))
    torch.testing.assert_close(d["devi_e"], torch.tensor([1.0 / 3.0, 0.0], dtype=torch.float64))


def test_mismatched_members_rejected(frames):
    a = make_model(frames, seed=0)
    b = pesgen.DeepPot(type_map=["Al", "Cu"], rcut=4.0, seed=1)
    with pytest.raises(ValueError, match="rcut"):
        pesgen.Ensemble([a, b])


def test_calculator_of_ensemble(ensemble):
    atoms = alcu_cell(seed=38)
    atoms.calc = PesgenCalculator(ensemble)
    e = atoms.get_potential_energy()
    out = ensemble.evaluate(atoms)
    assert e == pytest.approx(out["energy"].item())
    np.testing.assert_allclose(atoms.get_forces(), out["forces"].numpy())
    assert atoms.calc.results["max_devi_f"] == pytest.approx(out["max_devi_f"].item())
    assert atoms.get_stress().shape == (6,)


def test_atom_chunks_give_the_same_numbers(ensemble):
    """Inference in cache-sized chunks of centre atoms equals one pass over all atoms."""
    import copy

    frames = [alcu_cell(seed=39, repeat=3), alcu_cell(seed=40, repeat=2)]
    whole = ensemble.evaluate(frames)
    chunked = copy.deepcopy(ensemble)
    chunked.module.chunk_bytes = 20_000  # forces many chunks
    assert len(chunked.module._atom_chunks(torch.zeros(5000, dtype=torch.long), 140)) > 3
    out = chunked.evaluate(frames)
    for key in ("energy_members", "forces_members", "virial_members", "max_devi_f"):
        torch.testing.assert_close(out[key], whole[key], atol=1e-10, rtol=0)


def test_evaluate_frames_gives_each_frame_what_it_gets_alone(ensemble):
    """Per-frame results: frames of different sizes in one call equal each frame evaluated alone."""
    frames = [alcu_cell(seed=36), alcu_cell(seed=37, repeat=1)]
    assert len(frames[0]) != len(frames[1])
    per_frame = ensemble.evaluate_frames(frames)
    assert len(per_frame) == 2
    for atoms, got in zip(frames, per_frame, strict=True):
        alone = ensemble.evaluate(atoms)
        n = len(atoms)
        assert isinstance(got["energy"], float) and isinstance(got["max_devi_f"], float)
        assert got["forces"].shape == (n, 3) and got["atom_energy"].shape == (n,) and got["devi_f"].shape == (n,)
        assert got["virial"].shape == (3, 3) and got["energy_members"].shape == (len(ensemble),)
        assert got["forces_members"].shape == (len(ensemble), n, 3)
        assert got["energy"] == pytest.approx(float(alone["energy"][0]), abs=1e-8)
        assert got["atom_energy"].sum() == pytest.approx(got["energy"], abs=1e-8)
        np.testing.assert_allclose(got["forces"], alone["forces"].numpy(), atol=1e-8)
        np.testing.assert_allclose(got["forces_members"], alone["forces_members"].numpy(), atol=1e-8)
        assert got["max_devi_f"] == pytest.approx(float(alone["max_devi_f"][0]), abs=1e-8)
    single = ensemble.members[0].evaluate_frames(frames)       # a DeepPot too
    assert single[1]["forces"].shape == (len(frames[1]), 3)
