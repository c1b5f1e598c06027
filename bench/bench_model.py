"""Benchmark: 4-model ensemble energy + forces + deviations, pesgen (exact and compressed) vs DeePMD-kit.

Same architecture (se_e2_a, embedding [25, 50, 100], axis 16, fitting [240, 240, 240], rcut 6 Å),
same weights (pesgen's, loaded into DeePMD-kit, checked to give the same energies), same threads,
same frames (rattled fcc Al of 32, 256 and 2048 atoms), and EQUAL precision: each precision in
``--precisions`` runs pesgen and DeePMD-kit models built in that precision. Columns per frame size:

* pesgen ``Ensemble.evaluate`` (means, members, deviations), exact nets and compressed
  (``Ensemble.compress()``: step 0.01, extrapolate 5, the training frames' closest pair);
* four ``deepmd.infer.DeepPot.eval`` plus ``calc_model_devi_f/_e/_v``, uncompressed, and the
  same four frozen and compressed by DeePMD-kit (``dp --pt freeze`` + ``dp --pt compress``, same
  step, extrapolate and min_nbor_dist; see bench/deepmd_peer.py).

Run: ``python bench/bench_model.py [--sizes 32 256 2048] [--precisions float32 float64] [--threads 1]``.
The peer columns are skipped with a message when DeePMD-kit is not importable.
"""

from __future__ import annotations

import argparse
import copy
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
from deepmd_peer import deepmd_models
from pesgen.model.batch import Batch

REPEATS = {32: (2, 2, 2), 256: (4, 4, 4), 2048: (8, 8, 8)}


def frame(n_atoms: int, seed: int = 0):
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(REPEATS[n_atoms])
    atoms.rattle(0.05, seed=seed)
    return atoms


def timeit(fn, min_time: float = 1.0, max_reps: int = 50, warmup: int = 3) -> float:
    for _ in range(warmup):  # TorchScript (DeePMD-kit's frozen models) optimises over its first calls
        fn()
    reps, start = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        elapsed = time.perf_counter() - start
        if elapsed > min_time or reps >= max_reps:
            return elapsed / reps


def peer_four(peers, atoms):
    """Four DeePMD-kit evaluations and DeePMD-kit's model deviations of one frame."""
    from deepmd.infer.model_devi import calc_model_devi_e, calc_model_devi_f, calc_model_devi_v

    coord, cell = atoms.positions.reshape(1, -1), atoms.cell.array.reshape(1, 9)
    atype = np.zeros(len(atoms), dtype=int)
    outs = [p.eval(coord, cell, atype) for p in peers]
    fs, es = np.stack([o[1] for o in outs]), np.stack([o[0] for o in outs])
    vs = np.stack([o[2] for o in outs]) / len(atoms)
    return es, (calc_model_devi_f(fs), calc_model_devi_e(es), calc_model_devi_v(vs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 256, 2048])
    parser.add_argument("--precisions", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--min-time", type=float, default=1.5)
    parser.add_argument("--no-deepmd-compress", action="store_true", help="skip the dp compress peer")
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
    base = pesgen.Ensemble([pesgen.DeepPot(type_map=["Al"], rcut=6.0, seed=s) for s in range(4)])
    base.compute_statistics(train, auto_sel=True)
    r_min = base.metadata["min_neighbor_distance"]
    tmp = Path(tempfile.mkdtemp(prefix="pesgen-bench-"))

    rows = []
    for precision in args.precisions:
        dtype = getattr(torch, precision)
        exact = copy.deepcopy(base).to(dtype, args.device)
        compressed = copy.deepcopy(exact).compress(step=0.01, extrapolate=5.0)
        peers = deepmd_models(exact.module, tmp / precision)
        peers_c = None
        if peers is not None and not args.no_deepmd_compress:
            try:
                peers_c = deepmd_models(exact.module, tmp / f"{precision}-c", compress=True, min_nbor_dist=r_min)
            except Exception as err:  # DeePMD-kit without its custom ops cannot compress
                print(f"dp --pt compress failed ({type(err).__name__}: {err}); compressed peer skipped.")
        for n in args.sizes:
            atoms = frame(n, seed=1)
            batch = Batch.from_atoms(atoms, ["Al"], dtype=dtype, device=args.device)
            r = {"pesgen exact": timeit(lambda b=batch, m=exact: m.evaluate(b), args.min_time),
                 "pesgen compressed": timeit(lambda b=batch, m=compressed: m.evaluate(b), args.min_time)}
            e_exact = exact.evaluate(batch)["energy_members"][:, 0].double().numpy()
            e_comp = compressed.evaluate(batch)["energy_members"][:, 0].double().numpy()
            tol = (1e-5 if precision == "float32" else 1e-9) * n
            assert np.allclose(e_comp, e_exact, atol=tol), (e_comp, e_exact)
            for name, models, ref in (("deepmd", peers, e_exact), ("deepmd compressed", peers_c, e_comp)):
                if models is None:
                    continue
                es, _ = peer_four(models, atoms)
                assert np.allclose(es.reshape(len(models), -1)[:, 0], ref, atol=tol), (name, es, ref)
                r[name] = timeit(lambda m=models, a=atoms: peer_four(m, a), args.min_time)
            rows.append((precision, n, r))
            print(f"  {precision} {n} atoms: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in r.items()), flush=True)

    print(f"\n4-model ensemble energy+forces+deviations per frame, ms (threads={args.threads}, "
          f"device={args.device}, torch {torch.__version__}; pesgen and DeePMD-kit in the same precision)")
    header = ["precision", "atoms", "pesgen exact", "pesgen compr.", "deepmd", "deepmd compr.",
              "deepmd/pes-c", "deepmd-c/pes-c", "exact/compr."]
    print(" | ".join(f"{h:>14}" for h in header))
    for precision, n, r in rows:
        pc = r["pesgen compressed"]
        dp, dpc = r.get("deepmd"), r.get("deepmd compressed")
        cells = [precision, str(n), r["pesgen exact"] * 1e3, pc * 1e3, dp and dp * 1e3, dpc and dpc * 1e3,
                 dp and dp / pc, dpc and dpc / pc, r["pesgen exact"] / pc]
        print(" | ".join(f"{c:>14.2f}" if isinstance(c, float) else f"{str(c) if c else '-':>14}" for c in cells))
    print("ratios > 1: the pesgen compressed ensemble is faster. Targets (issue 13): deepmd/pes-c >= 5, "
          "deepmd-c/pes-c >= 2.")


if __name__ == "__main__":
    main()
