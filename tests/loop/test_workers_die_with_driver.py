"""Workers die with their driver: after SIGKILL of a real `pesgen run` in the middle of a label
batch, no process it started is left (pool workers, the forkserver, label subprocesses that run
in their own session), so no label is computed twice beside the resumed run."""

from __future__ import annotations

import os
import signal
import time

from loop_testkit import SLOW_EMT, kill_run, start_run, wait_for, write_tiny

from pesgen.execute.lifeline import descendants


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int, cmdline: str) -> bool:
    """``pid`` still runs the same program (a reused pid or a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and _cmdline(pid) == cmdline


def test_no_process_outlives_a_killed_driver(tmp_path):
    # a time limit runs every label in a child process of its worker, in a session of its own
    label = SLOW_EMT + "\n\n[label_policy]\ntimeout = 60.0"
    config = write_tiny(tmp_path, label=label)
    proc = start_run(config, tmp_path / "run")
    try:
        def labeling() -> bool:
            return any("pesgen.label.isolated" in _cmdline(p) for p in descendants(proc.pid))

        wait_for(proc, labeling, "a label subprocess")
        tree = {pid: _cmdline(pid) for pid in descendants(proc.pid)}
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10.0
        while (left := [p for p, cmd in tree.items() if _alive(p, cmd)]) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            kill_run(proc)
        try:  # the test's own clean-up of what was left, after the check
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    kinds = {"forkserver": 0, "isolated": 0}
    for cmd in tree.values():
        for kind in kinds:
            kinds[kind] += kind in cmd
    assert kinds["forkserver"] >= 2 and kinds["isolated"] >= 1, tree  # the server, its workers, a label
    assert not left, {p: tree[p][:120] for p in left}
