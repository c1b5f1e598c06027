"""One driver per run directory: a second `pesgen run` stops at once and names the first; the
lock dies with its holder, even by SIGKILL, so the run resumes."""

from __future__ import annotations

import os
import socket

import pytest
from loop_testkit import kill_run, start_run, wait_for, write_tiny

from pesgen.loop.errors import RunDirError
from pesgen.loop.rundir import RunDir
from pesgen.loop.runner import run_loop


def test_lock_is_exclusive_and_names_the_holder(tmp_path):
    run = RunDir(tmp_path / "run")
    with run.driver_lock():
        text = run.lock_path.read_text()
        assert f"pid {os.getpid()}" in text and socket.gethostname() in text
        with pytest.raises(RunDirError, match=rf"is being run by pesgen run \(pid {os.getpid()}"):
            with RunDir(tmp_path / "run").driver_lock():
                pass
    with run.driver_lock():  # released when its holder let go
        pass


def test_a_lock_file_alone_is_not_a_foreign_folder(tmp_path):
    run = RunDir(tmp_path / "run")
    with run.driver_lock():
        pass
    assert not run.is_foreign()
    (run.path / "notes.txt").write_text("mine")
    assert run.is_foreign()


def test_second_driver_refused_while_first_runs_then_resumes_after_sigkill(tmp_path):
    config = write_tiny(tmp_path)
    run = tmp_path / "run"
    first = start_run(config, run)
    try:
        wait_for(first, lambda: (run / "config.toml").is_file(), "the first driver's run directory")
        with pytest.raises(RunDirError, match=rf"is being run by pesgen run \(pid {first.pid} on host"):
            run_loop(config, run, quiet=True)
    finally:
        kill_run(first)
    assert first.wait() != 0
    result = run_loop(config, run, quiet=True)  # the kernel released the killed driver's lock
    assert result.finished
