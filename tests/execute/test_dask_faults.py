"""A Dask cluster that cannot give workers never hangs a run: no submit command (a Slurm cluster
without `sbatch`) is a clear error at once, no worker within `start_timeout` or none for
`worker_timeout` while tasks wait raises ExecutorUnavailable; and the tasks of a driver killed by
SIGKILL are released by the scheduler (none of them starts afterwards)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from ase.build import bulk

from pesgen.data.store import Provenance, Store
from pesgen.execute import ExecutorConfigError, ExecutorUnavailable, make_executor
from pesgen.execute.dask_backend import DaskExecutor
from pesgen.label import EMTLabeler, FaultInjectingLabeler, LabelCampaign, LabelTask, make_task_id

distributed = pytest.importorskip("distributed")


def _cluster(n_workers: int):
    return distributed.LocalCluster(n_workers=n_workers, processes=False, threads_per_worker=1, protocol="tcp://",
                                    dashboard_address=None)


def _tasks(labeler, n: int) -> list[LabelTask]:
    out = []
    for i in range(n):
        atoms = bulk("Al", "fcc", a=4.05, cubic=True)
        atoms.rattle(0.05, seed=i)
        out.append(LabelTask(make_task_id(atoms, labeler.settings_hash(), 1), atoms, Provenance(iteration=1, walker=i)))
    return out


@pytest.mark.skipif(shutil.which("sbatch") is not None, reason="this machine can submit Slurm jobs")
def test_slurm_without_sbatch_is_a_clear_error_at_once():
    t0 = time.monotonic()
    with pytest.raises(ExecutorConfigError, match=r"jobqueue \(slurm\): the submit command 'sbatch' is not on"):
        make_executor({"kind": "dask", "jobs": 1, "jobqueue": {"system": "slurm", "cores": 1, "memory": "1GB"}})
    assert time.monotonic() - t0 < 30


def test_no_worker_within_start_timeout():
    with _cluster(0) as cluster:
        t0 = time.monotonic()
        with pytest.raises(ExecutorUnavailable, match=r"no worker connected within start_timeout = 1.5 s"):
            make_executor({"kind": "dask", "address": cluster.scheduler_address, "start_timeout": 1.5})
        assert time.monotonic() - t0 < 30


def test_workers_gone_during_a_campaign_stop_it_after_worker_timeout(tmp_path):
    labeler = FaultInjectingLabeler(EMTLabeler(), delay=0.3)
    store = Store(tmp_path / "store.db")
    with _cluster(1) as cluster:
        ex = DaskExecutor(address=cluster.scheduler_address, worker_timeout=1.5)

        def lose_the_workers(task, outcome):
            if len(store) == 1:
                cluster.scale(0)  # the jobs ended (walltime): nobody left to run the rest

        t0 = time.monotonic()
        with pytest.raises(ExecutorUnavailable, match=r"no worker connected for worker_timeout = 1.5 s while \d+ "):
            LabelCampaign(_tasks(labeler, 8), labeler, store, ex, on_outcome=lose_the_workers).run()
        assert time.monotonic() - t0 < 60
        ex.shutdown()
    assert 1 <= len(store) < 8  # what finished is kept


DRIVER = textwrap.dedent("""
    import sys, time
    from ase.build import bulk
    from pesgen.execute.dask_backend import DaskExecutor
    from pesgen.label import EMTLabeler, FaultInjectingLabeler, LabelPolicy, run_label_task

    address, folder = sys.argv[1], sys.argv[2]
    ex = DaskExecutor(address=address)
    labeler = FaultInjectingLabeler(EMTLabeler(), delay=1.0)
    futures = [ex.submit(run_label_task, labeler, bulk("Al", "fcc", a=4.05, cubic=True), f"t{i}",
                         LabelPolicy(workdir_root=folder)) for i in range(20)]
    print("submitted", flush=True)
    time.sleep(600)
""")


def test_the_tasks_of_a_killed_driver_are_released(tmp_path):
    with _cluster(1) as cluster:
        driver = subprocess.Popen([sys.executable, "-c", DRIVER, cluster.scheduler_address, str(tmp_path / "tasks")],
                                  stdout=subprocess.PIPE, text=True, start_new_session=True)
        try:
            assert driver.stdout.readline().strip() == "submitted"
            deadline = time.monotonic() + 60
            while not (tmp_path / "tasks").is_dir() or not any((tmp_path / "tasks").iterdir()):
                assert time.monotonic() < deadline, "no task started"
                time.sleep(0.05)
        finally:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
        deadline = time.monotonic() + 30
        while cluster.scheduler.tasks and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not cluster.scheduler.tasks  # the scheduler forgot the dead client's tasks
        started = len(list((tmp_path / "tasks").iterdir()))
        time.sleep(2.5)  # 2.5 labels' time: none more starts
        assert len(list((tmp_path / "tasks").iterdir())) == started < 20
