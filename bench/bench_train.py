"""Benchmark: ensemble training throughput and accuracy, pesgen vs DeePMD-kit ``dp --pt train``.

Two setups (``--setup``), each the same data (a fixed train/validation split), architecture, sel,
batch size (1), loss prefactors, learning-rate schedule and threads on both sides:

* ``emt-al``: EMT-labelled, rattled and strained 32-atom fcc Al cells; se_e2_a [25, 50, 100] x 16,
  fitting [240, 240, 240], rcut 6 Å, rcut_smth 0.5 Å, lr 1e-3 -> 3.51e-8;
* ``almg-meam``: the Al-Mg MEAM frames of 32-108 atoms of bench/heldout_almg.py (built or read from
  bench/.cache) and the network, cutoffs and learning rates of examples/almg-meam/config.toml
  (se_e2_a [16, 32] x 8, fitting [64, 64], rcut 6 / 2 Å, lr 5e-3 -> 1e-4).

pesgen trains four members in one process; DeePMD-kit is run four times (seeds 0-3) and frozen, as
DP-GEN does. Prints wall times, throughput (frames x members per second) and the validation force
RMSE of every member after equal steps. ``--baseline-src DIR`` also trains with the pesgen sources
in DIR (e.g. an older checkout's ``src``) in a subprocess, for before/after ratios in one run.

The peer needs DeePMD-kit with its torch extra (``pip install 'deepmd-kit[torch]==3.2.0'``; ``dp``
imports e3nn). Run: ``python bench/bench_train.py [--setup almg-meam] [--steps 1000] [--threads 1] [--precision
float32 --peer-precision float32] [--baseline-src DIR]``; the peer is skipped with a message when
``dp`` is not on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
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


#: the architecture and learning rates of each setup (pesgen ModelSettings keys)
SETUPS = {
    "emt-al": {"model": {"rcut": 6.0, "rcut_smth": 0.5, "neuron": [25, 50, 100], "axis_neuron": 16,
                         "fitting_neuron": [240, 240, 240]}, "start_lr": 1e-3, "stop_lr": 3.51e-8},
}
ALMG_CONFIG = Path(__file__).resolve().parents[1] / "examples" / "almg-meam" / "config.toml"


def setup_of(name: str) -> dict:
    if name != "almg-meam":
        return SETUPS[name]
    train = tomllib.loads(ALMG_CONFIG.read_text())["train"]
    model = {k: train["model"][k] for k in ("rcut", "rcut_smth", "neuron", "axis_neuron", "fitting_neuron")}
    return {"model": model, "start_lr": train["start_lr"], "stop_lr": train["stop_lr"]}


def setup_frames(name: str, n: int) -> tuple[list, list]:
    """(training, validation) frames of the setup; 20 validation frames."""
    if name == "emt-al":
        frames = make_frames(n, seed=0)
        return frames[:-20], frames[-20:]
    sys.path.insert(0, str(Path(__file__).parent))
    from heldout_almg import heldout_set

    frames = [a for group in heldout_set(0, verbose=False).values() for a in group if len(a) >= 32]
    order = np.random.default_rng(0).permutation(len(frames))
    frames = [frames[k] for k in order]
    return frames[20:], frames[:20]


def deepmd_input(sel: list[int], steps: int, decay_steps: int, seed: int, train_dirs: list[Path],
                 valid_dirs: list[Path], precision: str = "float64", setup: dict | None = None,
                 type_map: list[str] | None = None) -> dict:
    setup = setup or SETUPS["emt-al"]
    net = setup["model"]
    return {
        "model": {
            "type_map": type_map or ["Al"],
            "descriptor": {"type": "se_e2_a", "sel": sel, "rcut_smth": net["rcut_smth"], "rcut": net["rcut"],
                           "neuron": net["neuron"], "axis_neuron": net["axis_neuron"], "type_one_side": True,
                           "resnet_dt": False, "seed": seed, "precision": precision},
            "fitting_net": {"neuron": net["fitting_neuron"], "resnet_dt": True, "seed": seed, "precision": precision},
        },
        "learning_rate": {"type": "exp", "start_lr": setup["start_lr"], "stop_lr": setup["stop_lr"],
                          "decay_steps": decay_steps},
        "loss": {"type": "ener", "start_pref_e": 0.02, "limit_pref_e": 1, "start_pref_f": 1000, "limit_pref_f": 1,
                 "start_pref_v": 0, "limit_pref_v": 0},
        "training": {"training_data": {"systems": [str(d) for d in train_dirs], "batch_size": 1},
                     "validation_data": {"systems": [str(d) for d in valid_dirs], "batch_size": 1, "numb_btch": 1},
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


def run_pesgen(args, train: list, valid: list, setup: dict, type_map: list[str]) -> dict:
    """Train pesgen's ensemble; wall and loop seconds, sel and the members' validation force RMSE."""
    settings = pesgen.TrainSettings(
        numb_steps=args.steps, n_members=4, batch_size=1, validation_fraction=0.0, disp_freq=args.steps,
        decay_steps=max(1, args.steps // 40), start_pref_v=0.0, limit_pref_v=0.0, seed=args.seed,
        start_lr=setup["start_lr"], stop_lr=setup["stop_lr"], model={**setup["model"], "precision": args.precision})
    start = time.perf_counter()
    ensemble = pesgen.train(train, settings, type_map=type_map)
    wall = time.perf_counter() - start
    curve = ensemble.metadata["learning_curve"]
    loop = (curve[-1]["wall_time"] - curve[0]["wall_time"]) * args.steps / max(1, args.steps - 1)
    return {"wall": wall, "loop": loop, "sel": ensemble.hyperparameters["sel"], "rmse": force_rmse(ensemble, valid)}


def validation_cost(args, frames: list, setup: dict, n_valid: int = 64, steps: int = 200) -> None:
    """Seconds per validation pass over ``n_valid`` frames, against seconds per training step: the
    same training (seed, steps, split) with a learning-curve point every 10 steps and with two."""
    walls, states = {}, {}
    for disp in (10, steps):
        settings = pesgen.TrainSettings(
            numb_steps=steps, n_members=4, seed=args.seed, disp_freq=disp, max_validation_frames=n_valid,
            validation_fraction=n_valid / len(frames), start_lr=setup["start_lr"], stop_lr=setup["stop_lr"],
            model={**setup["model"], "precision": args.precision})
        ensemble = pesgen.train(frames, settings)
        curve = ensemble.metadata["learning_curve"]
        walls[disp] = (curve[-1]["wall_time"] - curve[0]["wall_time"], len(curve))
        states[disp] = ensemble.module.state_dict()
    (many, n_many), (few, n_few) = walls[10], walls[steps]
    per_pass = (many - few) / (n_many - n_few)
    per_step = (few - per_pass) / (steps - 1)
    print(f"validation pass over {n_valid} frames: {per_pass:.3f} s = {per_pass / per_step:.1f} training steps "
          f"({per_step * 1e3:.1f} ms/step); at disp_freq 100 it adds {per_pass / per_step:.0f} %")
    same = all(torch.equal(value, states[steps][key]) for key, value in states[10].items())
    print(f"trained weights identical with {n_many} and {n_few} learning-curve points: {same}")


def alternate(args, n: int) -> None:
    """Current and baseline pesgen trained alternately ``n`` times each, each in its own subprocess,
    so that a drifting machine load falls on both: the ratio of each pair and their median."""
    here = Path(__file__).resolve().parents[1] / "src"
    ratios = []
    for k in range(n):
        mine, base = run_baseline(args, here), run_baseline(args, args.baseline_src)
        ratios.append((base["wall"] / mine["wall"], base["loop"] / mine["loop"]))
        print(f"pair {k}: current loop {mine['loop']:.1f} s, baseline loop {base['loop']:.1f} s, "
              f"speed-up {ratios[-1][1]:.2f} (wall {ratios[-1][0]:.2f})", flush=True)
    print(f"median speed-up over the baseline: {np.median([r[1] for r in ratios]):.2f} (training loops), "
          f"{np.median([r[0] for r in ratios]):.2f} (wall), {n} pairs")


def run_baseline(args, src: Path) -> dict:
    """:func:`run_pesgen` with the pesgen sources in ``src``, in a subprocess (same arguments)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "baseline.json"
        argv = [sys.executable, __file__, "--setup", args.setup, "--steps", str(args.steps), "--threads",
                str(args.threads), "--frames", str(args.frames), "--seed", str(args.seed), "--precision",
                args.precision, "--pesgen-json", str(out)]
        env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS=str(args.threads))
        subprocess.run(argv, env=env, check=True)
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", choices=["emt-al", "almg-meam"], default="emt-al")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=220, help="emt-al: number of frames")
    parser.add_argument("--seed", type=int, default=0,
                        help="pesgen training seed; DeePMD-kit runs use seeds 4*seed .. 4*seed+3")
    parser.add_argument("--precision", choices=["float64", "float32"], default="float64",
                        help="pesgen's training precision (DeePMD-kit's runs stay at its default, float64)")
    parser.add_argument("--peer-precision", choices=["float64", "float32"], default="float64",
                        help="DeePMD-kit's training precision (its default: float64)")
    parser.add_argument("--skip-peer", action="store_true", help="run pesgen only")
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="also train with the pesgen package under this folder (before/after ratio)")
    parser.add_argument("--alternate", type=int, default=0, metavar="N",
                        help="with --baseline-src: train current and baseline alternately N times each, and stop")
    parser.add_argument("--validation-cost", action="store_true",
                        help="measure one validation pass (64 frames) in training steps, and stop")
    parser.add_argument("--pesgen-json", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    setup = setup_of(args.setup)
    train, valid = setup_frames(args.setup, args.frames)
    type_map = sorted({s for a in train for s in a.get_chemical_symbols()})  # both codes, both arms: one order
    if args.alternate:
        alternate(args, args.alternate)
        return
    if args.validation_cost:
        validation_cost(args, train + valid, setup)
        return
    if args.pesgen_json is not None:
        args.pesgen_json.write_text(json.dumps(run_pesgen(args, train, valid, setup, type_map)))
        return
    decay_steps = max(1, args.steps // 40)
    mine = run_pesgen(args, train, valid, setup, type_map)
    print(f"pesgen: wall {mine['wall']:.1f} s, loop {mine['loop']:.1f} s", flush=True)
    sel = mine["sel"]
    rows = [(f"pesgen (4 members, one process, {args.precision})", mine["wall"], mine["loop"], mine["rmse"])]
    if args.baseline_src is not None:
        base = run_baseline(args, args.baseline_src)
        print(f"pesgen baseline: wall {base['wall']:.1f} s, loop {base['loop']:.1f} s", flush=True)
        rows.append((f"pesgen baseline ({args.baseline_src})", base["wall"], base["loop"], base["rmse"]))
    dp = None if args.skip_peer else shutil.which("dp")
    if dp is None:
        print("DeePMD-kit's `dp` not on PATH; peer skipped.")
    else:
        from deepmd.infer import DeepPot as DPDeepPot

        tmp = Path(tempfile.mkdtemp(prefix="pesgen-bench-train-"))
        write_deepmd_systems(train, tmp / "train", type_map=type_map)
        write_deepmd_systems(valid, tmp / "valid", type_map=type_map)
        train_dirs = sorted(p.parent for p in (tmp / "train").rglob("type.raw"))
        valid_dirs = sorted(p.parent for p in (tmp / "valid").rglob("type.raw"))
        walls, per_batch, rmses, freezes = [], [], [], []
        for seed in range(4 * args.seed, 4 * args.seed + 4):
            work = tmp / f"member{seed}"
            config = deepmd_input(sel, args.steps, decay_steps, seed, train_dirs, valid_dirs, args.peer_precision,
                                  setup, type_map)
            wall, avg, freeze = run_deepmd(work, config, args.threads)
            walls.append(wall)
            freezes.append(freeze)
            per_batch.append(avg)
            ckpt = sorted(work.glob("model.ckpt*.pt"))[-1]
            dp_model = DPDeepPot(str(ckpt))
            errs = []
            for atoms in valid:
                atype = np.array([type_map.index(s) for s in atoms.get_chemical_symbols()])
                _, f, _ = dp_model.eval(atoms.positions.reshape(1, -1), atoms.cell.array.reshape(1, 9), atype)
                errs.append(np.mean((f.reshape(-1, 3) - atoms.get_forces()) ** 2))
            rmses.append(float(np.sqrt(np.mean(errs))))
        loop = sum(p * args.steps for p in per_batch) if all(per_batch) else None
        rows.append((f"DeePMD-kit (4 runs of dp --pt train, {args.peer_precision})", sum(walls), loop, rmses))

    n_items = args.steps * 1 * 4
    n_atoms = sorted({len(a) for a in train})
    print(f"\nensemble training ({args.setup}): {args.steps} steps, batch 1 ({n_atoms[0]}-{n_atoms[-1]} atoms), "
          f"4 members, threads={args.threads}, {len(train)} training / {len(valid)} validation frames, sel={sel}")
    head = f"{'':48} {'wall s':>8} {'loop s':>8} {'frames x members / s (wall, loop)':>36}"
    print(head + "   val force RMSE per member (eV/Å)")
    for name, wall, loop, rmse in rows:
        loop_txt = f"{loop:8.1f}" if loop else f"{'-':>8}"
        rate = f"{n_items / wall:.1f}, " + (f"{n_items / loop:.1f}" if loop else "-")
        print(f"{name:48} {wall:8.1f} {loop_txt} {rate:>36}   " + " ".join(f"{r:.4f}" for r in rmse))
    if args.baseline_src is not None:
        print(f"speed-up over the baseline: {base['wall'] / mine['wall']:.2f} (wall), "
              f"{base['loop'] / mine['loop']:.2f} (training loops)")
    if dp is not None:
        peer = rows[-1]
        print(f"throughput ratio pesgen / DeePMD-kit: {peer[1] / mine['wall']:.2f} (wall, incl. DeePMD-kit start-up)"
              + (f", {peer[2] / mine['loop']:.2f} (training loops alone)" if peer[2] else ""))
        print(f"mean val force RMSE: pesgen {np.mean(mine['rmse']):.4f}, DeePMD-kit {np.mean(peer[3]):.4f} eV/Å")
        print(f"DeePMD-kit `dp --pt freeze` (DP-GEN runs it after every training): {sum(freezes):.1f} s for 4 models; "
              f"pesgen / (DeePMD-kit train + freeze) wall ratio {(peer[1] + sum(freezes)) / mine['wall']:.2f}")


if __name__ == "__main__":
    main()
