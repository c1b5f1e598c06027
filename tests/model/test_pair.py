"""The analytic pair potential: forces and virial are derivatives of its energy, it is smooth at
the cutoff, and a batch equals its frames evaluated one by one."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk

from pesgen.model.batch import Batch
from pesgen.model.neighbors import neighbor_list
from pesgen.model.pair import PairParameterError, PairPotential


def _alcu(seed=0, rattle=0.05):
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 1, 1))
    atoms.symbols[[1, 4]] = "Cu"
    atoms.rattle(rattle, seed=seed)
    return atoms


def _energy(pot, atoms):
    b = Batch.from_atoms(atoms, pot.type_map)
    return float(pot.evaluate(b)["energy"][0])


def test_forces_are_minus_the_energy_gradient():
    pot = PairPotential.morse_al_cu()
    atoms = _alcu()
    b = Batch.from_atoms(atoms, pot.type_map)
    forces = pot.evaluate(b)["forces"].numpy()
    h = 1e-5
    for k, a in [(0, 0), (3, 1), (5, 2)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[k, a] += h
        minus.positions[k, a] -= h
        numeric = -(_energy(pot, plus) - _energy(pot, minus)) / (2 * h)
        assert forces[k, a] == pytest.approx(numeric, abs=1e-6)


def test_virial_is_minus_the_strain_derivative():
    pot = PairPotential.morse_al_cu()
    atoms = _alcu(seed=1)
    b = Batch.from_atoms(atoms, pot.type_map)
    virial = pot.evaluate(b)["virial"][0].numpy()
    h = 1e-6
    for a, c in [(0, 0), (1, 2), (2, 1), (2, 2)]:
        vals = []
        for sign in (1, -1):
            eps = np.eye(3)
            eps[a, c] += sign * h
            strained = atoms.copy()
            strained.set_cell(atoms.cell.array @ eps, scale_atoms=False)
            strained.positions = atoms.positions @ eps
            vals.append(_energy(pot, strained))
        assert virial[a, c] == pytest.approx(-(vals[0] - vals[1]) / (2 * h), abs=1e-5)
    # ASE sign: stress = -W/V; a compressed crystal has negative stress (positive pressure).
    squeezed = atoms.copy()
    squeezed.set_cell(atoms.cell * 0.9, scale_atoms=True)
    w = pot.evaluate(Batch.from_atoms(squeezed, pot.type_map))["virial"][0]
    assert float(torch.trace(w)) > 0


def test_lennard_jones_dimer_and_smooth_cutoff():
    pot = PairPotential.lennard_jones_argon(rcut=8.5, r_on=7.5)
    eps, sig = 0.0104, 3.40

    def lj(r):
        return 4 * eps * ((sig / r) ** 12 - (sig / r) ** 6)

    def dimer(r):
        atoms = Atoms("Ar2", positions=[[0, 0, 0], [r, 0, 0]])
        out = pot.evaluate(Batch.from_atoms(atoms, pot.type_map))
        return float(out["energy"][0]), out["forces"].numpy()

    e, f = dimer(3.5)
    assert e == pytest.approx(lj(3.5) - lj(8.5), rel=1e-12)
    assert f[0, 0] == pytest.approx(-f[1, 0])
    assert f[0, 0] < 0  # repulsive inside r_min = 3.82 Å: atom 0 is pushed towards -x
    e, f = dimer(4.5)
    assert f[0, 0] > 0  # attractive beyond r_min
    for r in (8.5 - 1e-7, 8.5 + 1e-3, 9.0):
        e, f = dimer(r)
        assert abs(e) < 1e-12 and np.abs(f).max() < 1e-9


def test_batch_equals_frames_and_wider_neighbour_lists():
    pot = PairPotential.morse_al_cu()
    frames = [_alcu(seed=2), bulk("Cu", "fcc", a=3.6).repeat(2), Atoms("AlCu", positions=[[0, 0, 0], [2.5, 0, 0]])]
    frames[1].rattle(0.05, seed=3)
    batch = Batch.from_atoms(frames, pot.type_map, dtype=torch.float64)
    together = pot.evaluate(batch)
    wide = pot.evaluate(batch, neighbors=neighbor_list(batch, pot.rcut + 1.5))
    for key in ("energy", "forces", "virial"):
        torch.testing.assert_close(together[key], wide[key])
    for f, (atoms, sl) in enumerate(zip(frames, batch.frame_slices(), strict=True)):
        alone = pot.evaluate(Batch.from_atoms(atoms, pot.type_map, dtype=torch.float64))
        torch.testing.assert_close(alone["energy"][0], together["energy"][f])
        torch.testing.assert_close(alone["forces"], together["forces"][sl])
        torch.testing.assert_close(alone["virial"][0], together["virial"][f])


def test_float32_and_short_neighbour_list_rejected():
    pot = PairPotential.lennard_jones_argon()
    atoms = bulk("Ar", "fcc", a=5.3, cubic=True)
    b32 = Batch.from_atoms(atoms, pot.type_map, dtype=torch.float32)
    assert pot.evaluate(b32)["forces"].dtype == torch.float32
    with pytest.raises(ValueError, match="cutoff"):
        pot.evaluate(b32, neighbors=neighbor_list(b32, 5.0))


def test_bad_parameters():
    with pytest.raises(PairParameterError, match="missing"):
        PairPotential(["Ar"], "lj", epsilon=0.01)
    with pytest.raises(PairParameterError, match="unknown pair potential"):
        PairPotential(["Ar"], "buckingham", A=1.0)
    with pytest.raises(PairParameterError, match="no value for pairs"):
        PairPotential(["Al", "Cu"], "morse", D={("Al", "Al"): 0.3}, alpha=1.0, r0=3.0)
    with pytest.raises(PairParameterError, match="r_on"):
        PairPotential(["Ar"], "lj", rcut=5.0, r_on=6.0, epsilon=0.01, sigma=3.4)
