"""Dask ``distributed`` as the executor for a cluster, behind the ``concurrent.futures`` API.

Three ways to get workers: connect to a running scheduler (``address``), start a
``LocalCluster`` on this machine (``local``), or start a dask-jobqueue cluster on a batch
system (``jobqueue``). Tasks are submitted with ``pure=False`` (every submission runs); Dask
reruns the tasks of a worker that dies on another worker.

Two time limits keep a cluster that cannot give workers from hanging a run: ``start_timeout``
(s) for the first worker to connect, and ``worker_timeout`` (s) for how long tasks may wait with no
worker connected (:meth:`DaskExecutor.check_alive`, which a labeling campaign calls while it
waits). Both raise :class:`~pesgen.execute.errors.ExecutorUnavailable`.
"""

from __future__ import annotations

from concurrent.futures import Executor, Future
from time import monotonic
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from pesgen.execute.errors import ExecutorConfigError, ExecutorUnavailable
from pesgen.execute.jobqueue import check_jobqueue_config, check_submit_command, make_jobqueue_cluster
from pesgen.schema import StrictModel, parse


def _distributed():
    try:
        import distributed
    except ImportError as err:
        raise ExecutorConfigError("the Dask executor needs distributed: pip install "
                                  "distributed dask-jobqueue (or 'pesgen[dask]')") from err
    return distributed


class DaskExecutor(Executor):
    """A ``concurrent.futures.Executor`` running tasks on a Dask cluster.

    Give exactly one of:
        address: a running scheduler, e.g. ``"tcp://10.0.0.1:8786"``.
        local: ``LocalCluster`` keywords, e.g. ``{"n_workers": 2, "threads_per_worker": 1}``.
        jobqueue: a dask-jobqueue config (:func:`make_jobqueue_cluster`), scaled to ``jobs``
            jobs or adaptively between ``adapt = {"minimum_jobs": .., "maximum_jobs": ..}``.
        cluster / client: existing objects (the executor then does not close them).

    Args:
        submit_kwargs: ``Client.submit`` keywords for every task: ``resources``, ``workers``,
            ``allow_other_workers``, ``retries``.
        connect_timeout: seconds to wait for the scheduler.
        start_timeout: seconds to wait for the first worker (not waited for when ``adapt`` may
            scale to zero jobs: workers come when tasks do).
        worker_timeout: seconds tasks may wait with no worker connected before
            :meth:`check_alive` raises.
    """

    def __init__(self, *, address: str | None = None, local: dict[str, Any] | None = None,
                 jobqueue: dict[str, Any] | None = None, jobs: int | None = None,
                 adapt: dict[str, Any] | None = None, cluster: Any = None, client: Any = None,
                 submit_kwargs: dict[str, Any] | None = None,
                 connect_timeout: float = 30.0, start_timeout: float = 600.0,
                 worker_timeout: float = 600.0) -> None:
        given = [k for k, v in (("address", address), ("local", local), ("jobqueue", jobqueue),
                                ("cluster", cluster), ("client", client)) if v is not None]
        if len(given) != 1:
            raise ExecutorConfigError("dask executor: give exactly one of 'address', 'local', "
                                      f"'jobqueue' (got {given or 'none'})")
        if (jobs is not None or adapt is not None) and jobqueue is None:
            raise ExecutorConfigError("dask executor: 'jobs'/'adapt' apply to 'jobqueue' only")
        distributed = _distributed()
        self._own_cluster = None
        self._own_client = client is None
        if local is not None:
            opts = parse(LocalClusterSettings, local, "dask executor 'local'", ExecutorConfigError).model_dump(
                exclude_none=True)
            cluster = self._own_cluster = distributed.LocalCluster(dashboard_address=None, **opts)
        elif jobqueue is not None:
            cluster = self._own_cluster = make_jobqueue_cluster(jobqueue)
            try:
                check_submit_command(cluster, str(jobqueue.get("system")))
            except ExecutorConfigError:
                cluster.close()
                raise
            if adapt is not None:
                cluster.adapt(**adapt)
            else:
                cluster.scale(jobs=1 if jobs is None else int(jobs))
        if client is None:
            target = address if address is not None else cluster
            try:
                client = distributed.Client(target, timeout=connect_timeout)
            except OSError as err:
                if self._own_cluster is not None:
                    self._own_cluster.close()
                raise ExecutorConfigError(f"dask executor: cannot connect to scheduler "
                                          f"{target!r}: {err}") from err
        self.client = client
        self.cluster = cluster
        self.worker_timeout = float(worker_timeout)
        self._no_worker_since: float | None = None
        if adapt is None or int(adapt.get("minimum_jobs", adapt.get("minimum", 0)) or 0) > 0:
            self._wait_for_first_worker(float(start_timeout), address if address is not None else
                                        ("jobqueue" if jobqueue is not None else "local" if local is not None
                                         else "cluster"))
        try:
            self._executor = client.get_executor(pure=False, **(submit_kwargs or {}))
        except TypeError as err:
            raise ExecutorConfigError(f"dask executor 'submit_kwargs': {err}") from err

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """Run ``fn(*args, **kwargs)`` on a worker; returns a concurrent.futures Future
        (Dask's own ``ClientExecutor`` does the bridging)."""
        return self._executor.submit(fn, *args, **kwargs)

    def _wait_for_first_worker(self, timeout: float, source: str) -> None:
        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except TimeoutError as err:
            self.shutdown()
            why = {"jobqueue": "are its jobs still queued, or did they fail? (the batch system's queue and "
                               "the jobs' log_directory tell)",
                   "local": "the LocalCluster could not start its worker processes"}.get(
                source, f"does the scheduler at {source!r} have workers?")
            raise ExecutorUnavailable(f"dask executor: no worker connected within start_timeout = {timeout:g} s; "
                                      f"{why}") from err

    def check_alive(self, waiting: int = 0) -> None:
        """Raise :class:`ExecutorUnavailable` once no worker has been connected for longer than
        ``worker_timeout`` s (``waiting``: tasks waiting, for the message)."""
        if self.n_workers > 0:
            self._no_worker_since = None
            return
        now = monotonic()
        if self._no_worker_since is None:
            self._no_worker_since = now
        elif now - self._no_worker_since > self.worker_timeout:
            raise ExecutorUnavailable(f"dask executor: no worker connected for worker_timeout = "
                                      f"{self.worker_timeout:g} s while {waiting} task(s) wait (the jobs "
                                      "ended or never started?)")

    @property
    def n_workers(self) -> int:
        """Worker threads currently connected (what can run at once)."""
        info = self.client.scheduler_info()
        return sum(w.get("nthreads", 1) for w in info.get("workers", {}).values())

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._own_client:
            self.client.close()
        if self._own_cluster is not None:
            self._own_cluster.close()

    def __repr__(self) -> str:
        return f"DaskExecutor(scheduler={self.client.scheduler.address!r})"


