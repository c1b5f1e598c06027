"""Forces are -dE/dx, stress is dE/dstrain / V, and the energy is smooth where neighbours cross rcut."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from model_testkit import alcu_cell

from pesgen.calculator import PesgenCalculator


def test_forces_are_minus_energy_gradient(model):
    atoms = alcu_cell(seed=21)
    forces = model.evaluate(atoms)["forces"].numpy()
    h = 1e-5
    rng = np.random.default_rng(0)
    for k in rng.choice(len(atoms), size=5, replace=False):
        for a in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[k, a] += h
            minus.positions[k, a] -= h
            fd = -(model.evaluate(plus)["energy"].item() - model.evaluate(minus)["energy"].item()) / (2 * h)
            assert abs(fd - forces[k, a]) < 1e-7 * max(1.0, abs(fd)), (k, a, fd, forces[k, a])
    assert np.abs(forces).max() > 1e-3


def test_stress_by_finite_strain(model):
    atoms = alcu_cell(seed=22)
    atoms.calc = PesgenCalculator(model)
    stress = atoms.get_stress(voigt=False)
    volume = atoms.get_volume()
    h = 1e-6
    numeric = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            eps = np.zeros((3, 3))
            eps[a, b] = h
            energies = []
            for sign in (1, -1):
                strained = atoms.copy()
                deform = np.eye(3) + sign * eps
                strained.set_cell(atoms.cell.array @ deform.T, scale_atoms=True)
                energies.append(model.evaluate(strained)["energy"].item())
            numeric[a, b] = (energies[0] - energies[1]) / (2 * h) / volume
    numeric = 0.5 * (numeric + numeric.T)
    np.testing.assert_allclose(stress, numeric, atol=1e-8)
    assert np.abs(stress).max() > 1e-5


def test_virial_of_cluster_is_sum_of_r_times_f(model):
    """Without periodicity W = sum_i x_i ⊗ f_i (the virial theorem form DeePMD-kit uses)."""
    atoms = alcu_cell(seed=23)
    atoms.pbc = False
    out = model.evaluate(atoms)
    w = out["virial"][0].numpy()
    x, f = atoms.positions, out["forces"].numpy()
    np.testing.assert_allclose(w, x.T @ f, atol=1e-9)


def test_energy_smooth_across_cutoff(model):
    """A dimer pulled through rcut: E, dE/dr continuous; E flat beyond rcut."""
    rcut = model.rcut
    rs = np.linspace(rcut - 0.3, rcut + 0.3, 241)
    energies, forces = [], []
    for r in rs:
        dimer = Atoms("AlCu", positions=[[0, 0, 0], [r, 0, 0]], pbc=False)
        out = model.evaluate(dimer)
        energies.append(out["energy"].item())
        forces.append(out["forces"][1, 0].item())
    energies, forces = np.array(energies), np.array(forces)
    beyond = rs >= rcut
    assert np.ptp(energies[beyond]) < 1e-12
    assert np.abs(forces[beyond]).max() < 1e-12
    de = np.abs(np.diff(energies))
    step = rs[1] - rs[0]
    assert de.max() < 50 * step * np.abs(forces).max() + 1e-12  # no jump
    # the force itself goes to zero continuously as r -> rcut from below
    just_below = (rs < rcut) & (rs > rcut - 0.01)
    assert np.abs(forces[just_below]).max() < 1e-4
    assert np.abs(forces[rs < rcut - 0.2]).max() > 1e-5  # the dimer does interact inside


def test_switching_function_derivatives():
    import torch

    from pesgen.model.env import switching

    r = torch.linspace(0.0, 7.0, 7001, dtype=torch.float64, requires_grad=True)
    w = switching(r, 1.0, 6.0)
    (dw,) = torch.autograd.grad(w.sum(), r, create_graph=True)
    (d2w,) = torch.autograd.grad(dw.sum(), r)
    assert torch.all(w[r <= 1.0] == 1.0) and torch.all(w[r >= 6.0] == 0.0)
    assert dw.abs()[(r - 6.0).abs() < 2e-3].max() < 1e-6
    assert d2w.abs()[(r - 6.0).abs() < 2e-3].max() < 1e-2
    assert torch.all(dw <= 1e-15)  # monotonic
