"""Executors on this machine: a process pool (the default) and an in-process serial one."""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

from pydantic import Field, field_validator

from pesgen.execute.errors import ExecutorConfigError
from pesgen.execute.lifeline import watch_driver
from pesgen.schema import StrictModel


class LocalExecutor(Executor):
    """A ``concurrent.futures`` process pool that heals itself.

    If a worker process dies (segfault, out-of-memory kill), Python marks the whole pool
    broken and fails its pending futures with ``BrokenProcessPool``; the next :meth:`submit`
    starts a fresh pool, so the caller can resubmit the lost tasks. If the process that made the
    pool dies (even by SIGKILL), every worker kills itself and its label subprocesses within
    about a second (:func:`pesgen.execute.lifeline.watch_driver`).

    Args:
        max_workers: worker processes (default: the number of CPUs).
        mp_context: ``"forkserver"`` (default on Linux: workers fork from a clean server,
            not from a driver that may hold torch/OpenMP threads), ``"spawn"`` or ``"fork"``.
            Scripts using ``forkserver``/``spawn`` need an ``if __name__ == "__main__":`` guard.
        max_tasks_per_child: recycle workers after this many tasks (``None``: never).
    """

    def __init__(self, max_workers: int | None = None, mp_context: str | None = None,
                 max_tasks_per_child: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ExecutorConfigError(f"local executor: 'max_workers' must be >= 1, "
                                      f"got {max_workers}")
        methods = multiprocessing.get_all_start_methods()
        if mp_context is None:
            mp_context = "forkserver" if "forkserver" in methods else methods[0]
        if mp_context not in methods:
            raise ExecutorConfigError(f"local executor: 'mp_context' {mp_context!r} is not "
                                      f"available here; choose one of {methods}")
        self.max_workers = max_workers or os.cpu_count() or 1
        self.mp_context = mp_context
        self.max_tasks_per_child = max_tasks_per_child
        self.restarts = 0
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        kwargs: dict[str, Any] = {}
        if self.max_tasks_per_child is not None:
            kwargs["max_tasks_per_child"] = self.max_tasks_per_child
        return ProcessPoolExecutor(self.max_workers,
                                   mp_context=multiprocessing.get_context(self.mp_context),
                                   initializer=watch_driver, initargs=(os.getpid(),), **kwargs)

    def submit(self, fn, /, *args, **kwargs) -> Future:
        with self._lock:
            try:
                return self._pool.submit(fn, *args, **kwargs)
            except BrokenProcessPool:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                self.restarts += 1
                return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    @property
    def n_workers(self) -> int:
        """Number of worker processes."""
        return self.max_workers

    def __repr__(self) -> str:
        return f"LocalExecutor(max_workers={self.max_workers}, mp_context={self.mp_context!r})"


class SerialExecutor(Executor):
    """Runs each task in this process when it is submitted (debugging, profiling, tests).

    Exceptions are delivered through the future, as with any executor.
    """

    n_workers = 1

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:  # delivered to the caller by future.result()
            future.set_exception(err)
        return future

    def __repr__(self) -> str:
        return "SerialExecutor()"


class LocalSettings(StrictModel):
    """``[executor] kind = "local"`` (the default): a :class:`LocalExecutor`."""

    kind: Literal["local"] = "local"
    max_workers: int | None = Field(None, ge=1)
    mp_context: str | None = None
    max_tasks_per_child: int | None = Field(None, ge=1)

    @field_validator("mp_context")
    @classmethod
    def _available(cls, value: str | None) -> str | None:
        methods = multiprocessing.get_all_start_methods()
        if value is not None and value not in methods:
            raise ValueError(f"{value!r} is not available here; choose one of {methods}")
        return value

    def build(self) -> LocalExecutor:
        return LocalExecutor(self.max_workers, self.mp_context, self.max_tasks_per_child)


class SerialSettings(StrictModel):
    """``[executor] kind = "serial"``: a :class:`SerialExecutor` (labels in this process)."""

    kind: Literal["serial"]

    def build(self) -> SerialExecutor:
        return SerialExecutor()
