"""Can the trainer fit energies that only energy labels carry? Batches of one system vs batches that mix systems.

The probe of issue 12 §5: 35 perfect Al crystals labeled by EMT (fcc, bcc, sc, diamond, hcp, each at
7 volumes 0.88-1.12 V0; forces vanish by symmetry, so only the energies teach), every lattice its own
system (8-32 atoms). One member, the training settings of examples/almg-meam (embedding [16, 32],
axis 8, fitting [64, 64], float32, rcut 6 Å, rcut_smth 2 Å, lr 0.005 -> 1e-4, DeePMD-kit's
prefactors) for 3000 steps, then each lattice's energy RMSE on these very frames, meV/atom: a
training error, so any value above a few meV/atom means the trainer did not fit data it has.

    OMP_NUM_THREADS=1 python bench/energy_fit.py                   # every arm, seeds 11 1 2
    OMP_NUM_THREADS=1 python bench/energy_fit.py --arms system-32 mixed-128 --seeds 11

Arms: ``system-N`` batches of one system with N atoms ("auto" batch: frames x atoms >= N, capped at
the system's 7 frames), ``mixed-N`` batches drawn across systems with N atoms
(``batch_mixing = "mixed"``). Prints one row per arm and seed, the worst lattice first, and the CPU
seconds of the training (one thread).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from pesgen.training.trainer import train

LATTICES = [("fcc", 4.05, (2, 2, 2)), ("bcc", 3.24, (2, 2, 2)), ("sc", 2.72, (3, 3, 3)),
            ("diamond", 6.0, (1, 1, 1)), ("hcp", 2.86, (2, 2, 2))]
SETTINGS = {
    "n_members": 1, "numb_steps": 3000, "start_lr": 0.005, "stop_lr": 1e-4, "validation_fraction": 0.0,
    "disp_freq": 1000,
    "model": {"rcut": 6.0, "rcut_smth": 2.0, "neuron": [16, 32], "axis_neuron": 8, "fitting_neuron": [64, 64],
              "precision": "float32"},
}
ARMS = {"system-32": {}, "system-128": {"auto_batch_atoms": 128},
        "mixed-32": {"batch_mixing": "mixed"}, "mixed-128": {"batch_mixing": "mixed", "auto_batch_atoms": 128}}


def crystals() -> list:
    frames = []
    for lattice, a, rep in LATTICES:
        if lattice == "hcp":
            cell = bulk("Al", "hcp", a=a, c=a * 1.633)
        else:
            cell = bulk("Al", lattice, a=a, cubic=True)
        cell = cell.repeat(rep)
        for scale in np.linspace(0.88, 1.12, 7):
            atoms = cell.copy()
            atoms.set_cell(cell.cell * scale ** (1 / 3), scale_atoms=True)
            atoms.calc = EMT()
            results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(),
                       "stress": atoms.get_stress()}
            atoms.calc = SinglePointCalculator(atoms, **results)
            atoms.info["category"] = lattice
            frames.append(atoms)
    return frames


def lattice_rmse(ensemble, frames) -> dict[str, float]:
    errors: dict[str, list[float]] = {}
    for atoms, energy in zip(frames, ensemble.evaluate(frames)["energy"].tolist(), strict=True):
        errors.setdefault(atoms.info["category"], []).append((energy - atoms.get_potential_energy()) / len(atoms))
    return {k: 1000 * float(np.sqrt(np.mean(np.square(v)))) for k, v in errors.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="*", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[11, 1, 2])
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    frames = crystals()
    print(f"{len(frames)} Al EMT crystals, {args.steps} steps; training energy RMSE per lattice (meV/atom), "
          "worst first")
    print(f"{'arm':11s} {'seed':>4s} {'CPU s':>6s} {'worst':>6s}  lattices")
    worst: dict[str, list[float]] = {}
    for arm in args.arms:
        for seed in args.seeds:
            config = {**SETTINGS, **ARMS[arm], "seed": seed, "numb_steps": args.steps}
            cpu0 = time.process_time()
            ensemble = train(frames, config, type_map=["Al"])
            cpu = time.process_time() - cpu0
            rmse = sorted(lattice_rmse(ensemble, frames).items(), key=lambda kv: -kv[1])
            worst.setdefault(arm, []).append(rmse[0][1])
            print(f"{arm:11s} {seed:4d} {cpu:6.0f} {rmse[0][1]:6.1f}  " + " ".join(f"{k} {v:.1f}" for k, v in rmse),
                  flush=True)
    print("worst lattice, mean over seeds (min-max):")
    for arm, values in worst.items():
        print(f"  {arm:11s} {np.mean(values):6.1f} ({min(values):.1f}-{max(values):.1f})")


if __name__ == "__main__":
    main()
