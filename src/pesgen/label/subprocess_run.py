"""Run an external command for a label, with a time limit that kills its whole process group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from pesgen.label.errors import LabelTimeout, ProcessCrash, failure_from_kind


def run_command(cmd: list[str], cwd: Path, *, env: dict[str, str] | None = None,
                timeout: float | None = None, log_name: str = "run") -> int:
    """Run ``cmd`` in ``cwd`` with stdout/stderr in ``cwd/<log_name>.out`` / ``.err``.

    The command runs in its own session; when it exceeds ``timeout`` seconds the whole process
    group (``mpirun`` and its ranks included) is killed and :class:`LabelTimeout` is raised. When the
    driver dies, the worker running this kills it (:func:`pesgen.execute.lifeline.watch_driver`).
    Returns the exit status (negative: killed by that signal).
    """
    cwd = Path(cwd)
    cwd.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with open(cwd / f"{log_name}.out", "wb") as out, open(cwd / f"{log_name}.err", "wb") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise LabelTimeout(f"killed after {timeout:g} s: {' '.join(cmd)}") from None
        except BaseException:  # interrupted driver: leave no orphan behind
            kill_group(proc)
            raise


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group of ``proc`` and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def tail(path: Path, n_chars: int = 600) -> str:
    """The last ``n_chars`` characters of a text file ('' if absent)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return text[-n_chars:].strip()


def read_result(path: Path, status: int, what: str, log_name: str) -> dict[str, Any]:
    """The JSON result a child wrote at ``path`` (its ``"status"`` is ``"ok"``); raises the typed
    failure it reported, or ProcessCrash (with the tail of ``<log_name>.err``) when it wrote none."""
    if not path.exists():
        raise ProcessCrash(f"{what} process ended with {describe_exit(status)} and no result; "
                           f"stderr: {tail(path.parent / f'{log_name}.err')!r}")
    out = json.loads(path.read_text())
    if out["status"] != "ok":
        raise failure_from_kind(out["kind"], out["reason"])
    return out


def describe_exit(status: int) -> str:
    """'exit status 3' or 'killed by SIGSEGV'."""
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"
