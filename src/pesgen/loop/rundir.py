"""The run directory: everything needed to resume a run or to report on it.

Layout::

    RUN/
      config.toml            the config, copied verbatim
      run.json               where the config came from (to resolve its relative paths) and its digest
      state.json             which steps are done, the stage schedule, per-iteration summaries
      store.db               the labeled-frame store (pesgen.data.store)
      log.txt                the log
      iter.000000/
        model.pt             the ensemble trained in this iteration
        train.json           its learning curve summary and wall time
        record.sqlite        the deviation record of the exploration
        explore.json         walkers, stops, wall time
        selection.json       classes, counts, selected rows
        label.json           label batch report and the indicator's calibration
      ...
      validation/            written by ``pesgen test RUN`` (results.json, plots); shown by ``pesgen report``

Every step writes its outputs first and marks itself done last (``state.json`` is replaced
atomically), so a run killed at any instant resumes from the last finished step.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pesgen.loop.errors import RunDirError

#: the folder of a run directory where ``pesgen test RUN`` writes and ``pesgen report`` reads
VALIDATION_DIR = "validation"

STATE_VERSION = 1
STEPS = ("train", "explore", "select", "label")


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, default=_json_default)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def read_json(path: Path) -> Any:
    with open(path) as fh:
        return json.load(fh)


class RunDir:
    """Paths and state of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # ----------------------------------------------------------------- paths
    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def state_path(self) -> Path:
        return self.path / "state.json"

    @property
    def store_path(self) -> Path:
        return self.path / "store.db"

    @property
    def log_path(self) -> Path:
        return self.path / "log.txt"

    def iter_dir(self, iteration: int) -> Path:
        return self.path / f"iter.{iteration:06d}"

    def model_path(self, iteration: int) -> Path:
        return self.iter_dir(iteration) / "model.pt"

    def record_path(self, iteration: int) -> Path:
        return self.iter_dir(iteration) / "record.sqlite"

    def step_file(self, iteration: int, step: str) -> Path:
        return self.iter_dir(iteration) / f"{'selection' if step == 'select' else step}.json"

    # ----------------------------------------------------------------- life cycle
    def exists(self) -> bool:
        return self.config_path.is_file()

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
    def load_state(self) -> dict[str, Any]:
        """The state (a fresh one when the run never finished a step)."""
        if not self.state_path.is_file():
            return {"version": STATE_VERSION, "done": [], "schedule": None, "iterations": {},
                    "finished": False, "reason": None, "events": []}
        try:
            state = read_json(self.state_path)
        except (OSError, json.JSONDecodeError) as err:
            raise RunDirError(f"{self.state_path}: unreadable state file ({err})") from err
        if state.get("version") != STATE_VERSION:
            raise RunDirError(f"{self.state_path}: state version {state.get('version')} is not supported")
        return state

    def save_state(self, state: dict[str, Any]) -> None:
        write_json(self.state_path, state)

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
        state = self.load_state()
        done = [int(k.split("/")[0]) for k in state["done"] if k.endswith("/train")]
        if not done:
            raise RunDirError(f"{self.path}: no iteration has finished training yet")
        return self.model_path(max(done))

    def step_summary(self, iteration: int, step: str) -> dict[str, Any] | None:
        path = self.step_file(iteration, step)
        return read_json(path) if path.is_file() else None


def load_latest(path: str | Path, device: str = "cpu"):
    """The latest trained ensemble of a run directory (``pesgen.load(RUN)``).

    Raises:
        ModelFileError: ``path`` is not a run directory or no iteration finished training.
    """
    from pesgen.model.io import ModelFileError, load

    run = RunDir(path)
    try:
        run.check()
        model = run.latest_model()
    except RunDirError as err:
        raise ModelFileError(str(err)) from err
    return load(model, device=device)
