"""extxyz export/import with provenance; files ase.io reads (ASE trajectories); bad files."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT
from ase.io import write
from emt_labeled_frames import emt_frames

from pesgen.data.errors import DataImportError
from pesgen.data.exporters import export_frames
from pesgen.data.importers import import_into_store, read_labeled
from pesgen.data.provenance import Provenance
from pesgen.data.store import Store


def test_extxyz_round_trip_keeps_labels_and_provenance(tmp_path):
    frames = emt_frames(10)
    frames[3] = frames[3]._replace(provenance=frames[3].provenance.replace(
        system="7", labeler_hash="1e3", task_id="17"))  # number-like strings stay strings
    store = Store(tmp_path / "a.db")
    store.add_many(frames)
    out = tmp_path / "frames.xyz"
    export_frames(store.frames(), out, "extxyz")
    back = read_labeled(out)
    assert len(back) == len(frames)
    for got, ref in zip(back, frames, strict=True):
        np.testing.assert_array_equal(got.atoms.numbers, ref.atoms.numbers)
        np.testing.assert_array_equal(got.atoms.pbc, ref.atoms.pbc)
        np.testing.assert_allclose(got.atoms.positions, ref.atoms.positions, atol=1e-8, rtol=0)
        np.testing.assert_allclose(got.atoms.cell.array, ref.atoms.cell.array, atol=1e-8, rtol=0)
        np.testing.assert_allclose(got.forces, ref.forces, atol=1e-8, rtol=0)
        assert got.energy == pytest.approx(ref.energy, abs=1e-10)
        if ref.stress is None:
            assert got.stress is None
        else:
            np.testing.assert_allclose(got.stress, ref.stress, atol=1e-12, rtol=0)
        assert got.provenance == ref.provenance
    # importing the export into the same store adds nothing (same task ids)
    (result,) = import_into_store(store, [out])
    assert (result.read, result.added, result.skipped) == (10, 0, 10)


def test_extxyz_without_provenance_and_with_a_virial_key(tmp_path):
    frame = emt_frames(1)[0]
    atoms = frame.atoms.copy()
    atoms.info["energy"] = frame.energy
    atoms.info["virial"] = " ".join(str(x) for x in (-atoms.get_volume() * np.array(
        [[frame.stress[0], frame.stress[5], frame.stress[4]],
         [frame.stress[5], frame.stress[1], frame.stress[3]],
         [frame.stress[4], frame.stress[3], frame.stress[2]]])).reshape(-1))
    atoms.arrays["forces"] = frame.forces
    path = tmp_path / "plain.xyz"
    write(path, atoms, format="extxyz")
    (got,) = read_labeled(path, provenance=Provenance(iteration=2, labeler="dft"))
    assert got.provenance == Provenance(iteration=2, labeler="dft", system="plain")
    assert got.energy == pytest.approx(frame.energy, abs=1e-12)
    np.testing.assert_allclose(got.stress, frame.stress, rtol=1e-10, atol=1e-14)


def test_ase_trajectory_import(tmp_path):
    """A format ase.io reads and writes with its calculator results: the ASE trajectory."""
    images = []
    for frame in emt_frames(6):
        atoms = frame.atoms.copy()
        atoms.calc = EMT()
        atoms.get_potential_energy()
        atoms.get_forces()
        images.append(atoms)
    path = tmp_path / "md.traj"
    write(path, images)
    store = Store(tmp_path / "s.db")
    (result,) = import_into_store(store, [path], provenance=Provenance(labeler="emt"))
    assert result.added == 6
    for got, ref in zip(store.frames(), images, strict=True):
        np.testing.assert_array_equal(got.positions, ref.positions)
        assert got.get_potential_energy() == ref.get_potential_energy()
        np.testing.assert_array_equal(got.get_forces(), ref.get_forces())
        assert got.info["provenance"].system == "md"
        assert got.info["provenance"].labeler == "emt"


def test_unreadable_or_unlabeled_files_are_named(tmp_path):
    garbage = tmp_path / "junk.dat"
    garbage.write_bytes(b"\x00\x01not a structure file\xff" * 10)
    with pytest.raises(DataImportError, match=f"{garbage}: cannot read"):
        read_labeled(garbage)
    with pytest.raises(DataImportError, match=f"{tmp_path / 'missing.xyz'}: no such file"):
        read_labeled(tmp_path / "missing.xyz")
    unlabeled = tmp_path / "bare.xyz"
    frame = emt_frames(1)[0]
    write(unlabeled, [frame.atoms, frame.atoms], format="extxyz")
    with pytest.raises(DataImportError, match=f"{unlabeled}: frame 0: no energy"):
        read_labeled(unlabeled)
    bad_xyz = tmp_path / "bad.xyz"
    bad_xyz.write_text("3\nLattice=\"1 0 0 0 1 0 0 0 1\"\nAl 0 0\n")
    with pytest.raises(DataImportError, match=f"{bad_xyz}: cannot read as extxyz"):
        read_labeled(bad_xyz)
    with pytest.raises(DataImportError, match=f"{garbage}: cannot read as format 'vasp-out'"):
        read_labeled(garbage, fmt="ase:vasp-out")
    # a bad file among good ones: nothing is written
    good = tmp_path / "good.xyz"
    Store(tmp_path / "tmp.db").add_many(emt_frames(2))
    export_frames(Store(tmp_path / "tmp.db").frames(), good, "extxyz")
    store = Store(tmp_path / "s.db")
    with pytest.raises(DataImportError, match="bare.xyz"):
        import_into_store(store, [good, unlabeled])
    assert len(store) == 0


def test_dpdata_formats_without_dpdata_give_a_clear_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "dpdata", None)  # as if dpdata were not installed
    outcar = tmp_path / "OUTCAR"
    outcar.write_text("x")
    with pytest.raises(DataImportError, match=rf"{outcar}: format 'dpdata:vasp/outcar' needs "
                                              r"dpdata; install it with: pip install 'pesgen\[dpdata\]'"):
        read_labeled(outcar, fmt="dpdata:vasp/outcar")
