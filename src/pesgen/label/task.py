"""One label task as it runs on a worker: time limit, retries, checks, audit files.

:func:`run_label_task` never raises for a frame that cannot be labeled: it returns a
:class:`TaskOutcome` holding either the result or the failure's kind and reason. It is a plain
module-level function of picklable arguments, so any ``concurrent.futures`` executor (local
processes, Dask) can run it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms

from pesgen.label.base import Labeler
from pesgen.label.errors import CalculatorError, LabelerConfigError, LabelFailure
from pesgen.label.isolated import run_isolated
from pesgen.label.result import DEFAULT_MAX_FORCE, LabelResult, check_result

#: Failure kinds retried by default: the transient ones.
DEFAULT_RETRY_ON = ("crash", "timeout")


@dataclass(frozen=True)
class LabelPolicy:
    """How each label runs.

    Attributes:
        timeout: seconds before a label is killed and recorded failed (``None``: no limit).
            Labelers that run their own subprocess (GPAW) enforce it themselves; others then run
            in a child process (:mod:`pesgen.label.isolated`).
        isolate: run every label in a child process even without a timeout (crash-proof).
        retries: extra attempts for a failure whose kind is in ``retry_on``.
        retry_on: failure kinds retried (``"crash"``, ``"timeout"``, ``"scf-not-converged"``,
            ``"calculator-error"``, ``"invalid-result"``, ``"invalid-structure"``).
        max_force: bound on any force component, eV/Å; larger is recorded ``invalid-result``.
        workdir_root: folder holding one directory per task (inputs/outputs kept for audit);
            ``None``: labelers get no directory (file-based ones use a temporary one).
    """

    timeout: float | None = None
    isolate: bool = False
    retries: int = 0
    retry_on: tuple[str, ...] = DEFAULT_RETRY_ON
    max_force: float | None = DEFAULT_MAX_FORCE
    workdir_root: str | None = None

    def __post_init__(self) -> None:
        if self.timeout is not None and self.timeout <= 0:
            raise LabelerConfigError(f"label policy: 'timeout' must be > 0 s, got {self.timeout}")
        if self.retries < 0:
            raise LabelerConfigError(f"label policy: 'retries' must be >= 0, got {self.retries}")
        if self.max_force is not None and self.max_force <= 0:
            raise LabelerConfigError(f"label policy: 'max_force' must be > 0 eV/Å, "
                                     f"got {self.max_force}")
        object.__setattr__(self, "retry_on", tuple(self.retry_on))

    def settings(self) -> dict:
        """What decides a label's outcome (the task directories do not)."""
        return {"timeout": self.timeout, "isolate": self.isolate, "retries": self.retries,
                "retry_on": sorted(self.retry_on), "max_force": self.max_force}


@dataclass
class TaskOutcome:
    """What a label task returns to the driver.

    ``result`` is set on success; otherwise ``failure_kind``/``failure_reason`` say why.
    ``attempts`` counts calculator runs, ``wall_time`` is their total in s.
    """

    task_id: str
    result: LabelResult | None = None
    failure_kind: str | None = None
    failure_reason: str | None = None
    attempts: int = 0
    wall_time: float = 0.0
    workdir: str | None = None
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    @property
    def ok(self) -> bool:
        return self.result is not None

    @property
    def reason(self) -> str:
        """``"<kind>: <reason>"`` for a failure ('' on success)."""
        return "" if self.ok else f"{self.failure_kind}: {self.failure_reason}"


def task_workdir(policy: LabelPolicy, task_id: str, attempt: int) -> Path | None:
    """``<workdir_root>/<task_id>`` for the first attempt, ``.../retry-<k>`` for retries."""
    if policy.workdir_root is None:
        return None
    base = Path(policy.workdir_root) / task_id
    return base if attempt == 0 else base / f"retry-{attempt}"


def _label_once(labeler: Labeler, atoms: Atoms, workdir: Path | None,
                policy: LabelPolicy) -> LabelResult:
    if policy.timeout is not None and getattr(labeler, "supports_timeout", False):
        return labeler.label(atoms, workdir, timeout=policy.timeout)
    if policy.timeout is not None or policy.isolate:
        return run_isolated(labeler, atoms, workdir, policy.timeout)
    return labeler.label(atoms, workdir)


def run_label_task(labeler: Labeler, atoms: Atoms, task_id: str,
                   policy: LabelPolicy = LabelPolicy()) -> TaskOutcome:
    """Label ``atoms`` under ``policy``; failures are returned, not raised.

    Configuration errors (:class:`LabelerConfigError`) are raised: they concern every frame.
    """
    outcome = TaskOutcome(task_id=task_id)
    start = time.perf_counter()
    for attempt in range(policy.retries + 1):
        workdir = task_workdir(policy, task_id, attempt)
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
            atoms.write(workdir / "input.extxyz", format="extxyz")
        outcome.attempts = attempt + 1
        outcome.workdir = None if workdir is None else str(workdir)
        try:
            result = check_result(_label_once(labeler, atoms, workdir, policy), len(atoms),
                                  policy.max_force)
        except LabelerConfigError:
            raise
        except LabelFailure as err:
            failure = err
        except Exception as err:  # a labeler bug or an unexpected calculator error
            failure = CalculatorError(f"{type(err).__name__}: {err}")
        else:
            outcome.result = result
            outcome.failure_kind = outcome.failure_reason = None
            _write_outcome(workdir, outcome)
            break
        outcome.failure_kind, outcome.failure_reason = failure.kind, failure.reason
        _write_outcome(workdir, outcome)
        if failure.kind not in policy.retry_on:
            break
    outcome.wall_time = time.perf_counter() - start
    return outcome


def _write_outcome(workdir: Path | None, outcome: TaskOutcome) -> None:
    if workdir is None:
        return
    data = {"task_id": outcome.task_id, "attempt": outcome.attempts,
            "status": "ok" if outcome.ok else "failed",
            "failure": None if outcome.ok else outcome.reason,
            "result": None if outcome.result is None else outcome.result.to_dict(),
            "host": outcome.host, "pid": outcome.pid}
    (workdir / "outcome.json").write_text(json.dumps(data, indent=1))
