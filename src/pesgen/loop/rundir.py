"""The run directory: everything needed to resume a run or to report on it.

Layout::

    RUN/
      driver.lock            held (flock) by the one `pesgen run` driving the run: its pid and host
      config.toml            the config, copied verbatim
      run.json               where the config came from (to resolve its relative paths) and its digest
      state.json             which steps are done, their wall times, the stage schedule, how the run ended
      initial.json           what the initial step imported and labeled
      continued.json         for a run started with --from: the source run, its model and imported labels
      base_model.pt          ... that run's latest ensemble, which iteration 0 warm-starts from
      store.db               the labeled-frame store (pesgen.data.store)
      log.txt                the log
      iter.000000/
        model.pt             the ensemble trained in this iteration
        train.json           its learning curve summary and wall time
        record.sqlite        the deviation record of the exploration
        explore.json         walkers, stops, wall time
        audit.json           the audit sample's labels and the ensemble's true errors on them
        selection.json       classes, counts, selected rows
        label.json           labeling campaign report and the indicator's calibration
      ...
      validation/            written by ``pesgen test RUN`` (results.json, plots); shown by ``pesgen report``

Every step writes its outputs first and marks itself done last (``state.json`` is replaced
atomically), so a run killed at any instant resumes from the last finished step. The JSON files
are read and written as the typed summaries of :mod:`pesgen.loop.summaries`.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pesgen.data.store import STORE_FILE
from pesgen.loop.errors import RunDirError
from pesgen.loop.summaries import (
    STATE_VERSION,
    AuditSummary,
    ExploreSummary,
    IterationRecord,
    LabelSummary,
    RunState,
    SelectSummary,
    Summary,
    TrainSummary,
)

S = TypeVar("S", bound=Summary)

#: the folder of a run directory where ``pesgen test RUN`` writes and ``pesgen report`` reads
VALIDATION_DIR = "validation"

STEPS = ("train", "explore", "audit", "select", "label")


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, default=json_default)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def json_default(obj: Any) -> Any:
    """numpy scalars and arrays as JSON numbers and lists."""
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def read_json(path: Path) -> Any:
    """The content of a JSON file; a truncated or garbled one is a :class:`RunDirError` naming it."""
    try:
        with open(path) as fh:
            return json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunDirError(f"{path}: damaged file ({err}); restore it from a backup (`pesgen check` "
                          "on the run directory lists every damaged file)") from err


class RunDir:
    """Paths and state of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.config_path = self.path / "config.toml"
        self.run_json = self.path / "run.json"
        self.state_path = self.path / "state.json"
        self.store_path = self.path / STORE_FILE
        self.log_path = self.path / "log.txt"
        self.lock_path = self.path / "driver.lock"
        self.base_model_path = self.path / "base_model.pt"

    # ----------------------------------------------------------------- paths
    def iter_dir(self, iteration: int) -> Path:
        return self.path / f"iter.{iteration:06d}"

    def model_path(self, iteration: int) -> Path:
        return self.iter_dir(iteration) / "model.pt"

    def record_path(self, iteration: int) -> Path:
        return self.iter_dir(iteration) / "record.sqlite"

    def summary_file(self, step: str, iteration: int | None = None) -> Path:
        """``STEP.json`` of the run (``initial``) or of an iteration (``select``: ``selection.json``)."""
        if iteration is None:
            return self.path / f"{step}.json"
        return self.iter_dir(iteration) / f"{'selection' if step == 'select' else step}.json"

    # ----------------------------------------------------------------- life cycle
    def exists(self) -> bool:
        return self.config_path.is_file()

    def is_foreign(self) -> bool:
        """The folder exists, holds files, and is no run directory (pesgen writes nothing into it)."""
        return (self.path.is_dir() and not self.exists()
                and any(p != self.lock_path for p in self.path.iterdir()))

    @contextmanager
    def driver_lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the run directory for the life of a driver (made if missing).

        A second driver stops at once with :class:`RunDirError` naming the holder's pid and host;
        the operating system releases the lock when the holder exits or is killed (even by
        SIGKILL), so a resumed run never finds a stale lock.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 256).decode(errors="replace").strip() or "another process"
                raise RunDirError(f"{self.path} is being run by {holder}; wait for it to end or stop it "
                                  f"(one driver per run directory)") from None
            os.ftruncate(fd, 0)
            os.write(fd, f"pesgen run (pid {os.getpid()} on host {socket.gethostname()})".encode())
            yield
        finally:
            os.close(fd)

    def create(self, config_text: str, config_source: Path, digest: str) -> None:
        """Make the directory and copy the config (before any step runs)."""
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / ".config.toml.tmp"
        tmp.write_text(config_text)
        os.replace(tmp, self.config_path)
        write_json(self.run_json, {"config_source": str(Path(config_source).resolve()),
                                   "config_dir": str(Path(config_source).resolve().parent),
                                   "config_digest": digest})

    def info(self) -> dict[str, Any]:
        if not self.run_json.is_file():
            raise RunDirError(f"{self.path}: not a pesgen run directory (no run.json)")
        return read_json(self.run_json)

    def check(self) -> None:
        """Raise :class:`RunDirError` unless this is a run directory."""
        if not self.path.is_dir():
            raise RunDirError(f"{self.path}: no such run directory")
        if not self.exists() or not self.run_json.is_file():
            raise RunDirError(f"{self.path}: not a pesgen run directory (no config.toml / run.json)")

    # ----------------------------------------------------------------- state
    def load_state(self) -> RunState:
        """The state (a fresh one when the run never finished a step)."""
        if not self.state_path.is_file():
            return RunState()
        try:
            state = read_json(self.state_path)
        except OSError as err:
            raise RunDirError(f"{self.state_path}: unreadable state file ({err})") from err
        if state.get("version") != STATE_VERSION:
            raise RunDirError(f"{self.state_path}: state version {state.get('version')} is not supported")
        return RunState.from_json(state)

    def save_state(self, state: RunState) -> None:
        write_json(self.state_path, state.to_json())

    # ----------------------------------------------------------------- results
    def iterations(self) -> list[int]:
        """Iterations that have a directory, ascending."""
        out = []
        for p in self.path.glob("iter.*"):
            try:
                out.append(int(p.name.split(".")[1]))
            except (IndexError, ValueError):
                continue
        return sorted(out)

    def latest_model(self) -> Path:
        """The model of the latest iteration whose training finished."""
        done = self.load_state().iterations("train")
        if not done:
            raise RunDirError(f"{self.path}: no iteration has finished training yet")
        return self.model_path(max(done))

    def write_summary(self, summary: Summary) -> None:
        """Write a step's summary to its file (atomically)."""
        write_json(self.summary_file(summary.STEP, summary.iteration), summary.to_json())

    def read_summary(self, kind: type[S], iteration: int | None = None) -> S | None:
        """The summary of step ``kind`` (of ``iteration``; None: the run's initial step), None if not written."""
        path = self.summary_file(kind.STEP, iteration)
        if not path.is_file():
            return None
        data = read_json(path)
        try:
            return kind.from_json(data)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise RunDirError(f"{path}: damaged file (not a {kind.STEP} summary: {type(err).__name__}: {err}); "
                              f"restore it from a backup (`pesgen check {self.path}` lists every damaged "
                              "file)") from err

    def iteration_record(self, iteration: int) -> IterationRecord:
        """The summaries of ``iteration`` written so far."""
        return IterationRecord(iteration, *(self.read_summary(kind, iteration) for kind in
                                            (TrainSummary, ExploreSummary, SelectSummary, LabelSummary,
                                             AuditSummary)))


def load(path: str | Path, device: str = "cpu"):
    """A saved DeepPot or Ensemble: a model file, or a run directory's latest ensemble (``pesgen.load``)."""
    from pesgen.model.io import load as load_file

    return load_file(model_file(path), device=device)


def model_file(path: str | Path) -> Path:
    """``path`` itself, or for a run directory its latest ensemble's file.

    Raises:
        ModelFileError: ``path`` is a folder but no run directory, or no iteration finished training.
    """
    path = Path(path)
    if not path.is_dir():
        return path
    from pesgen.model.io import ModelFileError

    run = RunDir(path)
    try:
        run.check()
        return run.latest_model()
    except RunDirError as err:
        raise ModelFileError(str(err)) from err
