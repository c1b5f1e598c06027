"""Labeling throughput: the MEAM oracle (Jelinek 2012 Al-Mg) on 32-atom cells.

Compares a bare in-process loop with the local process pool and a Dask LocalCluster (both
2 workers), through the same ``run_label_task`` and ``concurrent.futures`` interface, and the
full ``LabelCampaign`` (which also writes every label to the SQLite store as it arrives).

Prints a table (labels per minute, wall time per task) and the ratios; the overhead per task
of an executor is ``wall x workers / N - bare time per label``: the worker time each task
costs beyond the label itself.

Usage: python bench/bench_label.py [--n 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from concurrent.futures import as_completed
from pathlib import Path

import numpy as np
from ase.build import bulk

from pesgen.data.store import Provenance, Store
from pesgen.execute import make_executor
from pesgen.label import LabelCampaign, LabelPolicy, LabelTask, LammpsLabeler, make_task_id
from pesgen.label.task import run_label_task


def structures(n: int, seed: int = 0) -> list:
    """``n`` rattled 32-atom fcc Al cells with 6 Mg atoms each."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 2, 2))
        atoms.symbols[rng.choice(32, 6, replace=False)] = "Mg"
        atoms.rattle(0.1, seed=int(rng.integers(1 << 30)) + i)
        out.append(atoms)
    return out


def run_executor(config: dict, labeler, atoms_list, policy) -> tuple[float, float]:
    """(start-up s, wall s for all tasks) through submit / as_completed."""
    t0 = time.perf_counter()
    with make_executor(config) as ex:
        # warm up: start workers, import pesgen/LAMMPS there, build one LAMMPS per worker
        list(as_completed([ex.submit(run_label_task, labeler, a, "warm", policy)
                           for a in atoms_list[:8]]))
        t1 = time.perf_counter()
        futures = [ex.submit(run_label_task, labeler, a, str(i), policy)
                   for i, a in enumerate(atoms_list)]
        ok = sum(1 for f in as_completed(futures) if f.result().ok)
        t2 = time.perf_counter()
    assert ok == len(atoms_list), f"{len(atoms_list) - ok} labels failed"
    return t1 - t0, t2 - t1


def run_batch(config: dict, labeler, atoms_list, policy, folder: Path) -> float:
    """Wall s of a LabelCampaign (store writes included), executor already warm."""
    tasks = [LabelTask(make_task_id(a, labeler.settings_hash(), 0, config["kind"]), a,
                       Provenance(origin="explored")) for a in atoms_list]
    store = Store(folder / f"store-{config['kind']}.db")
    with make_executor(config) as ex:
        list(as_completed([ex.submit(run_label_task, labeler, a, "warm", policy)
                           for a in atoms_list[:8]]))
        t0 = time.perf_counter()
        report = LabelCampaign(tasks, labeler, store, ex, policy).run()
        wall = time.perf_counter() - t0
    assert report.n_labeled == len(tasks) and len(store) == len(tasks)
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="labels per measurement")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    n, w = args.n, args.workers
    labeler = LammpsLabeler(["Al", "Mg"], "meam-jelinek2012")
    atoms_list = structures(n)
    policy = LabelPolicy()

    # bare loop: the labeler called directly, in this process
    for a in atoms_list[:8]:
        labeler.label(a)
    t0 = time.perf_counter()
    for a in atoms_list:
        labeler.label(a)
    bare = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i, a in enumerate(atoms_list):
        run_label_task(labeler, a, str(i), policy)
    bare_task = time.perf_counter() - t0

    local_cfg = {"kind": "local", "max_workers": w}
    dask_cfg = {"kind": "dask", "local": {"n_workers": w, "threads_per_worker": 1}}
    local_start, local_wall = run_executor(local_cfg, labeler, atoms_list, policy)
    dask_start, dask_wall = run_executor(dask_cfg, labeler, atoms_list, policy)
    with tempfile.TemporaryDirectory() as tmp:
        local_batch = run_batch(local_cfg, labeler, atoms_list, policy, Path(tmp))
        dask_batch = run_batch(dask_cfg, labeler, atoms_list, policy, Path(tmp))

    per = bare / n
    rows = [
        ("bare loop (labeler.label)", 1, None, bare),
        ("bare loop (run_label_task)", 1, None, bare_task),
        (f"local pool, {w} workers", w, local_start, local_wall),
        (f"Dask LocalCluster, {w} workers", w, dask_start, dask_wall),
        (f"LabelCampaign + store, local {w}", w, None, local_batch),
        (f"LabelCampaign + store, Dask {w}", w, None, dask_batch),
    ]
    print(f"MEAM (Jelinek 2012) labels of 32-atom Al-Mg cells, N = {n}; "
          f"{platform.node()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}")
    print(f"{'mode':34s} {'labels/min':>11s} {'ms/task':>8s} {'overhead ms/task':>17s} "
          f"{'start-up s':>10s}")
    for name, workers, start, wall in rows:
        overhead = wall * workers / n - per
        print(f"{name:34s} {60 * n / wall:11.0f} {1e3 * wall / n:8.3f} {1e3 * overhead:17.3f} "
              f"{'' if start is None else f'{start:10.2f}':>10s}")
    print(f"bare MEAM label: {1e3 * per:.3f} ms")
    print(f"ratio local pool / bare loop (labels/min): {bare / local_wall:.2f}")
    print(f"ratio Dask / bare loop (labels/min):       {bare / dask_wall:.2f}")
    print(f"ratio Dask / local pool (labels/min):      {local_wall / dask_wall:.2f}")


if __name__ == "__main__":
    main()
