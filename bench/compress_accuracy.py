"""Accuracy of a compressed model against its exact nets on held-out frames, in float64.

For every category of a held-out set (bench/heldout_emt.py, bench/heldout_almg.py) prints the
largest member energy difference per atom (eV/atom) and force difference (eV/Å) between
``model.compress(step, extrapolate)`` and the exact model, and how many frames hold a pair closer
than the tabulated fine range (min_distance) or the coarse one (min_distance / extrapolate).
Targets (issue 13): <= 1e-5 eV/atom and <= 1e-3 eV/Å.

Run: ``python bench/compress_accuracy.py MODEL HELDOUT.extxyz [--step 0.01] [--extrapolate 5]
[--min-distance Å]``.
"""

from __future__ import annotations

import argparse
import copy
from collections import defaultdict

import numpy as np
import torch
from ase.io import read

import pesgen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("heldout", nargs="+")
    parser.add_argument("--step", type=float, default=0.01)
    parser.add_argument("--extrapolate", type=float, default=5.0)
    parser.add_argument("--min-distance", type=float, default=None,
                        help="Å; default: the model's min_neighbor_distance, else 1 Å")
    args = parser.parse_args()
    torch.set_num_threads(1)
    exact = pesgen.load(args.model).decompress().to(torch.float64)
    comp = copy.deepcopy(exact).compress(step=args.step, extrapolate=args.extrapolate,
                                         min_distance=args.min_distance)
    c = comp.compression
    print(f"{args.model}: {exact}; compressed with step {c.step}, extrapolate {c.extrapolate}, "
          f"min_distance {c.min_distance:.3f} Å; grid {comp.tables.grid}")
    rows: dict[str, list] = defaultdict(list)
    for path in args.heldout:
        for atoms in read(path, ":"):
            rows[atoms.info.get("category", "all")].append(atoms)
    print(f"{'category':<22} {'frames':>6} {'<r_min':>7} {'<r_min/e':>9} {'max dE eV/atom':>15} {'max dF eV/Å':>12}")
    worst_e = worst_f = 0.0
    for category, frames in sorted(rows.items()):
        de = df = 0.0
        close = closer = 0
        for atoms in frames:
            a, b = exact.evaluate(atoms), comp.evaluate(atoms)
            key_e = "energy_members" if "energy_members" in a else "energy"
            key_f = "forces_members" if "forces_members" in a else "forces"
            de = max(de, float((a[key_e] - b[key_e]).abs().max()) / len(atoms))
            df = max(df, float((a[key_f] - b[key_f]).abs().max()))
            d = atoms.get_all_distances(mic=True)[np.triu_indices(len(atoms), 1)].min() if len(atoms) > 1 else np.inf
            close += d < c.min_distance
            closer += d < c.min_distance / c.extrapolate
        worst_e, worst_f = max(worst_e, de), max(worst_f, df)
        print(f"{category:<22} {len(frames):>6} {close:>7} {closer:>9} {de:>15.2e} {df:>12.2e}")
    print(f"{'all':<22} {sum(map(len, rows.values())):>6} {'':>7} {'':>9} {worst_e:>15.2e} {worst_f:>12.2e}")


if __name__ == "__main__":
    main()
