"""Symmetries a potential energy surface must have: translation, rotation, permutation of like
atoms, choice of periodic image and of cell, extensivity."""

from __future__ import annotations

import numpy as np
import torch
from ase.build import make_supercell
from model_testkit import alcu_cell
from scipy.spatial.transform import Rotation


def _efv(model, atoms):
    out = model.evaluate(atoms)
    return out["energy"].item(), out["forces"].numpy(), out["virial"][0].numpy()


def test_translation(model):
    atoms = alcu_cell(seed=11)
    e0, f0, v0 = _efv(model, atoms)
    moved = atoms.copy()
    moved.positions += np.array([0.37, -1.21, 2.9])
    e1, f1, v1 = _efv(model, moved)
    assert abs(e1 - e0) < 1e-10
    np.testing.assert_allclose(f1, f0, atol=1e-10)
    np.testing.assert_allclose(v1, v0, atol=1e-10)


def test_rotation(model):
    atoms = alcu_cell(seed=12)
    e0, f0, v0 = _efv(model, atoms)
    rot = Rotation.from_euler("zyx", [33.0, -71.0, 12.0], degrees=True).as_matrix()
    turned = atoms.copy()
    turned.set_cell(atoms.cell.array @ rot.T, scale_atoms=False)
    turned.positions = atoms.positions @ rot.T
    e1, f1, v1 = _efv(model, turned)
    assert abs(e1 - e0) < 1e-9
    np.testing.assert_allclose(f1, f0 @ rot.T, atol=1e-9)
    np.testing.assert_allclose(v1, rot @ v0 @ rot.T, atol=1e-9)
    assert np.abs(f0).max() > 1e-3, "forces too small for the test to mean anything"


def test_permutation_of_like_atoms(model):
    atoms = alcu_cell(seed=13)
    e0, f0, _ = _efv(model, atoms)
    perm = np.random.default_rng(0).permutation(len(atoms))
    shuffled = atoms[perm]
    e1, f1, _ = _efv(model, shuffled)
    assert abs(e1 - e0) < 1e-10
    np.testing.assert_allclose(f1, f0[perm], atol=1e-10)


def test_unlike_species_swap_changes_energy(model):
    atoms = alcu_cell(seed=13)
    e0, _, _ = _efv(model, atoms)
    symbols = atoms.get_chemical_symbols()
    k_al, k_cu = symbols.index("Al"), symbols.index("Cu")
    symbols[k_al], symbols[k_cu] = "Cu", "Al"
    swapped = atoms.copy()
    swapped.set_chemical_symbols(symbols)
    e1, _, _ = _efv(model, swapped)
    assert abs(e1 - e0) > 1e-6


def test_periodic_image_choice(model):
    atoms = alcu_cell(seed=14)
    e0, f0, v0 = _efv(model, atoms)
    shifted = atoms.copy()
    shifts = np.random.default_rng(1).integers(-2, 3, size=(len(atoms), 3))
    shifted.positions += shifts @ atoms.cell.array
    e1, f1, v1 = _efv(model, shifted)
    assert abs(e1 - e0) < 1e-9
    np.testing.assert_allclose(f1, f0, atol=1e-9)
    np.testing.assert_allclose(v1, v0, atol=1e-9)


def test_equivalent_cell(model):
    atoms = alcu_cell(seed=15)
    e0, f0, v0 = _efv(model, atoms)
    a, b, c = atoms.cell.array
    skewed = atoms.copy()
    skewed.set_cell([a, b + a, c - 2 * b], scale_atoms=False)  # same lattice, unimodular change
    skewed.wrap()
    e1, f1, v1 = _efv(model, skewed)
    assert abs(e1 - e0) < 1e-9
    np.testing.assert_allclose(f1, f0, atol=1e-9)
    np.testing.assert_allclose(v1, v0, atol=1e-9)


def test_extensivity(model):
    atoms = alcu_cell(seed=16)
    e0, f0, v0 = _efv(model, atoms)
    big = atoms.repeat((2, 2, 2))
    e1, f1, v1 = _efv(model, big)
    assert abs(e1 - 8 * e0) < 1e-8 * max(1.0, abs(e1))
    np.testing.assert_allclose(f1, np.tile(f0, (8, 1)), atol=1e-9)
    np.testing.assert_allclose(v1, 8 * v0, atol=1e-8)


def test_cell_smaller_than_cutoff(model):
    """A 1-atom primitive fcc cell (edges 2.9 Å < rcut = 5 Å) equals a large supercell per atom."""
    from ase.build import bulk

    prim = bulk("Al", "fcc", a=4.05)
    big = make_supercell(prim, np.diag([4, 4, 4]))
    e_prim, f_prim, v_prim = _efv(model, prim)
    e_big, f_big, v_big = _efv(model, big)
    assert abs(e_big / len(big) - e_prim) < 1e-9
    assert np.abs(f_big).max() < 1e-9
    np.testing.assert_allclose(v_big / len(big), v_prim, atol=1e-9)
    # a strained, two-atom cell too
    hcp = bulk("Al", "hcp", a=2.86, c=4.67)
    hcp.set_chemical_symbols(["Al", "Cu"])
    e_small, *_ = _efv(model, hcp)
    e_large, *_ = _efv(model, hcp.repeat((3, 3, 2)))
    assert abs(e_large / 18 - e_small) < 1e-9


def test_cluster_and_mixed_pbc(model):
    atoms = alcu_cell(seed=17)
    cluster = atoms.copy()
    cluster.pbc = False
    e_cluster, f_cluster, _ = _efv(model, cluster)
    np.testing.assert_allclose(f_cluster.sum(0), 0.0, atol=1e-9)  # no external field: momentum kept
    cluster.positions += 100.0  # far outside the cell: irrelevant without periodicity
    e_moved, *_ = _efv(model, cluster)
    assert abs(e_moved - e_cluster) < 1e-9
    slab = atoms.copy()
    slab.pbc = [True, True, False]
    e_slab, *_ = _efv(model, slab)
    e_bulk, *_ = _efv(model, atoms)
    assert len({round(e, 6) for e in (e_cluster, e_slab, e_bulk)}) == 3
    # a slab is periodic in-plane: images along z do not interact however close
    slab2 = slab.copy()
    slab2.positions[:, 2] += 3 * np.asarray(slab.cell[2])[2]
    e_slab2, *_ = _efv(model, slab2)
    assert abs(e_slab2 - e_slab) < 1e-9


def test_batch_of_mixed_frames_equals_single_frames(model):
    from ase.build import bulk

    frames = [alcu_cell(seed=18), bulk("Al", "fcc", a=4.05), alcu_cell(seed=19, repeat=1)]
    frames[2].pbc = False
    out = model.evaluate(frames)
    start = 0
    for k, atoms in enumerate(frames):
        single = model.evaluate(atoms)
        assert torch.allclose(out["energy"][k], single["energy"][0], atol=1e-10)
        assert torch.allclose(out["forces"][start:start + len(atoms)], single["forces"], atol=1e-10)
        start += len(atoms)


def test_slab_without_third_cell_vector(model):
    """ASE allows a zero cell vector along a non-periodic direction; it equals a slab with vacuum."""
    atoms = alcu_cell(seed=24)
    atoms.pbc = [True, True, False]
    flat = atoms.copy()
    flat.cell[2] = [0.0, 0.0, 0.0]
    e_vac, f_vac, _ = _efv(model, atoms)
    e_flat, f_flat, _ = _efv(model, flat)
    assert abs(e_flat - e_vac) < 1e-9
    np.testing.assert_allclose(f_flat, f_vac, atol=1e-9)
