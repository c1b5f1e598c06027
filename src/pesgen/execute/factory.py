"""The ``[executor]`` table: one model per back end, chosen by ``kind`` (default "local")."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Annotated, Any

from pydantic import Discriminator, Tag

from pesgen.execute.dask_backend import DaskSettings
from pesgen.execute.errors import ExecutorConfigError
from pesgen.execute.local import LocalSettings, SerialSettings
from pesgen.schema import parse


def _kind(value: Any) -> str:
    return value.get("kind", "local") if isinstance(value, dict) else getattr(value, "kind", "local")


#: Settings of any executor: "local" (a process pool, the default), "serial" or "dask".
ExecutorConfig = Annotated[Annotated[LocalSettings, Tag("local")] | Annotated[SerialSettings, Tag("serial")]
                           | Annotated[DaskSettings, Tag("dask")], Discriminator(_kind)]


def make_executor(config: dict[str, Any] | None = None) -> Executor:
    """Build an executor: ``{"kind": "local", "max_workers": 4}`` (the default),
    ``{"kind": "serial"}``, or ``{"kind": "dask", "address" | "local" | "jobqueue": ...}``.

    All returned objects follow the ``concurrent.futures.Executor`` contract (``submit``,
    ``map``, ``shutdown``, context manager). Unknown kinds/keys raise ExecutorConfigError.
    """
    return parse(ExecutorConfig, config or {}, "executor", ExecutorConfigError).build()
