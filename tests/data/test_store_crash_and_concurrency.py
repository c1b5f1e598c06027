"""A writer SIGKILLed at random moments leaves a valid store with every frame fully in or absent;
readers read consistent snapshots while a writer appends. Both use real subprocesses."""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from pesgen.data.provenance import Provenance
from pesgen.data.store import Store

BATCH = 5

WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from ase import Atoms
    from pesgen.data.provenance import Provenance
    from pesgen.data.store import Store

    path, first, last, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    store = Store(path)
    for k in range(first, last):
        items = []
        for j in range({batch}):
            rng = np.random.default_rng(k * {batch} + j)
            n = 2 + (k + j) % 7
            pos = rng.random((n, 3)) * 5.0
            atoms = Atoms(numbers=[13] * n, positions=pos, cell=np.eye(3) * 5.0, pbc=True)
            items.append((atoms, float(pos.sum()), -pos, rng.normal(size=6),
                          Provenance(iteration=k, task_id=f"b{{k}}-{{j}}")))
        store.add_many(items)
        store.add_failed(items[0][0], f"reason of batch {{k}}", Provenance(iteration=k,
                                                                       task_id=f"f{{k}}"))
        if k == first:
            print("ready", flush=True)
        if pause:
            time.sleep(pause)
""").format(batch=BATCH)


def expected_frame(k: int, j: int):
    rng = np.random.default_rng(k * BATCH + j)
    n = 2 + (k + j) % 7
    pos = rng.random((n, 3)) * 5.0
    return pos, float(pos.sum()), rng.normal(size=6)


def check_frames(frames) -> Counter:
    """Every frame is complete and exactly as written; returns frames per batch."""
    per_batch: Counter = Counter()
    for atoms in frames:
        prov = atoms.info["provenance"]
        k, j = (int(x) for x in prov.task_id[1:].split("-"))
        assert prov.iteration == k
        pos, energy, stress = expected_frame(k, j)
        np.testing.assert_array_equal(atoms.positions, pos)
        assert atoms.calc.results["energy"] == energy
        np.testing.assert_array_equal(atoms.calc.results["forces"], -pos)
        np.testing.assert_array_equal(atoms.calc.results["stress"], stress)
        per_batch[k] += 1
    return per_batch


def start_writer(script, path, first, last, pause):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(script), str(path), str(first), str(last),
                             str(pause)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


@pytest.mark.slow
def test_writer_killed_at_random_moments_leaves_complete_frames(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    path = tmp_path / "store.db"
    rng = np.random.default_rng(1)
    totals = []
    for round_ in range(6):
        proc = start_writer(script, path, 1000 * round_, 1000 * round_ + 1000, 0.0)
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read()
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL  # it was still writing when killed
        store = Store(path)  # opens (and recovers) the store after the kill
        store.check()
        per_batch = check_frames(store.frames())
        assert set(per_batch.values()) == {BATCH}, "a batch was partly written"
        failed = store.failed()
        for _, reason, prov in failed:
            assert reason == f"reason of batch {prov.iteration}"
        assert {p.iteration for _, _, p in failed} <= set(per_batch)
        totals.append(len(store))
    assert totals == sorted(totals) and totals[0] > 0
    assert len(set(totals)) == len(totals)  # every round added frames


def test_readers_see_consistent_snapshots_while_a_writer_appends(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    path = tmp_path / "store.db"
    Store(path)  # create it, so the reader can open it read-only right away
    n_batches = 60
    proc = start_writer(script, path, 0, n_batches, 0.03)  # a pause per batch: a slow, loaded reader still sees many
    reader = Store(path, readonly=True)
    counts = []
    reads = 0
    while proc.poll() is None:
        frames = reader.frames()
        per_batch = check_frames(frames)
        assert set(per_batch.values()) <= {BATCH}
        counts.append(len(frames))
        reads += 1
    assert proc.returncode == 0, proc.stderr.read()
    assert counts == sorted(counts)
    assert len(set(counts)) > 3, f"the reader saw too few states of the store: {set(counts)}"
    final = reader.frames()
    assert len(final) == n_batches * BATCH == len(reader)
    assert check_frames(final) == Counter({k: BATCH for k in range(n_batches)})
    assert reader.count_failed() == n_batches


def open_store_files() -> list[str]:
    """The store files (``store.db`` and its -wal/-shm) this process has open (Linux /proc)."""
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            names.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # the descriptor listdir itself used
            pass
    return sorted(n for n in names if "store.db" in n)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux /proc")
def test_no_connection_outlives_an_operation(tmp_path):
    """Every store operation closes its connection: one left to the garbage collector holds
    locks that another open()/close() of the file in this process cancels (see the next test)."""
    gc.disable()  # what a connection in a reference cycle relies on
    try:
        store = Store(tmp_path / "store.db")
        assert open_store_files() == []
        store.add_many([(Atoms("Al", cell=np.eye(3) * 4.0, pbc=True), -3.0, np.zeros((1, 3)),
                         None, Provenance(task_id="a"))])
        len(store), store.task_ids(), store.frames(), store.check()
        Store(tmp_path / "store.db", readonly=True).frames()
        assert open_store_files() == []
    finally:
        gc.enable()


def test_opening_a_store_keeps_the_locks_of_open_connections(tmp_path):
    """Opening a Store never open()s and close()s the file itself: that cancels every POSIX lock
    this process holds on it (SQLite's "How To Corrupt", section 2.2), and a process closing its
    connection then takes itself for the last one and deletes the -wal and -shm files that this
    process's open connection still uses."""
    path = tmp_path / "store.db"
    Store(path)  # WAL mode
    con = sqlite3.connect(path)
    con.execute("SELECT COUNT(*) FROM systems").fetchall()  # holds its shared lock from now on
    Store(path, readonly=True)
    other = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
             "c.execute('SELECT 1 FROM systems').fetchall(); c.close()")
    subprocess.run([sys.executable, "-c", other, str(path)], check=True, timeout=120)
    assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists(), \
        "another process deleted the WAL files under an open connection"
    con.close()


def test_readers_see_consistent_snapshots_with_the_garbage_collector_off(tmp_path):
    """The snapshot test with no garbage collection: a connection that only the collector would
    close stays open throughout (before the fix, most reads here were "database disk image is
    malformed")."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    path = tmp_path / "store.db"
    gc.disable()
    try:
        Store(path)
        proc = start_writer(script, path, 0, 30, 0.03)
        reader = Store(path, readonly=True)
        while proc.poll() is None:
            assert set(check_frames(reader.frames()).values()) <= {BATCH}
    finally:
        gc.enable()
    assert proc.returncode == 0, proc.stderr.read()
    assert len(reader) == 30 * BATCH
