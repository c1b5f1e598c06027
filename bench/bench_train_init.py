"""Diagnostic: does pesgen's weight initialisation train worse than DeePMD-kit's?

One trainer (pesgen's), one batch order (trainer seed 0), the data, steps and schedule of
``bench_train.py``; only the initial weights change. For each seed set k, arm ``deepmd`` starts
from DeePMD-kit 3.2's own se_e2_a initialisation with seeds 4k .. 4k+3 (``get_model``, copied in
with ``load_deepmd_state_dict``), arm ``pesgen`` from ``pesgen.DeepPot(seed=...)`` with the seeds
4k .. 4k+3. Statistics (davg, dstd, energy bias) are recomputed by pesgen in both arms. Prints the
validation force RMSE per member and, at the end, mean, standard deviation and the difference of the
means in standard errors.

Run from the repository root: ``python bench/bench_train_init.py --sets 4`` (needs DeePMD-kit).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import pesgen
from pesgen.model.deepmd_weights import load_deepmd_state_dict

sys.path.insert(0, str(Path(__file__).parent))
from bench_train import deepmd_input, force_rmse, make_frames  # noqa: E402


def initial_members(arm: str, seeds: list[int], steps: int, precision: str = "float64") -> list:
    members = []
    for seed in seeds:
        member = pesgen.DeepPot(type_map=["Al"], rcut=6.0, seed=seed, sel=[64], precision=precision)
        if arm == "deepmd":
            from deepmd.pt.model.model import get_model

            params = deepmd_input([64], steps, 25, seed, [Path(".")], [Path(".")], precision)["model"]
            load_deepmd_state_dict(member.module, get_model(params).state_dict())
        members.append(member)
    return members


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--sets", type=int, default=3, help="seed sets of four members per arm")
    parser.add_argument("--first-set", type=int, default=0)
    parser.add_argument("--precision", choices=["float64", "float32"], default="float64",
                        help="of both arms (DeePMD-kit draws its float32 weights in float32)")
    parser.add_argument("--arms", default="deepmd,pesgen")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    frames = make_frames(220, seed=0)
    train, valid = frames[:-20], frames[-20:]
    settings = pesgen.TrainSettings(
        numb_steps=args.steps, n_members=4, batch_size=1, validation_fraction=0.0, disp_freq=args.steps,
        decay_steps=max(1, args.steps // 40), start_pref_v=0.0, limit_pref_v=0.0, seed=0,
        refresh_statistics=True)
    results: dict[str, list[float]] = {"deepmd": [], "pesgen": []}
    for k in range(args.first_set, args.first_set + args.sets):
        seeds = list(range(4 * k, 4 * k + 4))
        for arm in args.arms.split(","):
            start = time.perf_counter()
            init = pesgen.Ensemble(initial_members(arm, seeds, args.steps, args.precision))
            rmse = force_rmse(pesgen.train(train, settings, init=init), valid)
            results[arm] += rmse
            print(f"set {k} init {arm:6} seeds {seeds}: val force RMSE " + " ".join(f"{r:.4f}" for r in rmse)
                  + f" eV/Å ({time.perf_counter() - start:.0f} s)", flush=True)
    if len(results["deepmd"]) < 2 or len(results["pesgen"]) < 2:
        return
    a, b = np.array(results["deepmd"]), np.array(results["pesgen"])
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    print(f"\ninit deepmd: {a.mean():.4f} ± {a.std(ddof=1):.4f} eV/Å ({len(a)} members)")
    print(f"init pesgen: {b.mean():.4f} ± {b.std(ddof=1):.4f} eV/Å ({len(b)} members)")
    print(f"difference pesgen - deepmd: {b.mean() - a.mean():+.4f} eV/Å = {(b.mean() - a.mean()) / se:+.1f} SE")


if __name__ == "__main__":
    main()
