"""The labeled-frame store: exact round trips, provenance, failed labels, errors, speed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import ase.db
import numpy as np
import pytest
from ase.build import bulk
from emt_labeled_frames import emt_frames

from pesgen.data.provenance import Provenance
from pesgen.data.store import Store, StoreError


def assert_same_frame(atoms, frame, stress_rtol=0.0):
    np.testing.assert_array_equal(atoms.numbers, frame.atoms.numbers)
    np.testing.assert_array_equal(atoms.positions, frame.atoms.positions)
    np.testing.assert_array_equal(atoms.cell.array, frame.atoms.cell.array)
    np.testing.assert_array_equal(atoms.pbc, frame.atoms.pbc)
    assert atoms.calc.results["energy"] == frame.energy
    np.testing.assert_array_equal(atoms.calc.results["forces"], frame.forces)
    if frame.stress is None:
        assert "stress" not in atoms.calc.results
    elif stress_rtol == 0.0:
        np.testing.assert_array_equal(atoms.calc.results["stress"], frame.stress)
    else:
        np.testing.assert_allclose(atoms.calc.results["stress"], frame.stress, rtol=stress_rtol,
                                   atol=1e-16)
    assert atoms.info["provenance"] == frame.provenance


def test_round_trip_is_exact_for_mixed_sizes_and_compositions(tmp_path):
    frames = emt_frames(10)
    path = tmp_path / "store.db"
    store = Store(path)
    ids = [store.add(*frames[0])] + store.add_many(frames[1:])
    assert ids == sorted(ids) and len(set(ids)) == 10
    reread = Store(path).frames()  # a fresh object: read from the file
    assert len(reread) == 10 == len(Store(path, readonly=True))
    assert {len(a) for a in reread} == {4, 8}
    assert len({a.get_chemical_formula() for a in reread}) >= 4
    for atoms, frame, row_id in zip(reread, frames, ids, strict=True):
        assert atoms.info["id"] == row_id
        assert_same_frame(atoms, frame)
        # the calculator answers the ASE way
        assert atoms.get_potential_energy() == frame.energy


def test_stress_given_as_3x3_is_stored_as_voigt(tmp_path):
    frame = emt_frames(1)[0]
    s = frame.stress
    full = np.array([[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]])
    store = Store(tmp_path / "s.db")
    store.add(frame.atoms, frame.energy, frame.forces, stress=full)
    np.testing.assert_array_equal(store.frames()[0].get_stress(), s)
    with pytest.raises(StoreError, match="not symmetric"):
        store.add(frame.atoms, frame.energy, frame.forces, stress=full + np.triu(np.ones((3, 3))))


def test_provenance_round_trip_and_ase_db_queries(tmp_path):
    path = tmp_path / "prov.db"
    store = Store(path)
    atoms = bulk("Cu", "fcc", a=3.6)
    forces = np.zeros((1, 3))
    provs = [
        Provenance(),
        Provenance(iteration=2, origin="explored", system="fcc-Cu", temperature=600.5,
                   pressure=1000.0, walker=7, step=1234, deviation=0.17, labeler="emt",
                   labeler_hash="9f2c", wall_time=1.25, task_id="it2-w7-s1234"),
        # strings that ase.db would otherwise refuse or misread as numbers / booleans
        Provenance(iteration=3, origin="explored", system="12", labeler="True",
                   labeler_hash="1e5", task_id="42"),
        Provenance(iteration=3, origin="imported", system="str:odd", task_id=""),
    ]
    for i, prov in enumerate(provs):
        store.add(atoms, -3.0 - i, forces, provenance=prov)
    assert [a.info["provenance"] for a in Store(path, readonly=True).frames()] == provs
    assert Store(path).task_ids() == {"it2-w7-s1234", "42", ""}
    assert [a.info["provenance"] for a in store.frames(iteration=3)] == provs[2:]
    assert [a.info["provenance"] for a in store.frames(origin="explored")] == provs[1:3]
    assert [a.info["provenance"] for a in store.frames(iteration=3, origin="imported")] == provs[3:]
    # the provenance is queryable with ase.db itself
    db = ase.db.connect(path)
    assert db.count(origin="explored") == 2
    assert db.count("iteration>=2") == 3
    assert db.get(walker=7).temperature == 600.5


def test_failed_labels_are_recorded_but_never_training_data(tmp_path):
    frames = emt_frames(4, iteration=1)
    store = Store(tmp_path / "f.db")
    store.add_many(frames[:2])
    fid = store.add_failed(frames[2].atoms, "SCF did not converge after 100 steps\ndetails...",
                           Provenance(iteration=1, labeler="gpaw", task_id="bad-1"))
    store.add(*frames[3])
    assert len(store) == 3 and store.count_failed() == 1
    training = store.frames()
    assert len(training) == 3 and all(a.info["id"] != fid for a in training)
    assert all("failed_reason" not in a.info for a in training)
    assert len(store.frames(iteration=1)) == 3
    everything = store.frames(include_failed=True)
    assert [a.info["id"] for a in everything] == sorted(a.info["id"] for a in everything)
    (failed_atoms,) = [a for a in everything if a.info["id"] == fid]
    assert failed_atoms.calc is None
    assert failed_atoms.info["failed_reason"].startswith("SCF did not converge")
    ((atoms, reason, prov),) = store.failed()
    np.testing.assert_array_equal(atoms.positions, frames[2].atoms.positions)
    assert reason == "SCF did not converge after 100 steps\ndetails..."
    assert prov.labeler == "gpaw"
    assert "bad-1" in store.task_ids() and frames[0].provenance.task_id in store.task_ids()


def test_bad_item_in_add_many_writes_nothing(tmp_path):
    frames = emt_frames(5)
    store = Store(tmp_path / "s.db")
    store.add(*frames[0])
    bad = list(frames[1:])
    bad[2] = bad[2]._replace(forces=np.zeros((2, 3)))
    with pytest.raises(StoreError, match=r"frame 2 task_id='t0-3'.*forces must have shape"):
        store.add_many(bad)
    nan_energy = [frames[1], frames[2]._replace(energy=float("nan"))]
    with pytest.raises(StoreError, match="energy is not finite"):
        store.add_many(nan_energy)
    with pytest.raises(StoreError, match="provenance.iteration must be an integer"):
        store.add_many([frames[1]._replace(provenance=Provenance(iteration=1.5))])
    assert len(store) == 1


def test_sqlite_failure_mid_transaction_rolls_back(tmp_path):
    """A failure inside the transaction (here: the database is locked by another connection)
    leaves none of the batch behind."""
    path = tmp_path / "s.db"
    store = Store(path, timeout=0.2)
    frames = emt_frames(3)
    store.add(*frames[0])
    blocker = sqlite3.connect(path)
    blocker.execute("BEGIN IMMEDIATE")  # hold the write lock
    try:
        with pytest.raises(StoreError, match="locked"):
            store.add_many(frames[1:])
    finally:
        blocker.rollback()
        blocker.close()
    assert len(store) == 1
    store.add_many(frames[1:])
    assert len(store) == 3


def test_wal_mode_and_readonly(tmp_path):
    path = tmp_path / "s.db"
    assert Store(path).journal_mode == "wal"
    assert Store(tmp_path / "plain.db", wal=False).journal_mode == "delete"
    ro = Store(path, readonly=True)
    assert len(ro) == 0
    frame = emt_frames(1)[0]
    with pytest.raises(StoreError, match="read-only"):
        ro.add(*frame)
    with pytest.raises(StoreError, match="read-only"):
        ro.add_failed(frame.atoms, "x")


def test_clear_errors_for_missing_corrupt_and_foreign_files(tmp_path):
    missing = tmp_path / "nope.db"
    with pytest.raises(StoreError, match=f"{missing}: store file does not exist"):
        Store(missing, readonly=True)
    assert not missing.exists()
    with pytest.raises(StoreError, match="folder .* does not exist"):
        Store(tmp_path / "no-such-dir" / "s.db")
    with pytest.raises(StoreError, match="is a folder"):
        Store(tmp_path)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 100)
    for readonly in (False, True):
        with pytest.raises(StoreError, match=f"{garbage}: not an SQLite database"):
            Store(garbage, readonly=readonly)
    assert garbage.read_bytes().startswith(b"this is not")  # untouched
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match=f"{foreign}: an SQLite database, but not an ase.db store"):
        Store(foreign)
    # a store whose pages were damaged
    damaged = tmp_path / "damaged.db"
    store = Store(damaged, wal=False)
    store.add_many(emt_frames(40))
    raw = bytearray(damaged.read_bytes())
    raw[4096:len(raw) - 4096] = b"\xff" * (len(raw) - 8192)
    damaged.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match=f"{damaged}: .*(malformed|corrupt|not a database)"):
        s = Store(damaged, readonly=True)
        s.frames()
        s.check()


def test_fast_reader_agrees_with_ase_rows(tmp_path):
    path = tmp_path / "s.db"
    store = Store(path)
    store.add_many(emt_frames(6))
    store.add_failed(emt_frames(1)[0].atoms, "oops")
    db = ase.db.connect(path)
    for atoms in store.frames(include_failed=True):
        ref = db.get(id=atoms.info["id"]).toatoms()
        np.testing.assert_array_equal(atoms.numbers, ref.numbers)
        np.testing.assert_array_equal(atoms.positions, ref.positions)
        np.testing.assert_array_equal(atoms.cell.array, ref.cell.array)
        np.testing.assert_array_equal(atoms.pbc, ref.pbc)
        if ref.calc is None or "energy" not in ref.calc.results:
            assert atoms.calc is None
            continue
        for key in ("energy", "forces", "stress"):
            if key in ref.calc.results:
                np.testing.assert_array_equal(atoms.calc.results[key], ref.calc.results[key])


def test_ase_db_command_line_can_browse_the_store(tmp_path):
    path = tmp_path / "s.db"
    Store(path).add_many(emt_frames(5))
    out = subprocess.run([sys.executable, "-m", "ase", "db", str(path), "origin=explored",
                          "-c", "id,formula,iteration,labeler"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Rows: 2" in out.stdout and "emt" in out.stdout


@pytest.mark.slow
def test_frames_of_ten_thousand_frames_is_fast(tmp_path):
    rng = np.random.default_rng(0)
    base = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 2, 2))
    items = []
    for i in range(10_000):
        atoms = base.copy()
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        items.append((atoms, -100.0 + rng.normal(), rng.normal(size=(32, 3)),
                      rng.normal(size=6), Provenance(iteration=i % 5, labeler="emt",
                                                     task_id=f"t{i}")))
    store = Store(tmp_path / "big.db")
    t0 = time.perf_counter()
    store.add_many(items)
    t_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    frames = store.frames()
    t_read = time.perf_counter() - t0
    print(f"\nadd_many 10^4 x 32 atoms: {t_write:.2f} s; frames(): {t_read:.2f} s")
    assert len(frames) == 10_000
    np.testing.assert_array_equal(frames[-1].positions, items[-1][0].positions)
    assert t_read < 5.0
