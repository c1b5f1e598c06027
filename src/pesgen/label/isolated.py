"""Run one label in a child Python process, so that a time limit can kill it and a crash
(segmentation fault, ``os._exit``, out-of-memory kill) becomes a recorded failure instead of
taking the worker down.

The child runs :func:`main` of this module on ``<dir>``: it unpickles ``(labeler, atoms)`` from
``<dir>/isolated_task.pkl`` and writes ``<dir>/isolated_result.json``. Start-up costs about a
second (Python, NumPy, ASE imports), negligible against a DFT label.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from ase import Atoms

from pesgen.label.base import Labeler
from pesgen.label.errors import LabelFailure
from pesgen.label.result import LabelResult
from pesgen.label.subprocess_run import read_result, run_command

TASK_FILE = "isolated_task.pkl"
RESULT_FILE = "isolated_result.json"


def _pickler():
    try:
        import cloudpickle  # pickles classes defined in __main__ by value

        return cloudpickle
    except ImportError:  # pragma: no cover - cloudpickle comes with distributed
        import pickle

        return pickle


def run_isolated(labeler: Labeler, atoms: Atoms, workdir: Path | None,
                 timeout: float | None) -> LabelResult:
    """``labeler.label(atoms, workdir)`` in a child process killed after ``timeout`` s.

    Raises LabelTimeout on timeout, ProcessCrash if the child dies without a result, or the
    typed failure the labeler raised in the child.
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="pesgen-iso-") as tmp:
            return _run(labeler, atoms, Path(tmp), timeout)
    return _run(labeler, atoms, Path(workdir), timeout)


def _run(labeler: Labeler, atoms: Atoms, workdir: Path, timeout: float | None) -> LabelResult:
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / TASK_FILE, "wb") as fh:
        _pickler().dump((labeler, atoms), fh)
    result_path = workdir / RESULT_FILE
    result_path.unlink(missing_ok=True)
    # The child sees the same import path as this process (user-defined labeler modules).
    path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
    child = "import sys; from pesgen.label.isolated import main; main(sys.argv[1])"
    status = run_command([sys.executable, "-c", child, str(workdir)], workdir,
                         env={"PYTHONPATH": path}, timeout=timeout, log_name="isolated")
    return LabelResult.from_dict(read_result(result_path, status, "label", "isolated")["result"])


def main(workdir: str) -> None:
    """Child side: label the pickled task, write the JSON result atomically; dies with the worker
    that started it (a worker killed outright leaves no label running)."""
    from pesgen.execute.lifeline import die_with_parent

    die_with_parent()
    folder = Path(workdir)
    with open(folder / TASK_FILE, "rb") as fh:
        labeler, atoms = _pickler().load(fh)
    try:
        out = {"status": "ok", "result": labeler.label(atoms, folder).to_dict()}
    except LabelFailure as err:
        out = {"status": "failed", "kind": err.kind, "reason": err.reason}
    except Exception as err:
        out = {"status": "failed", "kind": "calculator-error",
               "reason": f"{type(err).__name__}: {err}"}
    tmp = folder / (RESULT_FILE + ".tmp")
    tmp.write_text(json.dumps(out))
    os.replace(tmp, folder / RESULT_FILE)

