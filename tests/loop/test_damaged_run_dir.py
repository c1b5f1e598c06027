"""Damaged run directories: a truncated, garbled or zero-byte store, a truncated iteration file, a
truncated model, a state that disagrees with the files. `pesgen check`, `pesgen run` and `pesgen
status` name the damaged file and what to do in one line, no traceback, and nothing is re-created
over a damaged file."""

from __future__ import annotations

import json
import shutil

import pytest
from loop_testkit import write_tiny
from typer.testing import CliRunner

from pesgen.cli import app
from pesgen.loop.check import check_run
from pesgen.loop.runner import run_loop


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    config = write_tiny(folder, numb_steps=60, warm_steps=30, md_steps=20)
    run_loop(config, folder / "run", quiet=True)
    return folder / "run"


def _garble(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 3: len(data) // 3 + 3000] = b"x" * 3000
    path.write_bytes(bytes(data))


def _drop_done(run, key):
    state = json.loads((run / "state.json").read_text())
    state["done"].remove(key)
    (run / "state.json").write_text(json.dumps(state))


DAMAGE = {  # name: (damage, the file named, does `pesgen status` still show the table)
    "store truncated": (lambda r: (r / "store.db").write_bytes((r / "store.db").read_bytes()[:20000]),
                        "store.db", True),
    "store garbled": (lambda r: _garble(r / "store.db"), "store.db", True),
    "store zero bytes": (lambda r: (r / "store.db").write_bytes(b""), "store.db", True),
    "store missing": (lambda r: (r / "store.db").unlink(), "store.db", True),
    "selection.json truncated": (lambda r: (r / "iter.000000" / "selection.json").write_text('{"iteration": 0, "st'),
                                 "selection.json", False),
    "model truncated": (lambda r: (r / "iter.000001" / "model.pt").write_bytes(
        (r / "iter.000001" / "model.pt").read_bytes()[:3000]), "model.pt", True),
    "state disagrees": (lambda r: _drop_done(r, "0/label"), "state.json", True),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_damage_is_named_in_one_line_and_nothing_is_recreated(finished_run, tmp_path, name):
    damage, culprit, status_ok = DAMAGE[name]
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / "store.db-wal").unlink(missing_ok=True)
    (run / "store.db-shm").unlink(missing_ok=True)
    assert check_run(run) == []
    damage(run)
    store_before = (run / "store.db").read_bytes() if (run / "store.db").exists() else None
    runner = CliRunner()
    for command in (["check", str(run)], ["run", str(run), "--quiet"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1, (command, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and culprit in lines[0], (command, lines)
        assert "Traceback" not in result.output and "backup" in lines[0]
    status = runner.invoke(app, ["status", str(run)])
    text = " ".join(status.output.split())
    if status_ok:  # the table, and a warning when the store is at fault
        assert status.exit_code == 0, status.output
        assert culprit != "store.db" or f"warning: {run / 'store.db'}" in text
    else:
        assert status.exit_code == 1 and len(status.output.strip().splitlines()) == 1 and culprit in text
    after = (run / "store.db").read_bytes() if (run / "store.db").exists() else None
    assert after == store_before  # not re-created, not touched


def test_a_driver_killed_between_config_and_run_json_resumes(tmp_path):
    # RunDir.create writes config.toml, then run.json: a SIGKILL between the two leaves the first alone
    config = write_tiny(tmp_path, numb_steps=30, warm_steps=20, md_steps=10)
    config.write_text(config.read_text().replace("max_iterations = 2", "max_iterations = 1"))
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(config.read_text())
    assert run_loop(config, run, quiet=True).finished
    assert check_run(run) == []
