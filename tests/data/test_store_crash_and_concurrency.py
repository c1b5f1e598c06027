"""A writer SIGKILLed at random moments leaves a valid store with every frame fully in or absent;
readers read consistent snapshots while a writer appends. Both use real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import numpy as np
import pytest

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
