"""Killing the driver loses at most the tasks in flight; a resumed run relabels only those."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest
from label_structures import almg_cell

from pesgen.data.errors import StoreError
from pesgen.data.store import Provenance, Store
from pesgen.execute import LocalExecutor
from pesgen.label import (
    FaultInjectingLabeler,
    LabelCampaign,
    LabelTask,
    LammpsLabeler,
    make_task_id,
)

DRIVER = textwrap.dedent("""
    import pickle, sys
    from pesgen.data.store import Store
    from pesgen.execute import LocalExecutor
    from pesgen.label import LabelCampaign, LabelPolicy

    if __name__ == "__main__":
        folder = sys.argv[1]
        with open(folder + "/batch.pkl", "rb") as fh:
            tasks, labeler = pickle.load(fh)
        store = Store(folder + "/store.db")
        with LocalExecutor(max_workers=2) as ex:
            LabelCampaign(tasks, labeler, store, ex, LabelPolicy(workdir_root=folder + "/tasks")).run()
    """)


@pytest.mark.slow
def test_killed_driver_resumes_without_relabeling(tmp_path):
    # MEAM labels slowed to 0.25 s each: an expensive reference in miniature
    labeler = FaultInjectingLabeler(LammpsLabeler(["Al", "Mg"], "meam-jelinek2012"), delay=0.25)
    tasks = []
    for i in range(16):
        atoms = almg_cell(seed=i)
        tasks.append(LabelTask(make_task_id(atoms, labeler.settings_hash(), 2), atoms,
                               Provenance(iteration=2, origin="explored", walker=i)))
    with open(tmp_path / "batch.pkl", "wb") as fh:
        pickle.dump((tasks, labeler), fh)
    (tmp_path / "driver.py").write_text(DRIVER)
    driver = subprocess.Popen([sys.executable, str(tmp_path / "driver.py"), str(tmp_path)],
                              start_new_session=True)
    store_path = tmp_path / "store.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if store_path.exists() and len(Store(store_path, readonly=True)) >= 5:
                break
        except StoreError:  # the driver is creating the file right now
            pass
        assert driver.poll() is None, "the driver ended before it could be killed"
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGKILL)  # driver and its pool workers, mid-batch
    driver.wait()

    store = Store(store_path)
    store.check()
    done_before = store.task_ids()
    assert 5 <= len(done_before) < 16

    seen = []
    with LocalExecutor(max_workers=2) as ex:
        report = LabelCampaign(tasks, labeler, store, ex,
                               on_outcome=lambda task, outcome: seen.append(task.task_id)).run()
    assert report.n_skipped == len(done_before)
    assert set(seen) == {t.task_id for t in tasks} - done_before
    assert report.n_labeled == 16 - len(done_before) and report.n_failed == 0
    frames = store.frames()
    ids = Counter(a.info["provenance"].task_id for a in frames)
    assert len(store) == 16 and set(ids) == {t.task_id for t in tasks}
    assert max(ids.values()) == 1  # every task labeled exactly once
