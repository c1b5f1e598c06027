"""Peak memory (RSS) of one exploration step: 64 walkers x 256 atoms, 4-model ensemble + deviations.

One process per measurement (``ru_maxrss`` is a process's peak): builds the ensemble of
bench_explore.py (statistics from EMT-labelled rattled cells, float32), compressed unless
``--exact``, then ``MDSampler.init`` and one Langevin step (with its Verlet list) on 64 rattled
256-atom fcc Al walkers; prints the peak RSS before the walkers exist and after the step, MiB.

Run: ``python bench/explore_memory.py [--walkers 64] [--exact]``.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

import pesgen
from bench_explore import structures, trained_statistics
from pesgen.explore.md import Langevin, MDSampler


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walkers", type=int, default=64)
    parser.add_argument("--exact", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ensemble = pesgen.Ensemble([pesgen.DeepPot(type_map=["Al"], rcut=6.0, seed=s) for s in range(4)])
    trained_statistics(ensemble)
    ensemble.to(torch.float32)
    if not args.exact:
        ensemble.compress()
    walkers = structures(args.walkers, (4, 4, 4))
    before = peak_mib()
    sampler = MDSampler(ensemble, Langevin(timestep=1.0, friction=0.01), record_every=1, dtype=torch.float32,
                        skin=0.5)
    start = time.perf_counter()
    state = sampler.init(walkers, 300.0)
    sampler.sample(state, 1)
    wall = time.perf_counter() - start
    print(f"{args.walkers} x 256 atoms, {'exact' if args.exact else 'compressed'} float32 ensemble: peak RSS "
          f"{before:.0f} MiB before the walkers, {peak_mib():.0f} MiB after init + 1 step ({wall:.1f} s)")


if __name__ == "__main__":
    main()
