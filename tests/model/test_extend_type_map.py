"""Extending a trained ensemble to a new species: the old species' predictions are unchanged on
structures without the new one, the new species' bias fits its energies, bad requests are named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from pesgen.model.deeppot import DeepPot
from pesgen.model.ensemble import Ensemble
from pesgen.model.extend import TypeMapError, extend_type_map


def _frames(symbols_of, n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 1, 1))
        atoms.set_chemical_symbols(symbols_of(k, len(atoms)))
        atoms.rattle(0.08, seed=int(rng.integers(1 << 30)))
        atoms.calc = EMT()
        e, f = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f)
        out.append(atoms)
    return out


def _ensemble(type_one_side=True):
    hyper = dict(rcut=4.5, rcut_smth=1.0, neuron=[6, 12], axis_neuron=4, fitting_neuron=[10, 10],
                 type_one_side=type_one_side)
    ens = Ensemble([DeepPot(type_map=["Al"], seed=s, **hyper) for s in range(3)])
    ens.compute_statistics(_frames(lambda k, n: ["Al"] * n, 6, 0), auto_sel=True)
    return ens


@pytest.mark.parametrize("one_side", [True, False])
def test_old_species_predictions_unchanged(one_side):
    ens = _ensemble(one_side)
    alloy = _frames(lambda k, n: ["Al", "Cu"] * (n // 2), 6, 1)
    ext = extend_type_map(ens, ["Cu", "Al"], alloy, seed=5)     # another order, too
    assert ext.type_map == ["Cu", "Al"] and ext.module.hyper.sel[1] == ens.module.hyper.sel[0]
    pure = _frames(lambda k, n: ["Al"] * n, 4, 2)
    a, b = ens.evaluate(pure), ext.evaluate(pure)
    for key in ("energy_members", "forces_members", "virial_members"):
        torch.testing.assert_close(b[key], a[key], rtol=1e-10, atol=1e-10)
    # the new species is seen: the alloy's predictions move with its own nets
    assert ext.module.hyper.sel[0] > 0


def test_new_bias_fits_the_alloy_energies():
    ens = _ensemble()
    alloy = _frames(lambda k, n: ["Al"] * (n - 1 - k % 3) + ["Cu"] * (1 + k % 3), 9, 3)
    ext = extend_type_map(ens, ["Al", "Cu"], alloy)
    e_pred = ext.evaluate(alloy)["energy_members"].numpy()
    e_true = np.array([a.get_potential_energy() for a in alloy])
    cu = np.array([a.get_chemical_symbols().count("Cu") for a in alloy])
    residual = e_true[None, :] - e_pred
    assert np.allclose(residual @ cu, 0.0, atol=1e-6)            # least squares: residual ⟂ Cu counts
    naive = e_true[None, :] - (e_pred - ext.energy_bias()[:, 1:2] * cu[None, :])
    assert np.abs(residual).mean() < np.abs(naive).mean() / 3    # the bias carries the Cu energy (fresh nets: scatter)
    assert ext.metadata["type_map_history"][-1]["added"] == ["Cu"] and ext.metadata["type_map_history"][-1]["exact"]


def test_bad_extensions_named():
    ens = _ensemble()
    with pytest.raises(TypeMapError, match=r"lacks \['Al'\]"):
        extend_type_map(ens, ["Cu"], _frames(lambda k, n: ["Cu"] * n, 2, 4))
    with pytest.raises(TypeMapError, match=r"no labelled frame holds \['Cu'\]"):
        extend_type_map(ens, ["Al", "Cu"], _frames(lambda k, n: ["Al"] * n, 2, 4))
