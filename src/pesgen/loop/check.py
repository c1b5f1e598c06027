"""``pesgen check RUN``: is every file of a run directory whole, and does the state agree with them?

:func:`check_run` lists the problems, one line each naming the file and what to do; ``pesgen run``
performs the same check before it drives a run directory and stops on any problem, so nothing is
ever re-created over a damaged file (a zero-byte ``store.db`` of a run that has labels is damaged,
not new). Checked:

- ``run.json``, ``config.toml`` and ``state.json`` read;
- the store: present and non-empty once a step that writes labels is done, readable, SQLite's
  ``PRAGMA integrity_check`` clean, and holding at least as many labeled frames as the last
  labeling step recorded;
- every step that ``state.json`` marks done: its output files exist and read (summaries parse,
  models load, deviation records pass SQLite's ``quick_check``), and the steps before it are done.

Files of steps not marked done are not checked: a resumed run writes them again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pesgen.loop.errors import RunDirError
from pesgen.loop.rundir import STEPS, RunDir, read_json
from pesgen.loop.summaries import (
    AuditSummary,
    ExploreSummary,
    InitialSummary,
    LabelSummary,
    RunState,
    SelectSummary,
    TrainSummary,
)

RESTORE = "restore it from a backup"
_SUMMARY = {"train": TrainSummary, "explore": ExploreSummary, "audit": AuditSummary, "select": SelectSummary,
            "label": LabelSummary}
_PREVIOUS = {"train": "", "explore": "train", "audit": "explore", "select": "explore", "label": "select"}


@dataclass(frozen=True)
class Problem:
    """A damaged, missing or inconsistent file and what to do about it."""

    path: Path
    what: str
    fix: str = RESTORE

    def __str__(self) -> str:
        return f"{self.path}: {self.what}; {self.fix}"


def check_run(run_dir: str | Path) -> list[Problem]:
    """The problems of a run directory ([] when it is whole).

    Raises:
        RunDirError: ``run_dir`` is not a run directory at all.
    """
    run = RunDir(run_dir)
    run.check()
    problems: list[Problem] = []
    for path in (run.run_json,):
        try:
            read_json(path)
        except RunDirError as err:
            problems.append(_from_error(path, err))
    from pesgen.errors import ConfigError
    from pesgen.schema import read_toml

    try:
        read_toml(run.config_path)
    except ConfigError as err:
        problems.append(Problem(run.config_path, str(err).removeprefix(f"{run.config_path}: "),
                                "fix the file or restore it from a backup"))
    try:
        state = run.load_state()
    except RunDirError as err:
        return problems + [_from_error(run.state_path, err)]
    problems += store_problems(run, state)
    problems += _step_problems(run, state)
    return problems


def store_problems(run: RunDir, state: RunState, thorough: bool = True) -> list[Problem]:
    """The store's problems: missing or empty though labels were stored, unreadable, damaged
    (``PRAGMA integrity_check``; ``quick_check`` unless ``thorough``), or holding fewer labeled
    frames than the last labeling step recorded."""
    from pesgen.data.errors import StoreError
    from pesgen.data.store import Store

    path = run.store_path
    labeled = [k for k in state.done if k == "initial" or k.endswith(("/label", "/audit"))]
    if not path.exists() or path.stat().st_size == 0:
        if not labeled:
            return []  # a new run: the store is made by its first step
        what = "missing" if not path.exists() else "empty (0 bytes)"
        return [Problem(path, f"the store is {what}, but {len(labeled)} step(s) that stored labels are done",
                        f"{RESTORE}; pesgen does not re-create a store that should hold labels")]
    try:
        _replay_log(path)
        store = Store(path, readonly=True)
        store.check(quick=not thorough)
        n = len(store)
    except StoreError as err:
        what = str(err).removeprefix(f"{path}: ")
        return [Problem(path, f"damaged store ({what})", f"{RESTORE}; pesgen does not re-create it")]
    for it in reversed(state.iterations("label")):
        try:
            summary = run.read_summary(LabelSummary, it)
        except RunDirError:
            continue  # reported with the iteration's files
        if summary is None:
            continue
        if n < summary.n_store:
            return [Problem(path, f"holds {n} labeled frames, fewer than the {summary.n_store} recorded after "
                                  f"iteration {it}'s labels (an older copy?)", RESTORE + " (the newest copy)")]
        break
    return []


def _replay_log(path: Path) -> None:
    """Open the store read-write for one read: SQLite then replays the write-ahead log that a killed
    writer left (a read-only connection cannot, and would call a whole store unreadable)."""
    from pesgen.data.errors import StoreError

    try:
        con = sqlite3.connect(path, timeout=60.0)
        try:
            con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as err:
        raise StoreError(f"{path}: cannot open the store: {err} (the file is corrupt?)") from err


def _step_problems(run: RunDir, state: RunState) -> list[Problem]:
    problems: list[Problem] = []
    if state.is_done("initial"):
        problems += _summary_problems(run.summary_file("initial"), InitialSummary, None, run)
    elif state.done:
        problems.append(Problem(run.state_path, f"steps {state.done[:3]} are done but not the initial step",
                                RESTORE))
    for it in state.iterations():
        for step in STEPS:
            key = f"{it}/{step}"
            if not state.is_done(key):
                continue
            previous = _PREVIOUS[step]  # the step that must be done first ('' for iteration 0's training)
            before = f"{it}/{previous}" if previous else (f"{it - 1}/label" if it else "")
            if before and not state.is_done(before):
                problems.append(Problem(run.state_path, f"{key} is marked done but {before} is not", RESTORE))
            problems += _summary_problems(run.summary_file(step, it), _SUMMARY[step], it, run, key)
            if step == "train":
                problems += _model_problems(run.model_path(it), key)
            elif step == "explore":
                problems += _record_problems(run.record_path(it), key)
    return problems


def _summary_problems(path: Path, kind, iteration: int | None, run: RunDir, key: str = "initial") -> list[Problem]:
    if not path.is_file():
        return [Problem(path, f"missing, but state.json marks {key} done", RESTORE)]
    try:
        run.read_summary(kind, iteration)
    except RunDirError as err:
        return [_from_error(path, err)]
    return []


def _model_problems(path: Path, key: str) -> list[Problem]:
    from pesgen.model.fileformat import ModelFileError, read_payload

    if not path.is_file():
        return [Problem(path, f"missing, but state.json marks {key} done", RESTORE)]
    try:
        read_payload(path)
    except ModelFileError as err:
        return [Problem(path, str(err).removeprefix(f"{path}: "), RESTORE)]
    return []


def _record_problems(path: Path, key: str) -> list[Problem]:
    if not path.is_file():
        return [Problem(path, f"missing, but state.json marks {key} done", RESTORE)]
    try:
        con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            rows = [r[0] for r in con.execute("PRAGMA quick_check")]
        finally:
            con.close()
    except sqlite3.DatabaseError as err:
        return [Problem(path, f"damaged deviation record ({err})", RESTORE)]
    if rows != ["ok"]:
        return [Problem(path, f"damaged deviation record ({'; '.join(rows[:3])})", RESTORE)]
    return []


def _from_error(path: Path, err: RunDirError) -> Problem:
    """A Problem from a RunDirError's one-line message ('<path>: <what>; <fix>')."""
    text = str(err).removeprefix(f"{path}: ")
    what, _, fix = text.partition("; ")
    return Problem(path, what, fix or RESTORE)


def require_whole(run: RunDir) -> None:
    """Raise :class:`RunDirError` listing the problems of ``run`` (one line each), if any."""
    problems = check_run(run.path)
    if problems:
        lines = [str(p) for p in problems[:8]]
        if len(problems) > 8:
            lines.append(f"... and {len(problems) - 8} more (`pesgen check {run.path}`)")
        raise RunDirError("\n".join(lines))
