"""One executor interface (``concurrent.futures.Executor``) with local and Dask back ends.

Public API::

    from pesgen.execute import make_executor
    with make_executor({"kind": "local", "max_workers": 4}) as ex:      # default back end
        future = ex.submit(fn, *args)
    make_executor({"kind": "dask", "local": {"n_workers": 2}})           # Dask LocalCluster
    make_executor({"kind": "dask", "address": "tcp://host:8786"})        # a running scheduler
    make_executor({"kind": "dask", "jobqueue": {"system": "slurm", "cores": 16,
                   "memory": "64GB", "walltime": "04:00:00"}, "jobs": 4})
"""

from pesgen.execute.errors import ExecutorConfigError, ExecutorUnavailable
from pesgen.execute.factory import make_executor
from pesgen.execute.jobqueue import JOBQUEUE_SYSTEMS, make_jobqueue_cluster
from pesgen.execute.local import LocalExecutor, SerialExecutor

__all__ = ["ExecutorConfigError", "ExecutorUnavailable", "JOBQUEUE_SYSTEMS", "LocalExecutor", "SerialExecutor",
           "make_executor", "make_jobqueue_cluster"]
