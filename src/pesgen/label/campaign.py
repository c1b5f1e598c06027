"""A labeling campaign: label tasks on an executor, writing each label to the store on arrival.

The driver (this process) is the only writer of the store: each finished task is written as
soon as its future completes (tasks that complete together share one transaction). Killing the driver
or a worker therefore loses at most the tasks in flight, and a rerun skips every task id the
store already holds (:meth:`pesgen.data.store.Store.task_ids`), labeled or failed, except the
failures it retries: those recorded under other label settings (labeler and label policy:
:func:`label_settings_hash`), or all of them with ``retry_failed``. A retried label replaces its
failed row in the same transaction, so the store holds each task id once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Executor, Future, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from ase import Atoms

from pesgen.label.base import Labeler, settings_digest
from pesgen.label.errors import DuplicateTaskError, LabelerConfigError
from pesgen.label.failure_budget import FailureBudget
from pesgen.label.task import LabelPolicy, TaskOutcome, run_label_task

if TYPE_CHECKING:
    from pesgen.data.store import Provenance, Store

log = logging.getLogger("pesgen.label")


@dataclass
class LabelTask:
    """A structure to label, its stable id, and its provenance (``pesgen.data.store.Provenance``;
    the campaign fills in labeler, labeler_hash, wall_time and task_id)."""

    task_id: str
    atoms: Atoms
    provenance: Provenance | None = None


def make_task_id(atoms: Atoms, labeler_hash: str = "", iteration: int | None = None,
                 salt: str = "") -> str:
    """A stable 20-hex-digit id from the structure (species, positions and cell rounded to
    1e-6 Å, pbc), the labeler's settings hash, the iteration and an optional salt.

    The same selection relabeled by the same labeler gets the same ids, so a resumed run
    recognises the tasks it already finished.
    """
    h = hashlib.sha256()
    h.update(np.asarray(atoms.numbers, dtype=np.int64).tobytes())
    h.update(np.round(np.asarray(atoms.positions, dtype=float), 6).tobytes())
    h.update(np.round(np.asarray(atoms.cell.array, dtype=float), 6).tobytes())
    h.update(np.asarray(atoms.pbc, dtype=bool).tobytes())
    h.update(f"|{labeler_hash}|{iteration}|{salt}".encode())
    return h.hexdigest()[:20]


def label_settings_hash(labeler: Labeler, policy: LabelPolicy) -> str:
    """A hash of everything that decides a label's outcome: the labeler's settings and the policy
    (time limit, retries, force bound); recorded on each failed label (16 hex digits)."""
    return settings_digest({"labeler": labeler.settings_hash(), "policy": policy.settings()})


@dataclass
class CampaignReport:
    """What a campaign did.

    Attributes:
        n_tasks: tasks given.
        n_skipped: tasks already in the store (not run again).
        n_labeled / n_failed: tasks labeled / recorded failed by this call.
        n_failed_before: skipped tasks that the store holds as failed (not retried).
        n_retried: tasks the store held as failed that this call labeled again.
        failure_kinds: failures of this call by kind.
        worker_losses: task submissions lost with their worker and resubmitted or failed.
        wall_time: seconds for the whole campaign.
    """

    n_tasks: int = 0
    n_skipped: int = 0
    n_labeled: int = 0
    n_failed: int = 0
    n_failed_before: int = 0
    n_retried: int = 0
    failure_kinds: Counter = field(default_factory=Counter)
    worker_losses: int = 0
    wall_time: float = 0.0

    @property
    def n_failed_total(self) -> int:
        """Failed tasks of this campaign, this call's and earlier ones."""
        return self.n_failed + self.n_failed_before

    @property
    def n_labeled_total(self) -> int:
        """Labeled tasks of this campaign, this call's and earlier ones (skipped ones not failed before)."""
        return self.n_labeled + self.n_skipped - self.n_failed_before

    @property
    def failed_ratio(self) -> float:
        """Failed tasks over all tasks of the campaign (0 for an empty campaign)."""
        return self.n_failed_total / self.n_tasks if self.n_tasks else 0.0

    def summary(self) -> str:
        """One line for logs."""
        kinds = ", ".join(f"{k} x{v}" for k, v in self.failure_kinds.most_common())
        retried = f" ({self.n_retried} earlier failures retried)" if self.n_retried else ""
        return (f"{self.n_tasks} tasks: {self.n_labeled} labeled, {self.n_failed} failed"
                f"{f' ({kinds})' if kinds else ''}{retried}, {self.n_skipped} already done; failed "
                f"ratio {self.failed_ratio:.1%}; {self.wall_time:.1f} s")


