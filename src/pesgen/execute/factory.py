"""``make_executor(config)``: the executor named by a configuration dict."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

from pesgen.execute.errors import ExecutorConfigError
from pesgen.execute.local import LocalExecutor, SerialExecutor

_KEYS = {
    "local": {"max_workers", "mp_context", "max_tasks_per_child"},
    "serial": set(),
    "dask": {"address", "local", "jobqueue", "jobs", "adapt", "submit_kwargs",
             "connect_timeout"},
}


def make_executor(config: dict[str, Any] | None = None) -> Executor:
    """Build an executor: ``{"kind": "local", "max_workers": 4}`` (the default),
    ``{"kind": "serial"}``, or ``{"kind": "dask", "address" | "local" | "jobqueue": ...}``.

    All returned objects follow the ``concurrent.futures.Executor`` contract (``submit``,
    ``map``, ``shutdown``, context manager). Unknown kinds/keys raise ExecutorConfigError.
    """
    conf = dict(config or {"kind": "local"})
    kind = conf.pop("kind", "local")
    if kind not in _KEYS:
        raise ExecutorConfigError(f"executor 'kind' is {kind!r}; choose one of {sorted(_KEYS)}")
    unknown = sorted(set(conf) - _KEYS[kind])
    if unknown:
        raise ExecutorConfigError(f"executor kind {kind!r}: unknown key(s) {unknown}; "
                                  f"allowed: {sorted(_KEYS[kind])}")
    if kind == "local":
        return LocalExecutor(**conf)
    if kind == "serial":
        return SerialExecutor()
    from pesgen.execute.dask_backend import DaskExecutor

    return DaskExecutor(**conf)
