"""Benchmark: energy + forces per frame of pesgen's DeepPot-SE against DeePMD-kit's DeepPot.

Same architecture (se_e2_a, embedding [25, 50, 100], axis 16, fitting [240, 240, 240], rcut 6 Å),
same weights (pesgen's, loaded into DeePMD-kit, and checked to give the same energies), same
threads, same frames (rattled fcc Al of 32, 256 and 2048 atoms). Rows:

* one model: pesgen DeepPot vs DeePMD-kit DeepPot.eval;
* a 4-model ensemble with deviations: pesgen Ensemble.evaluate vs four DeepPot.eval calls plus
  DeePMD-kit's calc_model_devi_f / _e / _v.

Run: ``python bench/bench_model.py [--sizes 32 256 2048] [--threads 2] [--device cpu]``.
The peer is skipped with a message when DeePMD-kit is not importable.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from ase.build import bulk
from ase.calculators.emt import EMT

import pesgen
from pesgen.model.batch import Batch
from pesgen.model.deepmd_weights import deepmd_model_params, deepmd_state_dict
from pesgen.model.neighbors import neighbor_list

REPEATS = {32: (2, 2, 2), 256: (4, 4, 4), 2048: (8, 8, 8)}


def frame(n_atoms: int, seed: int = 0):
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(REPEATS[n_atoms])
    atoms.rattle(0.05, seed=seed)
    return atoms


def timeit(fn, min_time: float = 1.0, max_reps: int = 50) -> float:
    fn()  # warm-up
    reps, start = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed > min_time or reps >= max_reps:
            return elapsed / reps


def write_deepmd_checkpoint(module, member: int, path: Path) -> None:
    """A DeePMD-kit PyTorch checkpoint (.pt) holding member ``member`` of a pesgen module."""
    state = {"_extra_state": {"model_params": deepmd_model_params(module), "train_infos": {"lr": 0.0, "step": 0}}}
    for key, value in deepmd_state_dict(module, member).items():
        state[f"model.Default.{key}"] = value
    torch.save({"model": state}, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 256, 2048])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--min-time", type=float, default=1.5)
    args = parser.parse_args()
    os.environ.setdefault("DP_INTRA_OP_PARALLELISM_THREADS", str(args.threads))
    os.environ.setdefault("DP_INTER_OP_PARALLELISM_THREADS", "1")
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")

    train = []
    for s in range(4):
        atoms = frame(32, seed=100 + s)
        atoms.calc = EMT()
        atoms.get_potential_energy()
        train.append(atoms)
    members = [pesgen.DeepPot(type_map=["Al"], rcut=6.0, seed=s) for s in range(4)]
    ensemble = pesgen.Ensemble(members)
    ensemble.compute_statistics(train, auto_sel=True)
    members = ensemble.members

    try:
        from deepmd.infer import DeepPot as DPDeepPot
        from deepmd.infer.model_devi import calc_model_devi_e, calc_model_devi_f, calc_model_devi_v
    except ImportError as err:
        DPDeepPot = None
        print(f"DeePMD-kit not importable ({err}); peer columns skipped.")

    peers = []
    tmp = Path(tempfile.mkdtemp(prefix="pesgen-bench-"))
    if DPDeepPot is not None:
        for k in range(4):
            path = tmp / f"member{k}.pt"
            write_deepmd_checkpoint(ensemble.module, k, path)
            peers.append(DPDeepPot(str(path)))

    rows = []
    for n in args.sizes:
        atoms = frame(n, seed=1)
        coord = atoms.positions.reshape(1, -1)
        cell = atoms.cell.array.reshape(1, 9)
        atype = np.zeros(n, dtype=int)
        results = {}
        for precision, dtype in (("f64", torch.float64), ("f32", torch.float32)):
            single = pesgen.DeepPot.from_module(members[0].module.member(0)).to(dtype, args.device)
            ens = pesgen.Ensemble.from_module(pesgen.Ensemble(members).module).to(dtype, args.device)
            batch = Batch.from_atoms(atoms, ["Al"], dtype=dtype, device=args.device)
            nl = neighbor_list(batch, 6.0)
            results[f"pesgen 1 {precision}"] = timeit(lambda s=single, b=batch: s.evaluate(b), args.min_time)
            results[f"pesgen 4+devi {precision}"] = timeit(lambda e=ens, b=batch: e.evaluate(b), args.min_time)
            results[f"pesgen 4+devi {precision} (nl given)"] = timeit(
                lambda e=ens, b=batch, nl=nl: e.evaluate(b, nl), args.min_time)
        if peers:
            e_ref = ensemble.evaluate(atoms)["energy_members"][:, 0].numpy()
            e_dp = np.array([p.eval(coord, cell, atype)[0].item() for p in peers])
            assert np.allclose(e_ref, e_dp, atol=1e-8), (e_ref, e_dp)

            def peer_one(coord=coord, cell=cell, atype=atype):
                return peers[0].eval(coord, cell, atype)

            def peer_four(coord=coord, cell=cell, atype=atype, n=n):
                outs = [p.eval(coord, cell, atype) for p in peers]
                fs = np.stack([o[1] for o in outs])
                es = np.stack([o[0] for o in outs])
                vs = np.stack([o[2] for o in outs]) / n
                return calc_model_devi_f(fs), calc_model_devi_e(es), calc_model_devi_v(vs)

            results["deepmd 1"] = timeit(peer_one, args.min_time)
            results["deepmd 4+devi"] = timeit(peer_four, args.min_time)
        rows.append((n, results))

    print(f"\nenergy+forces per frame, ms (threads={args.threads}, device={args.device}, torch {torch.__version__})")
    header = ["atoms", "pesgen 1 f64", "pesgen 1 f32", "deepmd 1", "ratio 1 f64", "pesgen 4+devi f64",
              "pesgen 4+devi f32", "deepmd 4+devi", "ratio 4 f64", "ratio 4 f32"]
    print(" | ".join(f"{h:>17}" for h in header))
    for n, r in rows:
        dp1, dp4 = r.get("deepmd 1"), r.get("deepmd 4+devi")
        cells = [str(n), r["pesgen 1 f64"] * 1e3, r["pesgen 1 f32"] * 1e3, dp1 and dp1 * 1e3,
                 dp1 and dp1 / r["pesgen 1 f64"], r["pesgen 4+devi f64"] * 1e3, r["pesgen 4+devi f32"] * 1e3,
                 dp4 and dp4 * 1e3, dp4 and dp4 / r["pesgen 4+devi f64"], dp4 and dp4 / r["pesgen 4+devi f32"]]
        print(" | ".join(f"{c:>17.2f}" if isinstance(c, float) else f"{str(c) if c else '-':>17}" for c in cells))
    print("ratio = DeePMD-kit time / pesgen time (>1: pesgen faster). DeePMD-kit runs float64 (its default).")
    print("'nl given' rows (precomputed neighbour list, as in MD with a skin):")
    for n, r in rows:
        print(f"  {n:>5} atoms: 4+devi f64 {r['pesgen 4+devi f64 (nl given)'] * 1e3:.2f} ms, "
              f"f32 {r['pesgen 4+devi f32 (nl given)'] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
