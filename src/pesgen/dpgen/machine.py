"""DP-GEN's machine.json (its ``fp`` part) as a pesgen ``[executor]`` table, and the fp command.

Both forms are read: the dpdispatcher one (``fp = {command, machine = {batch_type, ...},
resources = {number_node, cpu_per_node, queue_name, custom_flags, source_list, module_list, ...}}``,
a list of such tables also) and the older one (``fp_command``, ``fp_machine = {machine_type}``,
``fp_resources = {task_per_node, partition, time_limit, mem_limit, ...}``). Slurm, PBS/Torque, LSF
and SGE become a Dask cluster through dask-jobqueue; a local shell becomes local processes. The
``train`` and ``model_devi`` parts have no counterpart: pesgen trains and explores in its own
process.
"""

from __future__ import annotations

from typing import Any

from pesgen.dpgen.keys import Keys

#: DP-GEN / dpdispatcher batch types -> dask-jobqueue systems (lower case)
BATCH_SYSTEMS = {"slurm": "slurm", "pbs": "pbs", "torque": "pbs", "lsf": "lsf", "sge": "sge"}
_LOCAL = ("shell", "local")
_IN_PROCESS = "pesgen trains and explores in its own process (set train.device / exploration.device)"


def executor_table(keys: Keys) -> tuple[tuple[dict[str, Any], list[str]] | None, str | None]:
    """((executor table, comment lines) or None, fp command or None) of a machine.json."""
    for part in ("train", "model_devi", "train_machine", "train_resources", "model_devi_machine",
                 "model_devi_resources", "model_devi_command", "model_devi_group_size", "python_test_path",
                 "deepmd_path", "deepmd_version", "api_version"):
        keys.skip(part, _IN_PROCESS if not part.endswith("version") else "dpdispatcher bookkeeping")
    fp = keys.get("fp", (dict, list))
    if fp is not None:
        if isinstance(fp, list):
            if not fp or not isinstance(fp[0], dict):
                raise keys.error("fp", "expected a table or a non-empty list of tables")
            for k in range(1, len(fp)):
                keys.unmapped.add(f"{keys.where('fp')}[{k}]", "pesgen labels on one executor (the first fp entry)")
            fp = fp[0]
        f = Keys(fp, keys.path, keys.unmapped, keys.where("fp."))
        command = f.get("command", str)
        machine = f.child("machine")
        resources = f.child("resources")
        batch = (machine.get("batch_type", str) if machine else None) or (
            resources.get("batch_type", str) if resources else None) or "shell"
        table = _table(batch, resources, keys.where("fp"))
        for part in (machine, resources):
            if part is not None:
                _skip_remote(part)
                part.finish("a dpdispatcher key pesgen has no use for")
        f.finish("a dpdispatcher key pesgen has no use for")
        return table, command
    command = keys.get("fp_command", str)
    machine = keys.child("fp_machine")
    resources = keys.child("fp_resources")
    if machine is None and resources is None:
        return None, command
    batch = (machine.get("machine_type", str) if machine else None) or "shell"
    table = _table(batch, resources, keys.where("fp_machine"), old=True)
    for part in (machine, resources):
        if part is not None:
            _skip_remote(part)
            part.finish("a DP-GEN machine key pesgen has no use for")
    keys.skip("fp_group_size", "pesgen sends one label per worker task")
    return table, command


def _skip_remote(part: Keys) -> None:
    for key in ("context_type", "remote_profile", "remote_root", "local_root", "hostname", "port", "username",
                "password", "work_path", "batch_type", "machine_type"):
        part.skip(key, "pesgen's Dask scheduler runs where `pesgen run` runs; workers are jobs of the batch system")
    for key in ("group_size", "para_deg", "envs", "kwargs", "strategy", "wait_time", "exclude_list",
                "with_mpi", "numb_gpu", "gpu_per_node", "prepend_script", "append_script"):
        part.skip(key, "no dask-jobqueue counterpart mapped; add job_extra_directives / job_script_prologue by hand")


def _table(batch: str, resources: Keys | None, where: str, old: bool = False) -> tuple[dict[str, Any], list[str]]:
    system = BATCH_SYSTEMS.get(batch.lower())
    r = resources
    if system is None:
        if batch.lower() not in _LOCAL and r is not None:
            r.unmapped.add(where, f"batch type {batch!r}: no dask-jobqueue system; labels run locally")
        cores = None if r is None else r.get("task_per_node" if old else "cpu_per_node", int)
        return ({"kind": "local", "max_workers": cores or 2},
                [f"DP-GEN fp machine {batch!r}: local processes, one label each"])
    job: dict[str, Any] = {"system": system}
    comments = [f"DP-GEN fp machine {batch!r}: a Dask cluster of {system} jobs (dask-jobqueue); each job is one",
                "Dask worker whose threads label one frame each. dask-jobqueue needs 'memory': set it if absent."]
    if r is not None:
        cores = r.get("task_per_node" if old else "cpu_per_node", int)
        if cores is not None:
            job["cores"] = cores
        queue = r.get("partition" if old else "queue_name", str)
        if queue:
            job["queue"] = queue
        if old:
            if (t := r.get("time_limit", str)) is not None:
                job["walltime"] = t
            if (mem := r.get("mem_limit", (int, float))) is not None:
                job["memory"] = f"{mem}GB"
            r.skip("numb_node", "one node per Dask job")
        else:
            nodes = r.get("number_node", int)
            if nodes not in (None, 1):
                r.unmapped.add(r.where("number_node"), "one node per Dask job")
        flags = r.strings("custom_flags") or []
        prefix = {"slurm": "#SBATCH", "pbs": "#PBS", "lsf": "#BSUB", "sge": "#$"}[system]
        extra = [f.strip()[len(prefix):].strip() if f.strip().startswith(prefix) else f.strip() for f in flags]
        if extra:
            job["job_extra_directives"] = extra
        prologue = [f"source {s}" for s in r.strings("source_list") or []]
        prologue += [f"module load {m}" for m in r.strings("module_list") or []]
        if prologue:
            job["job_script_prologue"] = prologue
        if (account := r.get("account", str)) is not None:
            job["account"] = account
    return {"kind": "dask", "jobqueue": job, "jobs": 1}, comments
