"""Dask back end: a LocalCluster with a worker killed mid-run labels every task exactly once;
dask-jobqueue clusters (Slurm, PBS, LSF) are built from config dicts (job scripts checked,
nothing submitted)."""

from __future__ import annotations

import os
import signal
from collections import Counter

import numpy as np
import pytest
from ase.build import bulk

from pesgen.data.store import Provenance, Store
from pesgen.execute import ExecutorConfigError, make_executor, make_jobqueue_cluster
from pesgen.label import (
    FaultInjectingLabeler,
    LabelCampaign,
    LabelTask,
    LammpsLabeler,
    make_task_id,
)


def almg(seed: int):
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 2, 2))
    rng = np.random.default_rng(seed)
    atoms.symbols[rng.choice(32, 6, replace=False)] = "Mg"
    atoms.rattle(0.08, seed=seed)
    return atoms


@pytest.mark.slow
def test_worker_killed_mid_run_labels_all_exactly_once(tmp_path):
    meam = LammpsLabeler(["Al", "Mg"], "meam-jelinek2012")
    labeler = FaultInjectingLabeler(meam, delay=0.4)
    tasks = [LabelTask(make_task_id(a, labeler.settings_hash(), 1), a,
                       Provenance(iteration=1, origin="explored", walker=i))
             for i, a in enumerate(almg(s) for s in range(20))]
    store = Store(tmp_path / "store.db")
    killed = {}

    with make_executor({"kind": "dask", "local": {"n_workers": 2,
                                                  "threads_per_worker": 1}}) as ex:
        assert ex.n_workers == 2
        worker_pids = ex.client.run(os.getpid)

        def kill_one(task, outcome):
            if len(killed) == 0 and sum(1 for _ in store.task_ids()) >= 3:
                address, pid = sorted(worker_pids.items())[0]
                os.kill(pid, signal.SIGKILL)  # a worker dies with a task in flight
                killed[address] = pid

        report = LabelCampaign(tasks, labeler, store, ex, on_outcome=kill_one).run()
        # the nanny restarted the killed worker: a different process now
        assert ex.client.run(os.getpid) != worker_pids

    assert killed, "no worker was killed"
    assert report.n_labeled == 20 and report.n_failed == 0
    ids = Counter(a.info["provenance"].task_id for a in store.frames())
    assert set(ids) == {t.task_id for t in tasks} and max(ids.values()) == 1
    assert len(store) == 20 and store.count_failed() == 0
    # labels done on Dask workers equal direct evaluations
    by_id = {t.task_id: t.atoms for t in tasks}
    frame = store.frames()[7]
    direct = meam.label(by_id[frame.info["provenance"].task_id])
    np.testing.assert_allclose(frame.get_forces(), direct.forces, atol=1e-10)


def test_dask_connects_to_a_scheduler_address():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        with make_executor({"kind": "dask", "address": cluster.scheduler_address}) as ex:
            assert ex.submit(pow, 2, 10).result() == 1024
            assert list(ex.map(pow, [2, 3], [2, 2])) == [4, 9]


def test_dask_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ExecutorConfigError, match="tcp://127.0.0.1:9"):
        make_executor({"kind": "dask", "address": "tcp://127.0.0.1:9", "connect_timeout": 1})


@pytest.mark.parametrize("system,directives", [
    ("slurm", ["#SBATCH -p compute", "#SBATCH -A mat123", "#SBATCH -t 02:00:00",
               "#SBATCH --cpus-per-task=16", "#SBATCH --constraint=cpu"]),
    ("pbs", ["#PBS -q compute", "#PBS -A mat123", "#PBS -l walltime=02:00:00",
             "#PBS -l select=1:ncpus=16", "#PBS --constraint=cpu"]),
    ("lsf", ["#BSUB -q compute", "#BSUB -P \"mat123\"", "#BSUB -W 02:00", "#BSUB -n 16",
             "#BSUB --constraint=cpu"]),
])
def test_jobqueue_cluster_job_script(system, directives):
    account = "project" if system == "lsf" else "account"
    walltime = "02:00" if system == "lsf" else "02:00:00"
    config = {"system": system, "cores": 16, "memory": "64GB", "processes": 4,
              "queue": "compute", account: "mat123", "walltime": walltime,
              "job_extra_directives": ["--constraint=cpu"],
              "job_script_prologue": ["module load gpaw", "export OMP_NUM_THREADS=1"]}
    cluster = make_jobqueue_cluster(config)
    try:
        script = cluster.job_script()
        for line in directives:
            assert line in script, (line, script)
        assert "module load gpaw" in script and "export OMP_NUM_THREADS=1" in script
        assert "--nworkers 4" in script and "--nthreads 4" in script
        assert cluster.scheduler_address in script
        assert len(cluster.workers) == 0  # nothing submitted
    finally:
        cluster.close()


def test_jobqueue_config_errors():
    with pytest.raises(ExecutorConfigError, match="'torque'"):
        make_jobqueue_cluster({"system": "torque", "cores": 1, "memory": "1GB"})
    with pytest.raises(ExecutorConfigError, match=r"unknown key\(s\) \['partition'\]"):
        make_jobqueue_cluster({"system": "slurm", "cores": 1, "memory": "1GB",
                               "partition": "x"})
    with pytest.raises(ExecutorConfigError, match="'memory' is required"):
        make_jobqueue_cluster({"system": "slurm", "cores": 1})
    with pytest.raises(ExecutorConfigError, match="'jobs'/'adapt'"):
        make_executor({"kind": "dask", "address": "tcp://x:1", "jobs": 2})
