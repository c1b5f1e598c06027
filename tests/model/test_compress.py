"""Compressed models (tabulated embedding nets) against the exact ones, in float64.

Targets (issue 13): max force difference <= 1e-3 eV/Å and energy <= 1e-5 eV/atom, including
frames with a neighbour closer than the tabulated fine range; forces stay -dE/dx; NVE conserves
energy as well as with the exact model; the file keeps the tables.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from model_testkit import alcu_cell, make_model

import pesgen
from pesgen.model.fileformat import ModelFileError, read_payload
from pesgen.model.io import describe, load


def close_pair(seed: int, distance: float):
    """A rattled Al-Cu cell whose atoms 0 and 1 sit ``distance`` Å apart."""
    atoms = alcu_cell(seed=seed)
    d = atoms.positions[1] - atoms.positions[0]
    atoms.positions[1] = atoms.positions[0] + d / np.linalg.norm(d) * distance
    return atoms


def max_differences(a, b, frames):
    ea, eb = a.evaluate(frames), b.evaluate(frames)
    n_atoms = sum(len(f) for f in frames)
    de = (ea["energy_members"] - eb["energy_members"]).abs().max().item() if "energy_members" in ea else \
        (ea["energy"] - eb["energy"]).abs().max().item()
    key = "forces_members" if "forces_members" in ea else "forces"
    df = (ea[key] - eb[key]).abs().max().item()
    return de / (n_atoms / len(frames)), df, ea[key].abs().max().item()


@pytest.fixture(scope="module")
def compressed(ensemble):
    return copy.deepcopy(ensemble).compress()


@pytest.mark.parametrize("kind", ["ensemble", "pair nets"])
def test_compressed_matches_exact_within_targets(kind, ensemble, compressed, frames):
    if kind == "ensemble":
        exact, comp = ensemble, compressed
    else:  # type_one_side = false: one net per (centre, neighbour) pair
        exact = make_model(frames, seed=7, type_one_side=False)
        comp = copy.deepcopy(exact).compress()
    r_min = comp.compression.min_distance
    assert r_min == pytest.approx(exact.metadata["min_neighbor_distance"])
    # in the fine grid, in the coarse (extrapolated) grid, and just beyond it
    test_frames = [alcu_cell(seed=40 + k, repeat=2) for k in range(2)]
    test_frames += [close_pair(50, 0.8 * r_min), close_pair(51, 1.05 * r_min / comp.compression.extrapolate)]
    for frame in test_frames[2:]:
        assert frame.get_distance(0, 1, mic=True) < r_min  # beyond the fine table
    de, df, f_scale = max_differences(exact, comp, test_frames[:3])
    assert de <= 1e-5 and df <= 1e-3, (de, df)
    assert f_scale > 0.1  # forces are not trivially small
    de, df, _ = max_differences(exact, comp, test_frames[3:])
    assert de <= 1e-5 and df <= 1e-3, (de, df)


def test_beyond_the_table_forces_are_minus_gradient(compressed):
    """Far beyond the coarse grid the Taylor continuation keeps energies finite and forces = -dE/dx."""
    r = 0.5 * compressed.compression.min_distance / compressed.compression.extrapolate
    atoms = close_pair(60, r)
    out = compressed.evaluate(atoms)
    assert torch.isfinite(out["energy"]).all() and torch.isfinite(out["forces"]).all()
    h = 1e-5
    for atom, axis in ((0, 0), (1, 2), (5, 1)):
        energies = []
        for sign in (1, -1):
            moved = atoms.copy()
            moved.positions[atom, axis] += sign * h
            energies.append(compressed.evaluate(moved)["energy"].item())
        numeric = -(energies[0] - energies[1]) / (2 * h)
        assert out["forces"][atom, axis].item() == pytest.approx(numeric, rel=1e-6, abs=1e-7)


def test_compressed_honours_the_potential_contract(compressed):
    pesgen.check_potential(compressed)  # keys, shapes, forces = -dE/dx, virial = -dE/dstrain


def test_file_keeps_the_tables(compressed, ensemble, tmp_path):
    path = compressed.save(tmp_path / "c.pt")
    back = load(path)
    assert back.compression == compressed.compression
    atoms = close_pair(70, 0.9 * compressed.compression.min_distance)
    assert torch.equal(back.evaluate(atoms)["forces"], compressed.evaluate(atoms)["forces"])
    assert "compression   tabulated" in describe(path)
    exact = back.decompress().evaluate(atoms)["forces"]
    assert torch.allclose(exact, ensemble.evaluate(atoms)["forces"], rtol=0, atol=1e-12)
    payload = read_payload(path)
    payload["compression"]["coef"] = payload["compression"]["coef"][:, :, :, :-3]
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="bad.pt: corrupt compression tables"):
        load(tmp_path / "bad.pt")


def test_training_graphs_refuse_tables_and_float32_retabulates(compressed, frames):
    batch = compressed.make_batch(frames[0])
    with pytest.raises(ValueError, match="training uses the exact nets"):
        compressed.module(batch, create_graph=True, tables=compressed.tables)
    single = copy.deepcopy(compressed).to(torch.float32)
    assert single.tables.coef.dtype == torch.float32
    exact32 = copy.deepcopy(compressed).decompress().to(torch.float32)
    de, df, _ = max_differences(single, exact32, [alcu_cell(seed=80)])
    assert de <= 1e-5 and df <= 1e-3


def test_nve_energy_drift_as_with_the_exact_model(ensemble, compressed):
    from ase import units

    from pesgen.explore.md import NVE, MDSampler
    from pesgen.explore.md.observables import kinetic_energy

    def drift(potential):
        integ = NVE(timestep=1.0)
        sampler = MDSampler(potential, integ, dtype=torch.float64, skin=0.5, seed=1)
        state = sampler.init([alcu_cell(seed=90, rattle=0.02)], [300.0])
        trace = []
        for _ in range(150):
            state = integ.step(state, sampler.compute, sampler.generator)
            trace.append(float(state.energy[0] + kinetic_energy(state.velocities, state.masses,
                                                                 state.batch.frame, 1)[0]))
        return np.abs(np.array(trace) - trace[0]).max()

    exact, comp = drift(ensemble), drift(compressed)
    assert exact < 1e-3 * 32 * 1.5 * units.kB * 300.0      # the test can tell conservation at all
    assert comp <= 1.5 * exact + 1e-7, (comp, exact)
