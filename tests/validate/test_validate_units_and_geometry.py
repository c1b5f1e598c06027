"""Unit conversions, prototype geometry, Miller-index counting, fault sequences, Voigt formulas, MSD."""

from __future__ import annotations

import numpy as np
import pytest
from ase.units import GPa, J

from pesgen.structures.alloys import PROTOTYPES, build_prototype
from pesgen.structures.crystals import crystal_at_volume
from pesgen.structures.errors import StructureSpecError
from pesgen.structures.surfaces import distinct_miller_indices
from pesgen.validate.alloys import inequivalent_sites
from pesgen.validate.config import CRYSTALS
from pesgen.validate.elastic import independent_constants, strain_matrix, voigt_moduli
from pesgen.validate.liquid import diffusion_coefficient, unwrap
from pesgen.validate.stacking import EV_PER_A2_IN_J_PER_M2, close_packed_column, fault_sequences


def test_units():
    # 1 eV/Å^2 = 1.602176634e-19 J / 1e-20 m^2 = 16.02 J/m^2; 1 eV/Å^3 = 160.2 GPa
    assert EV_PER_A2_IN_J_PER_M2 == pytest.approx(16.0217663, rel=1e-7)
    assert 1 / J * 1e20 == pytest.approx(16.0217663, rel=1e-7)
    assert 1 / GPa == pytest.approx(160.21766, rel=1e-6)


@pytest.mark.parametrize("name", CRYSTALS)
def test_crystals_have_the_asked_volume_and_coordination(name):
    atoms = crystal_at_volume("Al", name, 16.5)
    assert atoms.get_volume() / len(atoms) == pytest.approx(16.5)
    from ase.neighborlist import neighbor_list

    d = neighbor_list("d", atoms, 6.0)
    nn = d.min()
    coordination = np.sum(d < nn * 1.01) / len(atoms)
    assert coordination == {"fcc": 12, "hcp": 12, "dhcp": 12, "bcc": 8, "sc": 6, "diamond": 4}[name]


def test_unknown_crystal_is_named():
    with pytest.raises(StructureSpecError, match="wurtzite"):
        crystal_at_volume("Al", "wurtzite")


def test_distinct_miller_indices_of_cubic_and_hexagonal():
    fcc = crystal_at_volume("Al", "fcc", 16.5, cubic=True)
    assert distinct_miller_indices(fcc, 1) == [(1, 0, 0), (1, 1, 0), (1, 1, 1)]
    # the paper's Al set: all distinct surfaces with indices up to 3 (13 of them)
    assert len(distinct_miller_indices(fcc, 3)) == 13
    hcp = crystal_at_volume("Mg", "hcp", 23.0)
    low = distinct_miller_indices(hcp, 1)
    assert (0, 0, 1) in low and (1, 0, 0) in low and len(low) == 5  # (0001) {10-10} {11-20} {10-11} {11-21}


def test_fault_sequences_count_faults():
    for lattice in ("fcc", "hcp"):
        for name, (steps, _count) in fault_sequences(lattice, 12).items():
            s = np.array(steps)
            changes = int(np.sum(s != np.roll(s, -1)))
            equal = len(s) - changes
            if lattice == "fcc":  # hcp-like planes: two per ISF/TSF, one per twin boundary
                assert changes == {"perfect": 0, "isf": 2, "tsf": 2, "twin_boundary": 2}[name]
            else:  # fcc-like planes: I1 one, I2 two, E three
                assert equal == {"perfect": 0, "I1": 1, "I2": 2, "E": 3}[name]
    col = close_packed_column("Al", 2.86, 2.34, [1] * 6)
    assert len(col) == 6 and col.get_volume() == pytest.approx(np.sqrt(3) / 2 * 2.86**2 * 6 * 2.34)


def test_voigt_moduli_and_constants_of_a_cubic_matrix():
    c11, c12, c44 = 110.0, 60.0, 30.0
    c = np.zeros((6, 6))
    c[:3, :3] = c12
    np.fill_diagonal(c[:3, :3], c11)
    c[3:, 3:] = np.eye(3) * c44
    moduli = voigt_moduli(c)
    assert moduli["B_V"] == pytest.approx((c11 + 2 * c12) / 3)
    assert moduli["G_V"] == pytest.approx((c11 - c12 + 3 * c44) / 5)
    assert independent_constants(c, "cubic") == {"C11": c11, "C12": c12, "C44": c44}
    assert strain_matrix(3, 0.01)[1, 2] == pytest.approx(0.005)  # engineering shear


def test_diffusion_of_a_random_walk():
    rng = np.random.default_rng(0)
    d_true = 2e-4  # Å^2/fs
    dt = 10.0
    steps = rng.normal(scale=np.sqrt(2 * d_true * dt), size=(400, 500, 3))
    positions = np.cumsum(steps, axis=0)
    assert diffusion_coefficient(np.arange(400) * dt, positions) == pytest.approx(d_true * 1e4, rel=0.1)
    cell = np.eye(3) * 5.0
    wrapped = [p - np.floor(p / 5.0) * 5.0 for p in positions[:50]]
    np.testing.assert_allclose(unwrap(wrapped, cell) - unwrap(wrapped, cell)[0], positions[:50] - positions[0],
                               atol=1e-9)


@pytest.mark.parametrize("name", PROTOTYPES)
def test_prototypes_have_their_space_group_and_composition(name):
    import spglib

    atoms = build_prototype(name, "Al", "Mg")
    number = spglib.get_symmetry_dataset((atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)).number
    assert number == {"L1_2": 221, "L1_0": 123, "B2": 221, "D0_19": 194}[name.split("-")[0]]
    formula = name.split("-")[1]
    n_al = atoms.get_chemical_symbols().count("Al") / len(atoms)
    assert n_al == {"A3B": 0.75, "AB3": 0.25, "AB": 0.5}[formula]
    assert len(inequivalent_sites(atoms)) == {"L1_2": 2, "L1_0": 2, "B2": 2, "D0_19": 2}[name.split("-")[0]]
