"""Benchmark: label efficiency of the selection strategies (random, highest deviation, diverse).

One explored pool, labelled by the same oracle, is used for every strategy, so the only
difference is which K frames each strategy sends to labeling:

1. an ensemble (4 small DeepPots) is trained on a few EMT-labelled fcc Al cells;
2. it drives batched Langevin MD of fcc and hcp Al walkers at 300-1500 K (the explored pool),
   every recorded frame with its model deviation;
3. each strategy picks K frames from the candidate window [f_lo, f_hi) (f_lo, f_hi: the
   pool's 30th and 99.5th deviation percentiles); "diverse" uses farthest-point sampling in the
   ensemble's descriptor space (per-frame mean descriptor of member 0);
4. the picked frames are labelled with EMT, added to the initial data, and a fresh ensemble is
   trained with the same seed and steps;
5. its force and energy errors are measured on a held-out set: ASE Langevin MD frames of EMT
   itself, fcc and hcp, at 300, 900 and 1500 K.

Repeated over seeds; prints the mean errors per strategy and their ratio to random.
Run: ``python bench/bench_selection.py [--k 24] [--seeds 3] [--steps 400]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.langevin import Langevin as AseLangevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

import pesgen
from pesgen.explore.md import Langevin, MDSampler
from pesgen.explore.pick import PICKERS, DiversePicker
from pesgen.explore.select import TrustLevels, select

MODEL = {"rcut": 5.0, "rcut_smth": 1.0, "neuron": [8, 16, 32], "axis_neuron": 4, "fitting_neuron": [32, 32, 32]}


def emt_label(atoms):
    atoms = atoms.copy()
    atoms.calc = EMT()
    energy, forces, stress = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces, stress=stress)
    return atoms


def initial_data(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        out.append(emt_label(atoms))
    return out


def walkers() -> list:
    fcc = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)
    hcp = bulk("Al", "hcp", a=2.86, c=4.67).repeat((3, 3, 2))
    return [fcc.copy() for _ in range(4)] + [hcp.copy() for _ in range(4)]


def held_out(seed: int) -> list:
    out = []
    for k, (atoms, temp) in enumerate((a, t) for a in walkers()[::4] for t in (300, 900, 1500)):
        atoms = atoms.copy()
        atoms.calc = EMT()
        MaxwellBoltzmannDistribution(atoms, temperature_K=temp, rng=np.random.default_rng(seed + k))
        dyn = AseLangevin(atoms, 2 * units.fs, temperature_K=temp, friction=0.02, rng=np.random.default_rng(k))
        for _ in range(6):
            dyn.run(40)
            out.append(emt_label(atoms))
    return out


def errors(ensemble, frames) -> tuple[float, float]:
    out = ensemble.evaluate(frames)
    f_ref = np.concatenate([a.get_forces() for a in frames])
    e_ref = np.array([a.get_potential_energy() / len(a) for a in frames])
    n = np.array([len(a) for a in frames])
    f_rmse = float(np.sqrt(np.mean((out["forces"].numpy() - f_ref) ** 2)))
    e_rmse = float(np.sqrt(np.mean((out["energy"].numpy() / n - e_ref) ** 2)))
    return f_rmse, e_rmse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=24, help="labels per strategy")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=400, help="training steps")
    parser.add_argument("--md-steps", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    settings = {"numb_steps": args.steps, "disp_freq": args.steps, "n_members": 4, "validation_fraction": 0.0,
                "start_lr": 2e-3, "stop_lr": 1e-5, "model": MODEL}
    test = held_out(seed=100)
    results: dict[str, list[tuple[float, float]]] = {"random": [], "highest": [], "diverse": []}
    for seed in range(args.seeds):
        init = initial_data(8, seed)
        ensemble = pesgen.train(init, {**settings, "seed": seed})
        sampler = MDSampler(ensemble, Langevin(timestep=2.0, friction=0.02), record_every=10, seed=seed)
        temps = [300.0, 700.0, 1100.0, 1500.0] * 2
        chunk = sampler.sample(walkers(), args.md_steps, temperature=temps)
        columns = dict(chunk.columns)
        columns["system"] = np.array(["pool"] * len(chunk))
        dev = columns["max_devi_f"]
        lo, hi = np.percentile(dev, 30), np.percentile(dev, 99.5)
        frames = [chunk.atoms(r) for r in range(len(chunk))]
        features = np.stack([ensemble.descriptors(a)[0].mean(0).numpy() for a in frames])
        for strategy in results:
            picker = DiversePicker(features) if strategy == "diverse" else PICKERS[strategy]()
            sel = select(columns, TrustLevels(lo, hi), args.k, picker, np.random.default_rng(seed))
            picked = [emt_label(frames[r]) for r in sel.selected_rows]
            model = pesgen.train(init + picked, {**settings, "seed": seed})
            results[strategy].append(errors(model, test))
        print(f"seed {seed}: pool {len(chunk)} frames, window [{lo:.3f}, {hi:.3f}) eV/Å, "
              + ", ".join(f"{s} F {r[-1][0]:.4f}" for s, r in results.items()), flush=True)
    print(f"\nlabel efficiency: {args.k} labels per strategy on top of 8 initial frames, {args.seeds} seeds, "
          f"{len(test)} held-out EMT MD frames (fcc, hcp at 300/900/1500 K); {time.perf_counter() - t0:.0f} s")
    base_f = np.mean([r[0] for r in results["random"]])
    base_e = np.mean([r[1] for r in results["random"]])
    print(f"{'strategy':10} {'force RMSE (eV/Å)':>22} {'energy RMSE (meV/atom)':>24} "
          f"{'F / random':>11} {'E / random':>11}")
    for strategy, rows in results.items():
        f = np.array([r[0] for r in rows])
        e = np.array([r[1] for r in rows]) * 1e3
        print(f"{strategy:10} {f.mean():14.4f} ± {f.std():.4f} {e.mean():16.2f} ± {e.std():.2f} "
              f"{f.mean() / base_f:11.3f} {e.mean() / 1e3 / base_e:11.3f}")


if __name__ == "__main__":
    main()
