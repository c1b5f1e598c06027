"""The local back ends follow the concurrent.futures contract; a dead worker heals the pool."""

from __future__ import annotations

import os
from concurrent.futures import Executor, as_completed
from concurrent.futures.process import BrokenProcessPool

import pytest

from pesgen.execute import (
    ExecutorConfigError,
    LocalExecutor,
    SerialExecutor,
    make_executor,
)


def square(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def die(code: int) -> None:
    os._exit(code)


def fail(message: str) -> None:
    raise ValueError(message)


def test_local_pool_runs_in_worker_processes():
    with make_executor({"kind": "local", "max_workers": 2}) as ex:
        assert isinstance(ex, Executor) and ex.n_workers == 2
        futures = [ex.submit(square, i) for i in range(8)]
        results = sorted(f.result()[0] for f in as_completed(futures))
        pids = {f.result()[1] for f in futures}
        assert list(ex.map(square, [3]))[0][0] == 9
    assert results == [i * i for i in range(8)]
    assert os.getpid() not in pids


def test_exceptions_travel_through_futures():
    for ex in (LocalExecutor(max_workers=1), SerialExecutor()):
        with ex:
            with pytest.raises(ValueError, match="boom"):
                ex.submit(fail, "boom").result()


def test_pool_heals_after_a_worker_dies():
    with LocalExecutor(max_workers=1) as ex:
        with pytest.raises(BrokenProcessPool):
            ex.submit(die, 3).result()
        assert ex.submit(square, 4).result()[0] == 16
        assert ex.restarts == 1


def test_serial_executor_runs_here():
    with SerialExecutor() as ex:
        assert ex.submit(square, 5).result() == (25, os.getpid())


def test_config_errors():
    with pytest.raises(ExecutorConfigError, match="'slurm'"):
        make_executor({"kind": "slurm"})
    with pytest.raises(ExecutorConfigError, match=r"unknown key\(s\) \['workers'\]"):
        make_executor({"kind": "local", "workers": 2})
    with pytest.raises(ExecutorConfigError, match="max_workers"):
        make_executor({"kind": "local", "max_workers": 0})
    with pytest.raises(ExecutorConfigError, match="mp_context"):
        LocalExecutor(mp_context="teleport")
    with pytest.raises(ExecutorConfigError, match="exactly one"):
        make_executor({"kind": "dask"})
    with pytest.raises(ExecutorConfigError, match="exactly one"):
        make_executor({"kind": "dask", "address": "tcp://x:1", "local": {}})
