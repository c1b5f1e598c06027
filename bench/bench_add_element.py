"""Adding an element to a finished run vs starting over (issue 15, section 2), with EMT labels.

1. ``base``: an Al run (EMT) to its end;
2. ``extended``: the Al-Cu config run ``--from base`` (its labels imported, its ensemble extended
   to Cu: pesgen.model.extend);
3. ``scratch``: the same Al-Cu config from scratch.

Printed per run: converged or not, iterations, the labels the run computed itself (not imported),
the last audit's worst-system force RMSE, and the force RMSE on a held-out set labelled by EMT
alone (Langevin MD at 600 K of 32-atom fcc Al, fcc Cu and fcc Al24Cu8; the Al run on the Al frames).

    python bench/bench_add_element.py [--seed 0] [--out /tmp/bench-add-element]

ASE's EMT has no Mg, so Cu stands in for the paper's Mg (the Al-Mg MEAM example takes an hour).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT

sys.path.insert(0, str(Path(__file__).parent))
from heldout import md_frames  # noqa: E402

CONFIG = """
name = "{name}"
seed = {seed}
elements = {elements}
max_iterations = 10
threads = 1

[initial.structures]
seed = 1
crystals = [{crystals}]
scale = {{ alpha_min = 0.97, alpha_max = 1.03, n = 2 }}
perturb = {{ n = 2, sigma_a = 0.01, sigma_c = 0.03 }}
{alloys}

[train]
n_members = 4
numb_steps = 800
start_lr = 0.005
stop_lr = 1e-4
disp_freq = 200

[train.model]
rcut = 5.0
rcut_smth = 1.0
neuron = [16, 32]
axis_neuron = 8
fitting_neuron = [48, 48]
precision = "float32"

[warm_start]
numb_steps = 500
start_lr = 0.002

[exploration]
timestep = 2.0
n_steps = 200
record_every = 10
walkers_per_system = 1

[exploration.ramp]
n_stages = 2
t_min = 300.0
t_max = 900.0

[selection]
f_lo = 0.08
f_hi = 0.40
max_per_system = 4
accurate_soft_threshold = 0.9
accurate_threshold = 0.99

[audit]
per_system = 2

[convergence]
accurate_ratio = 0.9
max_iterations_per_stage = 4
target_force_rmse = 0.10

[label]
kind = "emt"

[executor]
kind = "local"
max_workers = 2
"""

AL = '{ element = "Al", lattices = ["fcc", "sc"], size = [2, 2, 2] }'
CU = '{ element = "Cu", lattices = ["fcc", "sc"], size = [2, 2, 2] }'


def config(name: str, seed: int, with_cu: bool) -> str:
    return CONFIG.format(name=name, seed=seed, elements='["Al", "Cu"]' if with_cu else '["Al"]',
                         crystals=AL + (", " + CU if with_cu else ""),
                         alloys="" if not with_cu else
                         "alloys = { compositions = [{ Al = 0.75, Cu = 0.25 }], n = 1, keep_pure = true }")


def heldout(seed: int) -> list:
    rng = np.random.default_rng(seed + 1000)
    out = []
    for symbols in ("Al", "Cu", "alloy"):
        atoms = bulk("Cu" if symbols == "Cu" else "Al", "fcc", a=3.61 if symbols == "Cu" else 4.05,
                     cubic=True).repeat(2)
        if symbols == "alloy":
            atoms.set_cell(atoms.cell * (3.85 / 4.05), scale_atoms=True)
            idx = rng.choice(len(atoms), size=8, replace=False)
            atoms.numbers[idx] = 29
        frames, _ = md_frames(atoms, EMT(), 600.0, 10, rng, equilibrate=500)
        out += frames
    return out


def measure(run_dir: Path, frames: list) -> dict:
    from pesgen.data.store import Store
    from pesgen.loop.rundir import RunDir, load_latest
    from pesgen.loop.summaries import AuditSummary

    run = RunDir(run_dir)
    state = run.load_state()
    store = Store(run.store_path, readonly=True)
    own = len(store) - len(store.frames(origin="imported"))
    its = state.iterations()
    audit = run.read_summary(AuditSummary, max(its)) if its else None
    worst = audit.worst("rmse_f")[1] if audit and audit.stage_errors["n"] else float("nan")
    ens = load_latest(run_dir)
    frames = [a for a in frames if set(a.get_chemical_symbols()) <= set(ens.type_map)]
    pred = ens.evaluate(frames)["forces"].detach().numpy()
    true = np.concatenate([a.get_forces() for a in frames])
    return {"converged": bool(state.converged), "iterations": len(its), "own_labels": own,
            "audit_worst_rmse_f": worst, "heldout_rmse_f": float(np.sqrt(np.mean((pred - true) ** 2)))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-add-element"))
    args = parser.parse_args()
    from pesgen.loop.runner import run_loop

    args.out.mkdir(parents=True, exist_ok=True)  # a finished run there is reused (pesgen run returns at once)
    frames = heldout(args.seed)
    rows = {}
    for name, with_cu, source in (("base", False, None), ("extended", True, "base"), ("scratch", True, None)):
        path = args.out / f"{name}.toml"
        path.write_text(config(name, args.seed, with_cu))
        t0 = time.perf_counter()
        run_loop(path, args.out / name, quiet=True, from_run=None if source is None else args.out / source)
        rows[name] = measure(args.out / name, frames) | {"wall_s": time.perf_counter() - t0}
        print(name, rows[name], flush=True)
    print("| run | converged | iterations | labels computed | last audit worst F RMSE (eV/Å) | "
          "held-out Al-Cu F RMSE (eV/Å) | wall (s) |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['converged']} | {r['iterations']} | {r['own_labels']} | "
              f"{r['audit_worst_rmse_f']:.3f} | {r['heldout_rmse_f']:.3f} | {r['wall_s']:.0f} |")


if __name__ == "__main__":
    main()
