"""What every step of a run needs: the config, the run directory, the store, the schedule."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ase import Atoms
from rich.console import Console

from pesgen.explore.stages import Schedule
from pesgen.label.base import Labeler
from pesgen.loop.config import RunConfig
from pesgen.loop.progress import LoopProgress
from pesgen.loop.rundir import RunDir
from pesgen.loop.summaries import RunState

log = logging.getLogger("pesgen.loop")


@dataclass
class RunContext:
    """State shared by the steps of one ``pesgen run`` process.

    Attributes:
        cfg: the validated config. run: the run directory. config_path: for messages.
        structures: the initial structures (walkers start from them), each with info["system"].
        labeler: the labeler of ``cfg.label``, built once.
        schedule: the stages and their progress. state: the state file's content.
        progress: the progress display. console: where summaries go.
        continued: for a run started ``--from`` another, what it takes from it (ContinuedSummary).
        retry_failed: label again the failed labels of every campaign (``pesgen run --retry-failed``).
    """

    cfg: RunConfig
    run: RunDir
    config_path: str
    structures: list[Atoms]
    labeler: Labeler
    schedule: Schedule
    state: RunState
    progress: LoopProgress
    console: Console
    continued: Any = None
    retry_failed: bool = False
    _store: Any = None
    by_system: dict[str, list[Atoms]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        groups: dict[str, list[Atoms]] = defaultdict(list)
        for atoms in self.structures:
            groups[str(atoms.info["system"])].append(atoms)
        self.by_system = dict(groups)

    @property
    def store(self):
        """The run's store (opened on first use)."""
        if self._store is None:
            from pesgen.data.store import Store

            self._store = Store(self.run.store_path)
        return self._store

    def mark_done(self, key: str, wall_time: float | None = None) -> None:
        """Record a finished step (outputs are already written) together with the schedule."""
        self.state.mark_done(key, wall_time)
        self.state.schedule = self.schedule.to_dict()
        self.run.save_state(self.state)
        log.info("step %s done%s", key, "" if wall_time is None else f" in {wall_time:.1f} s")

    def close(self) -> None:
        """Drop the store (its SQLite connections close with it)."""
        self._store = None
