"""kill -9 of a real ``pesgen run`` while it labels its audit sample, then resume.

The resumed run must label every audit frame exactly once (none twice, none lost), skip the ones
stored before the kill, and end with the same audit and the same dataset as an uninterrupted run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from loop_testkit import SLOW_EMT, kill_run, start_run, wait_for, write_tiny

from pesgen.data.store import Store
from pesgen.loop.runner import run_loop

pytestmark = pytest.mark.slow


def _config(folder: Path) -> Path:
    path = write_tiny(folder, numb_steps=200, warm_steps=100, md_steps=100, label=SLOW_EMT)
    path.write_text(path.read_text() + "\n[audit]\nper_system = 5\n")     # 4 systems x 5: 20 audit labels (5 s)
    return path


def _audit_labels(run: Path) -> list[str]:
    if not (run / "store.db").is_file():
        return []
    try:
        return [a.info["provenance"].task_id for a in Store(run / "store.db", readonly=True).frames(origin="audit")]
    except Exception:  # the writer may hold the first transaction
        return []


def _done(run: Path) -> list[str]:
    path = run / "state.json"
    return json.loads(path.read_text())["done"] if path.is_file() else []


def test_kill_during_audit_labeling_resumes_with_every_audit_label_once(tmp_path):
    config = _config(tmp_path)
    reference = run_loop(config, tmp_path / "reference", quiet=True)
    assert reference.finished

    run = tmp_path / "killed"
    proc = start_run(config, run)
    wait_for(proc, lambda: len(_audit_labels(run)) >= 3, "the first audit labels of iteration 0")
    kill_run(proc)
    before = _audit_labels(run)
    assert "0/explore" in _done(run) and "0/audit" not in _done(run)
    assert 3 <= len(before) < 20 and len(set(before)) == len(before)

    proc = start_run(config, run)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == (0 if reference.converged else 3), out
    assert _done(run) == _done(tmp_path / "reference")
    assert f"({len(before)} already in the store)" in (run / "log.txt").read_text()   # skipped, not redone

    after = _audit_labels(run)
    assert len(after) == len(set(after)) == len(_audit_labels(tmp_path / "reference")) == 2 * 20
    assert set(before) <= set(after) and sorted(after) == sorted(_audit_labels(tmp_path / "reference"))
    for it in (0, 1):
        got = json.loads((run / f"iter.{it:06d}" / "audit.json").read_text())
        ref = json.loads((tmp_path / "reference" / f"iter.{it:06d}" / "audit.json").read_text())
        assert got["rows"] == ref["rows"] and got["frames"] == ref["frames"]
        assert got["per_system"] == ref["per_system"] and got["stage_errors"] == ref["stage_errors"]
    assert got["report"]["n_labeled"] == 20 and got["report"]["n_failed"] == 0
    resumed = json.loads((run / "iter.000000" / "audit.json").read_text())["report"]
    assert resumed["n_skipped"] == len(before) and resumed["n_labeled"] == 20 - len(before)
    ids = [a.info["provenance"].task_id for a in Store(run / "store.db", readonly=True).frames()]
    ref_ids = [a.info["provenance"].task_id for a in Store(tmp_path / "reference" / "store.db", readonly=True).frames()]
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(ref_ids)