class LocalClusterSettings(StrictModel):
    """``[executor] kind = "dask"``, ``local = {...}``: the ``distributed.LocalCluster`` keywords
    pesgen passes (``memory_limit`` per worker, e.g. "4GB"; no dashboard unless an address is given)."""

    n_workers: int = Field(2, ge=1)
    threads_per_worker: int = Field(1, ge=1)
    processes: bool = True
    memory_limit: str | int | None = None
    dashboard_address: str | None = None
    local_directory: str | None = None
    worker_class: str | None = None


class DaskSettings(StrictModel):
    """``[executor] kind = "dask"``: a :class:`DaskExecutor` (exactly one of ``address``, ``local``
    and ``jobqueue``; ``connect_timeout``, ``start_timeout`` and ``worker_timeout`` in s)."""

    kind: Literal["dask"]
    address: str | None = None
    local: LocalClusterSettings | None = None
    jobqueue: dict[str, Any] | None = None
    jobs: int | None = None
    adapt: dict[str, Any] | None = None
    submit_kwargs: dict[str, Any] | None = None
    connect_timeout: float = Field(30.0, gt=0, description="s to reach the scheduler")
    start_timeout: float = Field(600.0, gt=0, description="s for the first worker to connect")
    worker_timeout: float = Field(600.0, gt=0, description="s tasks may wait with no worker connected")

    @field_validator("jobqueue")
    @classmethod
    def _jobqueue_known(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:  # the batch system and its key names, checked before anything starts
            check_jobqueue_config(value, required=False)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> DaskSettings:
        given = [k for k in ("address", "local", "jobqueue") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of 'address', 'local', 'jobqueue' (got {given or 'none'})")
        if (self.jobs is not None or self.adapt is not None) and self.jobqueue is None:
            raise ValueError("'jobs'/'adapt' apply to 'jobqueue' only")
        return self

    def build(self) -> DaskExecutor:
        return DaskExecutor(**self.model_dump(exclude={"kind", "local"}),
                            local=None if self.local is None else self.local.model_dump(exclude_none=True))
