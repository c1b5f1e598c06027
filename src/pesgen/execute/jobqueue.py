"""Dask clusters on batch schedulers (Slurm, PBS, LSF, ...) through ``dask-jobqueue``.

A configuration dict names the scheduler and gives the job description; the keys are those
of the dask-jobqueue cluster class (``cores``, ``memory``, ``processes``, ``queue``,
``account``, ``walltime``, ``job_extra_directives``, ``job_script_prologue``, ``interface``,
``local_directory``, ``log_directory``, ``python``, ...). Each job starts ``processes`` Dask
workers; pesgen labels run one per worker thread.
"""

from __future__ import annotations

import inspect
import shutil
from typing import Any

from pesgen.execute.errors import ExecutorConfigError

#: ``system`` value -> dask_jobqueue class name.
JOBQUEUE_SYSTEMS = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "lsf": "LSFCluster",
    "sge": "SGECluster",
    "htcondor": "HTCondorCluster",
    "oar": "OARCluster",
    "moab": "MoabCluster",
}


def _jobqueue_class(system: str):
    if system not in JOBQUEUE_SYSTEMS:
        raise ExecutorConfigError(f"jobqueue 'system' is {system!r}; choose one of "
                                  f"{sorted(JOBQUEUE_SYSTEMS)}")
    try:
        import dask_jobqueue
    except ImportError as err:
        raise ExecutorConfigError("a jobqueue cluster needs dask-jobqueue: "
                                  "pip install dask-jobqueue (or 'pesgen[dask]')") from err
    return getattr(dask_jobqueue, JOBQUEUE_SYSTEMS[system])


def jobqueue_keywords(system: str) -> list[str]:
    """The job-description keys accepted for ``system`` (from the dask-jobqueue classes)."""
    cls = _jobqueue_class(system)
    names: list[str] = []
    for klass in (cls, cls.job_cls):
        for base in klass.__mro__:
            init = base.__dict__.get("__init__")
            if init is None:
                continue
            for name, p in inspect.signature(init).parameters.items():
                if name in ("self", "scheduler", "name", "loop", "job_cls") or p.kind in (
                        p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    continue
                if name not in names:
                    names.append(name)
    return names


def check_submit_command(cluster: Any, system: str) -> None:
    """Raise :class:`ExecutorConfigError` if this machine lacks the batch system's submit command
    (``sbatch``, ``qsub``, ...): without it jobs fail to start and no worker ever comes."""
    command = str(getattr(cluster.job_cls, "submit_command", "") or "").split()
    if command and shutil.which(command[0]) is None:
        raise ExecutorConfigError(f"jobqueue ({system}): the submit command {command[0]!r} is not on this "
                                  f"machine's PATH; run pesgen where {system} jobs can be submitted (a login "
                                  "node), or choose another executor")


def check_jobqueue_config(config: Any, required: bool = True) -> tuple[type, dict[str, Any]]:
    """The dask-jobqueue class and its keywords for ``{"system": "slurm", ...}``; raises
    :class:`ExecutorConfigError` naming an unknown system, an unknown key or (``required``) a
    missing ``cores`` / ``memory`` (a config may leave them to dask-jobqueue's own configuration
    file until the cluster is built)."""
    if not isinstance(config, dict):
        raise ExecutorConfigError("'jobqueue' must be a table/dict")
    conf = dict(config)
    system = conf.pop("system", None)
    if system is None:
        raise ExecutorConfigError(f"jobqueue config needs 'system', one of "
                                  f"{sorted(JOBQUEUE_SYSTEMS)}")
    cls = _jobqueue_class(str(system).lower())
    allowed = jobqueue_keywords(str(system).lower())
    unknown = sorted(set(conf) - set(allowed))
    if unknown:
        raise ExecutorConfigError(f"jobqueue ({system}): unknown key(s) {unknown}; "
                                  f"allowed: {sorted(allowed)}")
    for key in ("cores", "memory") if required else ():
        if key not in conf:
            raise ExecutorConfigError(f"jobqueue ({system}): '{key}' is required "
                                      "(per job, e.g. cores = 16, memory = '64GB')")
    return cls, conf


def make_jobqueue_cluster(config: dict[str, Any]):
    """Build (but do not scale) a dask-jobqueue cluster from ``{"system": "slurm", ...}``.

    No job is submitted: call ``cluster.scale(jobs=n)`` or ``cluster.adapt(...)`` (which
    :class:`pesgen.execute.dask_backend.DaskExecutor` does from its own config). The cluster's
    ``job_script()`` shows what would be submitted. Unknown keys raise ExecutorConfigError.
    """
    cls, conf = check_jobqueue_config(config)
    system = config["system"]
    conf.setdefault("silence_logs", "error")
    try:
        return cls(**conf)
    except (TypeError, ValueError) as err:
        raise ExecutorConfigError(f"jobqueue ({system}): {err}") from err
