"""kill -9 of a real ``pesgen run`` during exploration, labeling and training, then resume.

The resumed run must complete, its store must hold every finished label exactly once, and its
final dataset must equal that of an uninterrupted run with the same config (same seeds).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from loop_testkit import SLOW_EMT, kill_run, start_run, wait_for, write_tiny

from pesgen.data.store import Store
from pesgen.loop.runner import run_loop

pytestmark = pytest.mark.slow


def _config(folder: Path) -> Path:
    return write_tiny(folder, numb_steps=400, warm_steps=300, md_steps=200, label=SLOW_EMT)


def _log_has(run: Path, text: str):
    return lambda: (run / "log.txt").is_file() and text in (run / "log.txt").read_text()


def _done(run: Path) -> list[str]:
    path = run / "state.json"
    return json.loads(path.read_text())["done"] if path.is_file() else []


def _explored_labels(run: Path) -> int:
    if not (run / "store.db").is_file():
        return 0
    try:
        return len(Store(run / "store.db", readonly=True).frames(origin="explored"))
    except Exception:  # the writer may hold the first transaction
        return 0


def _dataset(run: Path) -> dict[str, tuple]:
    store = Store(run / "store.db", readonly=True)
    frames = store.frames()
    ids = [a.info["provenance"].task_id for a in frames]
    assert len(ids) == len(set(ids)), "a label was stored twice"
    assert store.count_failed() == 0
    return {a.info["provenance"].task_id: (a.positions.copy(), a.get_potential_energy()) for a in frames}


def test_kill_during_explore_label_train_then_resume_equals_uninterrupted(tmp_path):
    config = _config(tmp_path)
    reference = run_loop(config, tmp_path / "reference", quiet=True)
    assert reference.finished

    run = tmp_path / "killed"
    # 1. during the exploration of iteration 0
    proc = start_run(config, run)
    wait_for(proc, _log_has(run, "iteration 0: exploring"), "exploration")
    time.sleep(0.3)
    kill_run(proc)
    assert "0/train" in _done(run) and "0/explore" not in _done(run)

    # 2. during the labeling of iteration 0, after some labels were stored
    proc = start_run(config, run)
    wait_for(proc, lambda: _explored_labels(run) >= 2, "the first labels of iteration 0")
    kill_run(proc)
    n_before = _explored_labels(run)
    selected = len(json.loads((run / "iter.000000" / "selection.json").read_text())["selected_rows"])
    assert "0/label" not in _done(run) and 2 <= n_before < selected

    # 3. during the training of iteration 1
    proc = start_run(config, run)
    wait_for(proc, _log_has(run, "iteration 1: training"), "training of iteration 1")
    time.sleep(0.2)
    kill_run(proc)
    assert "0/label" in _done(run) and "1/train" not in _done(run)
    log = (run / "log.txt").read_text()
    # the resumed labeling skipped what was already stored
    assert f"({n_before} already in the store)" in log

    # 4. to the end
    proc = start_run(config, run)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == (0 if reference.converged else 3), out   # 3: finished, not converged
    assert json.loads((run / "state.json").read_text())["finished"]
    assert _done(run) == _done(tmp_path / "reference")

    ref, got = _dataset(tmp_path / "reference"), _dataset(run)
    assert sorted(got) == sorted(ref)
    for task_id, (pos, energy) in ref.items():
        assert np.array_equal(got[task_id][0], pos)
        assert got[task_id][1] == energy
