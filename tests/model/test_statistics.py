"""Data statistics: environment normalisation, automatic sel, least-squares energy bias."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.emt import EMT
from model_testkit import alcu_cell

import pesgen
from pesgen.model.batch import Batch
from pesgen.model.env import environment_rows
from pesgen.model.neighbors import neighbor_list
from pesgen.model.stats import energy_bias


def test_energy_bias_recovers_per_species_energies():
    frames, energies = [], []
    true = {"Al": -3.7, "Cu": -4.1}
    for s in range(6):
        atoms = alcu_cell(seed=s, repeat=2)
        symbols = atoms.get_chemical_symbols()
        symbols[: s + 1] = ["Cu"] * (s + 1)  # compositions must vary for a unique fit
        atoms.set_chemical_symbols(symbols)
        frames.append(atoms)
        energies.append(sum(true[x] for x in atoms.get_chemical_symbols()))
    bias = energy_bias(frames, ["Al", "Cu"], energies)
    np.testing.assert_allclose(bias, [true["Al"], true["Cu"]], atol=1e-10)


def test_environment_statistics_by_hand(frames):
    """Per centre species, over all sum(sel) slots of every neighbour species (DeePMD-kit's se_e2_a)."""
    model = pesgen.DeepPot(type_map=["Al", "Cu"], rcut=5.0, rcut_smth=1.0, seed=0, sel=[60, 24])
    model.compute_statistics(frames)
    batch = Batch.from_atoms(frames, ["Al", "Cu"])
    nl = neighbor_list(batch, 5.0)
    rows = environment_rows(nl.vectors(batch.positions, batch.cell, batch.frame), 1.0, 5.0)
    ti = batch.species[nl.i]
    davg = model.module.descriptor.davg[0]
    dstd = model.module.descriptor.dstd[0]
    for a in range(2):
        mask = ti == a
        slots = int((batch.species == a).sum()) * (60 + 24)
        values = torch.zeros(slots, 4, dtype=torch.float64)
        values[: int(mask.sum())] = rows[mask]  # padded slots hold zeros
        for b in range(2):  # one value for every neighbour species
            assert davg[a, b, 0].item() == pytest.approx(values[:, 0].mean().item(), rel=1e-10)
            assert dstd[a, b, 0].item() == pytest.approx(values[:, 0].std(unbiased=False).item(), rel=1e-10)
            assert dstd[a, b, 1].item() == pytest.approx(values[:, 1:].std(unbiased=False).item(), rel=1e-8)
            assert davg[a, b, 1:].abs().max().item() == 0.0


def test_auto_sel_covers_the_data(frames):
    model = pesgen.DeepPot(type_map=["Al", "Cu"], rcut=5.0, seed=0)
    model.compute_statistics(frames, auto_sel=True)
    sel = model.hyperparameters["sel"]
    batch = Batch.from_atoms(frames, ["Al", "Cu"])
    nl = neighbor_list(batch, 5.0)
    counts = np.zeros((batch.n_atoms, 2), dtype=int)
    np.add.at(counts, (nl.i.numpy(), batch.species[nl.j].numpy()), 1)
    assert all(sel[b] >= counts[:, b].max() for b in range(2))
    assert all(s % 4 == 0 for s in sel)


def test_absent_species_keeps_neutral_statistics():
    model = pesgen.DeepPot(type_map=["Al", "Mg"], rcut=5.0, seed=0)
    al = [bulk("Al", "fcc", a=4.05, cubic=True).repeat(2) for _ in range(2)]
    for k, a in enumerate(al):
        a.rattle(0.05, seed=k)
        a.calc = EMT()
        a.get_potential_energy()
    model.compute_statistics(al)
    d = model.module.descriptor
    assert torch.all(d.davg[0, 1] == 0) and torch.all(d.dstd[0, 1] == 1)     # Mg centres: none
    assert torch.all(d.davg[0, 0, 1] == d.davg[0, 0, 0]) and torch.all(d.dstd[0, 0, 1] == d.dstd[0, 0, 0])
    assert model.energy_bias()[0, 1] == 0.0


def test_unknown_species_error(model):
    atoms = bulk("Fe", "bcc", a=2.87)
    with pytest.raises(ValueError, match="Fe"):
        model.evaluate(atoms)