class LabelCampaign:
    """Label ``tasks`` with ``labeler`` on ``executor`` and write each outcome to ``store``.

    The driver (:meth:`run`, in this process) is the only writer of the store. Outcomes that
    finish together are written together: labeled ones in one transaction, failed ones in another
    (a store commit costs milliseconds; cheap labels arrive in bursts).

    Args:
        tasks: the structures; task ids must be unique. Ids already in the store are skipped.
        labeler: a picklable labeler.
        store: the store, written by this process only.
        executor: any ``concurrent.futures.Executor`` (default: a :class:`LocalExecutor` made
            and shut down by :meth:`run`).
        policy: time limit, retries, force bound, task directories (see LabelPolicy).
        worker_retries: resubmissions of a task whose worker was lost (dead pool process,
            Dask ``KilledWorker``) before it is recorded failed as ``crash``.
        budget: if given, stop with :class:`FailedRatioExceeded` as soon as the failed ratio of
            the campaign is certain to exceed its maximum (labels already written stay). It counts
            this call's failures and the earlier ones not retried.
        retry_failed: label again every task the store holds as failed (by default only those
            that failed under other label settings).
        iteration: for messages.
        on_outcome: called with ``(task, outcome)`` after each store write (progress display).
    """

    def __init__(self, tasks: Sequence[LabelTask], labeler: Labeler, store: Store,
                 executor: Executor | None = None, policy: LabelPolicy = LabelPolicy(), *,
                 worker_retries: int = 3, budget: FailureBudget | None = None, iteration: int | None = None,
                 on_outcome: Callable[[LabelTask, TaskOutcome], Any] | None = None,
                 retry_failed: bool = False) -> None:
        dups = [tid for tid, n in Counter(t.task_id for t in tasks).items() if n > 1]
        if dups:
            raise DuplicateTaskError(f"task ids occur more than once in the campaign: {dups[:5]}")
        self.tasks, self.labeler, self.store, self.executor, self.policy = tasks, labeler, store, executor, policy
        self.worker_retries, self.budget, self.iteration = worker_retries, budget, iteration
        self.on_outcome, self.retry_failed = on_outcome, retry_failed
        self.report = CampaignReport(n_tasks=len(tasks))
        self._futures: dict[Future, tuple[LabelTask, int]] = {}
        self._replacing: dict[str, int] = {}  # task id -> store row of the failure a retry replaces

    def run(self) -> CampaignReport:
        """Run the tasks not yet in the store; returns the :class:`CampaignReport`."""
        start = time.perf_counter()
        report = self.report
        done = self.store.task_ids()
        self._settings = label_settings_hash(self.labeler, self.policy)
        if done:
            ours = {t.task_id for t in self.tasks}
            failed = {prov.task_id: (int(a.info["id"]), prov.label_settings)
                      for a, _, prov in self.store.failed() if prov.task_id in ours}
            self._replacing = {tid: row for tid, (row, settings) in failed.items()
                               if self.retry_failed or settings != self._settings}
            report.n_failed_before = len(failed) - len(self._replacing)
            report.n_retried = len(self._replacing)
        pending = [t for t in self.tasks if t.task_id not in done or t.task_id in self._replacing]
        report.n_skipped = len(self.tasks) - len(pending)
        self._labeler_id = {"labeler": self.labeler.name, "labeler_hash": self.labeler.settings_hash()}
        log.info("labeling %d tasks with %s (%d already in the store%s)", len(pending), self.labeler.name,
                 report.n_skipped, f", {report.n_retried} earlier failures retried" if report.n_retried else "")
        own_executor = self.executor is None
        if own_executor:
            from pesgen.execute.local import LocalExecutor

            self.executor = LocalExecutor()
        try:
            for task in pending:
                self._submit(task, 0)
            check_alive = getattr(self.executor, "check_alive", None)  # a cluster that may lose its workers
            while self._futures:
                finished, _ = wait(list(self._futures), timeout=None if check_alive is None else 1.0,
                                   return_when=FIRST_COMPLETED)
                if finished:
                    self._collect(finished)
                else:
                    check_alive(len(self._futures))
        finally:
            for future in self._futures:
                future.cancel()
            if own_executor:
                self.executor.shutdown(wait=True, cancel_futures=True)
                self.executor = None
        report.wall_time = time.perf_counter() - start
        log.info("%s", report.summary())
        if self.budget is not None:
            self.budget.check_report(report, self.iteration)
        return report

    def _collect(self, finished: set[Future]) -> None:
        """Record the outcomes of ``finished`` futures (in submission order); resubmit the tasks
        whose worker was lost, up to ``worker_retries`` times."""
        group = []
        for future in [f for f in self._futures if f in finished]:
            task, losses = self._futures.pop(future)
            try:
                outcome = future.result()
            except LabelerConfigError:
                if group:
                    self._record(group)  # keep what finished before the bad configuration
                raise
            except (Exception, CancelledError) as err:  # the worker, not the label, failed
                self.report.worker_losses += 1
                if losses < self.worker_retries:
                    log.warning("task %s lost with its worker (%s: %s); resubmitting", task.task_id,
                                type(err).__name__, err)
                    self._submit(task, losses + 1)
                    continue
                outcome = TaskOutcome(task_id=task.task_id, failure_kind="crash", failure_reason=f"worker lost "
                                      f"{losses + 1} times, last: {type(err).__name__}: {err}")
            group.append((task, outcome))
        if group:
            self._record(group)

    def _submit(self, task: LabelTask, losses: int) -> None:
        future = self.executor.submit(run_label_task, self.labeler, task.atoms, task.task_id, self.policy)
        self._futures[future] = (task, losses)

    def _record(self, group: list[tuple[LabelTask, TaskOutcome]]) -> None:
        """Write outcomes that finished together, then count them and check the budget."""
        from pesgen.data.store import Provenance

        report, labeled, failed = self.report, [], []
        for task, outcome in group:
            prov = (task.provenance or Provenance()).replace(**self._labeler_id, wall_time=outcome.wall_time,
                                                              task_id=task.task_id)
            if outcome.ok:
                r = outcome.result
                labeled.append((task.atoms, r.energy, r.forces, r.stress, prov))
            else:
                failed.append((task.atoms, outcome.reason, prov.replace(label_settings=self._settings)))
                log.warning("task %s failed: %s", task.task_id, outcome.reason)
        replaced = self._replacing
        self.store.add_many(labeled, [replaced.pop(p.task_id) for *_, p in labeled if p.task_id in replaced])
        self.store.add_failed_many(failed, [replaced.pop(p.task_id) for *_, p in failed if p.task_id in replaced])
        report.n_labeled += len(labeled)
        report.n_failed += len(failed)
        for task, outcome in group:
            if not outcome.ok:
                report.failure_kinds[outcome.failure_kind] += 1
            if self.on_outcome is not None:
                self.on_outcome(task, outcome)
        # The final ratio can only grow past the bound once this many have failed.
        if self.budget is not None and report.n_failed_total > self.budget.max_failed_ratio * report.n_tasks:
            self.budget.check(report.n_failed_total, report.n_tasks, self.iteration, report.failure_kinds)
