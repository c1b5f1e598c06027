"""Benchmark: ensemble training throughput and accuracy, pesgen vs DeePMD-kit ``dp --pt train``.

Same data (EMT-labelled, rattled and strained 32-atom fcc Al cells; a fixed train/validation
split), same architecture (se_e2_a [25, 50, 100] x 16, fitting [240, 240, 240], rcut 6 Å,
rcut_smth 0.5 Å, the same sel), same batch size (1), same loss prefactors and learning-rate
schedule, same threads. pesgen trains four members in one process; DeePMD-kit is run four times
(seeds 0-3), as DP-GEN does. Prints wall times, throughput (frames x members per second) and the
validation force RMSE of every member after equal steps.

Run: ``python bench/bench_train.py [--steps 1000] [--threads 2]``; the peer is skipped with a
message when ``dp`` is not on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from ase.build import bulk
from ase.calculators.emt import EMT

import pesgen
from pesgen.data.deepmd_format import write_deepmd_systems


def make_frames(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)
        atoms.set_cell(atoms.cell.array * (1 + rng.uniform(-0.02, 0.02)), scale_atoms=True)
        atoms.positions += rng.normal(scale=0.1, size=atoms.positions.shape)
        atoms.calc = EMT()
        atoms.get_potential_energy()
        atoms.get_stress()
        frames.append(atoms)
    return frames


def force_rmse(model, frames) -> list[float]:
    out = model.evaluate(frames)
    ref = torch.tensor(np.concatenate([a.get_forces() for a in frames]))
    members = out["forces_members"] if "forces_members" in out else out["forces"][None]
    return (members.double() - ref).square().mean(dim=(-1, -2)).sqrt().tolist()


def deepmd_input(sel: list[int], steps: int, decay_steps: int, seed: int, train_dir: Path, valid_dir: Path,
                 precision: str = "float64") -> dict:
    return {
        "model": {
            "type_map": ["Al"],
            "descriptor": {"type": "se_e2_a", "sel": sel, "rcut_smth": 0.5, "rcut": 6.0, "neuron": [25, 50, 100],
                           "axis_neuron": 16, "type_one_side": True, "resnet_dt": False, "seed": seed,
                           "precision": precision},
            "fitting_net": {"neuron": [240, 240, 240], "resnet_dt": True, "seed": seed, "precision": precision},
        },
        "learning_rate": {"type": "exp", "start_lr": 1e-3, "stop_lr": 3.51e-8, "decay_steps": decay_steps},
        "loss": {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000, "limit_pref_f": 1,
                 "start_pref_v": 0, "limit_pref_v": 0},
        "training": {"training_data": {"systems": [str(train_dir)], "batch_size": 1},
                     "validation_data": {"systems": [str(valid_dir)], "batch_size": 1, "numb_btch": 1},
                     "numb_steps": steps, "seed": seed, "disp_file": "lcurve.out", "disp_freq": max(1, steps // 10),
                     "save_freq": steps},
    }


def run_deepmd(work: Path, config: dict, threads: int) -> tuple[float, float | None, float]:
    """Wall time of ``dp --pt train``, its average s/batch, and the wall time of ``dp --pt freeze``
    (DP-GEN freezes every model before exploring with it)."""
    work.mkdir(parents=True)
    (work / "input.json").write_text(json.dumps(config, indent=1))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), DP_INTRA_OP_PARALLELISM_THREADS=str(threads),
               DP_INTER_OP_PARALLELISM_THREADS="1")
    start = time.perf_counter()
    proc = subprocess.run(["dp", "--pt", "train", "input.json"], cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"dp --pt train failed in {work}:\n{proc.stderr[-3000:]}")
    log = proc.stdout + proc.stderr
    match = re.search(r"average training time:\s*([0-9.eE+-]+)\s*s/batch", log)
    start = time.perf_counter()
    frozen = subprocess.run(["dp", "--pt", "freeze", "-o", "frozen.pth"], cwd=work, env=env, capture_output=True,
                            text=True)
    freeze = time.perf_counter() - start if frozen.returncode == 0 else float("nan")
    return wall, float(match.group(1)) if match else None, freeze


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=220)
    parser.add_argument("--seed", type=int, default=0,
                        help="pesgen training seed; DeePMD-kit runs use seeds 4*seed .. 4*seed+3")
    parser.add_argument("--precision", choices=["float64", "float32"], default="float64",
                        help="pesgen's training precision (DeePMD-kit's runs stay at its default, float64)")
    parser.add_argument("--peer-precision", choices=["float64", "float32"], default="float64",
                        help="DeePMD-kit's training precision (its default: float64)")
    parser.add_argument("--skip-peer", action="store_true", help="run pesgen only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    frames = make_frames(args.frames, seed=0)
    train, valid = frames[:-20], frames[-20:]
    decay_steps = max(1, args.steps // 40)

    settings = pesgen.TrainSettings(
        numb_steps=args.steps, n_members=4, batch_size=1, validation_fraction=0.0, disp_freq=args.steps,
        decay_steps=decay_steps, start_pref_v=0.0, limit_pref_v=0.0, seed=args.seed,
        model={"precision": args.precision})
    start = time.perf_counter()
    ensemble = pesgen.train(train, settings)
    wall_pesgen = time.perf_counter() - start
    sel = ensemble.hyperparameters["sel"]
    rmse_pesgen = force_rmse(ensemble, valid)

    curve = ensemble.metadata["learning_curve"]
    loop_pesgen = (curve[-1]["wall_time"] - curve[0]["wall_time"]) * args.steps / max(1, args.steps - 1)
    rows = [(f"pesgen (4 members, one process, {args.precision})", wall_pesgen, loop_pesgen, rmse_pesgen)]
    dp = None if args.skip_peer else shutil.which("dp")
    if dp is None:
        print("DeePMD-kit's `dp` not on PATH; peer skipped.")
    else:
        from deepmd.infer import DeepPot as DPDeepPot

        tmp = Path(tempfile.mkdtemp(prefix="pesgen-bench-train-"))
        write_deepmd_systems(train, tmp / "train", type_map=["Al"])
        write_deepmd_systems(valid, tmp / "valid", type_map=["Al"])
        train_dir = next(p.parent for p in (tmp / "train").rglob("type.raw"))
        valid_dir = next(p.parent for p in (tmp / "valid").rglob("type.raw"))
        walls, per_batch, rmses, freezes = [], [], [], []
        for seed in range(4 * args.seed, 4 * args.seed + 4):
            work = tmp / f"member{seed}"
            wall, avg, freeze = run_deepmd(work, deepmd_input(sel, args.steps, decay_steps, seed, train_dir, valid_dir,
                                                                args.peer_precision),
                                           args.threads)
            walls.append(wall)
            freezes.append(freeze)
            per_batch.append(avg)
            ckpt = sorted(work.glob("model.ckpt*.pt"))[-1]
            dp_model = DPDeepPot(str(ckpt))
            errs = []
            for atoms in valid:
                _, f, _ = dp_model.eval(atoms.positions.reshape(1, -1), atoms.cell.array.reshape(1, 9),
                                        np.zeros(len(atoms), dtype=int))
                errs.append(np.mean((f.reshape(-1, 3) - atoms.get_forces()) ** 2))
            rmses.append(float(np.sqrt(np.mean(errs))))
        loop = sum(p * args.steps for p in per_batch) if all(per_batch) else None
        rows.append((f"DeePMD-kit (4 runs of dp --pt train, {args.peer_precision})", sum(walls), loop, rmses))

    n_items = args.steps * 1 * 4
    print(f"\nensemble training: {args.steps} steps, batch 1 (32 atoms), 4 members, threads={args.threads}, "
          f"{len(train)} training / {len(valid)} validation frames, sel={sel}")
    head = f"{'':40} {'wall s':>8} {'loop s':>8} {'frames x members / s (wall, loop)':>36}"
    print(head + "   val force RMSE per member (eV/Å)")
    for name, wall, loop, rmse in rows:
        loop_txt = f"{loop:8.1f}" if loop else f"{'-':>8}"
        rate = f"{n_items / wall:.1f}, " + (f"{n_items / loop:.1f}" if loop else "-")
        print(f"{name:40} {wall:8.1f} {loop_txt} {rate:>36}   " + " ".join(f"{r:.4f}" for r in rmse))
    if len(rows) == 2:
        print(f"throughput ratio pesgen / DeePMD-kit: {rows[1][1] / rows[0][1]:.2f} (wall, incl. DeePMD-kit start-up)"
              + (f", {rows[1][2] / rows[0][2]:.2f} (training loops alone)" if rows[1][2] else ""))
        print(f"mean val force RMSE: pesgen {np.mean(rows[0][3]):.4f}, DeePMD-kit {np.mean(rows[1][3]):.4f} eV/Å")
        print(f"DeePMD-kit `dp --pt freeze` (DP-GEN runs it after every training): {sum(freezes):.1f} s for 4 models; "
              f"pesgen / (DeePMD-kit train + freeze) wall ratio {(rows[1][1] + sum(freezes)) / rows[0][1]:.2f}")


if __name__ == "__main__":
    main()
