"""Benchmark of the whole loop on the quick example (examples/al-emt): wall time per step and
label efficiency against random selection.

1. Runs ``examples/al-emt/config.toml`` (with ``exploration.keep_all_frames = true`` so that every
   explored frame keeps its atoms for part 2) in a fresh run directory and prints the wall time
   of each step kind (initial labels, train, explore, select, label), summed over iterations.
2. Label efficiency: the loop labeled N explored frames. A baseline labels N frames drawn
   uniformly at random from the same explored pool (all recorded frames of all iterations, the
   loop's own picks excluded). Both datasets (each plus the same initial data) train an ensemble
   from scratch with the same settings; both are scored on a held-out test set of explored frames
   (random, disjoint from both datasets) labeled by EMT: force RMSE (eV/Å) and energy RMSE
   (meV/atom) of the ensemble mean, overall and for the hottest stage.

Usage: ``python bench/bench_loop.py [--out DIR] [--steps 3000] [--n-test 300] [--skip-efficiency]``.
Prints two tables and the ratio baseline RMSE / loop RMSE (> 1: the loop's labels are worth more).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see docs/loop.md

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile
import time
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "al-emt" / "config.toml"


def run_example(out: Path) -> Path:
    from pesgen.loop.runner import run_loop

    config = out / "al-emt.toml"
    text = EXAMPLE.read_text().replace("walkers_per_system = 1", "walkers_per_system = 1\nkeep_all_frames = true")
    config.write_text(text)
    t0 = time.perf_counter()
    result = run_loop(config, out / "run", quiet=True)
    wall = time.perf_counter() - t0
    state = json.loads((out / "run" / "state.json").read_text())
    per_step: dict[str, float] = {}
    for key, seconds in state["wall_times"].items():
        kind = key.split("/")[-1]
        per_step[kind] = per_step.get(kind, 0.0) + seconds
    print(f"\n## al-emt wall time ({result.iterations} iterations; {result.reason})\n")
    print("| step | s | share |\n|---|---:|---:|")
    for kind in ("initial", "train", "explore", "select", "label"):
        s = per_step.get(kind, 0.0)
        print(f"| {kind} | {s:.1f} | {100 * s / wall:.0f} % |")
    print(f"| total (run_loop, incl. start-up) | {wall:.1f} | 100 % |")
    print(f"\nload average after the run: {os.getloadavg()}")
    return out / "run"


def emt_label(atoms: Atoms) -> Atoms:
    a = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    a.calc = EMT()
    e, f, s = a.get_potential_energy(), a.get_forces(), a.get_stress()
    a.calc = SinglePointCalculator(a, energy=e, forces=f, stress=s)
    a.info["temperature_target"] = atoms.info.get("temperature_target")
    return a


def scores(ensemble, frames: list[Atoms]) -> dict[str, float]:
    df, de = [], []
    for start in range(0, len(frames), 32):
        part = frames[start:start + 32]
        res = ensemble.evaluate(part)
        forces = res["forces"].detach().numpy()
        energy = res["energy"].detach().numpy()
        off = 0
        for k, a in enumerate(part):
            n = len(a)
            df.append((forces[off:off + n] - a.get_forces()).ravel())
            de.append((energy[k] - a.get_potential_energy()) / n)
            off += n
    df_all = np.concatenate(df)
    return {"rmse_f": float(np.sqrt(np.mean(df_all ** 2))), "rmse_e": float(1000 * np.sqrt(np.mean(np.square(de))))}


def efficiency(run: Path, steps: int, n_test: int, seed: int = 0) -> None:
    import pesgen
    from pesgen.data.store import Store
    from pesgen.explore.records import read_record
    from pesgen.loop.config import load_config
    from pesgen.loop.training_step import training_frames

    cfg = load_config(run / "config.toml", base=EXAMPLE.parent)
    store = Store(run / "store.db", readonly=True)
    loop_frames = training_frames(store)
    initial = [a for a in loop_frames if a.info["provenance"].origin != "explored"]
    explored = [a for a in loop_frames if a.info["provenance"].origin == "explored"]
    picked = {(a.info["provenance"].iteration, a.info["provenance"].walker, a.info["provenance"].step)
              for a in explored}
    pool = []     # (iteration, row) of every recorded frame the loop did not label
    records = {}
    for it_dir in sorted(run.glob("iter.*")):
        it = int(it_dir.name.split(".")[1])
        if not (it_dir / "record.sqlite").is_file():
            continue
        rec = read_record(it_dir / "record.sqlite")
        records[it] = rec
        for row in range(len(rec)):
            key = (it, int(rec.columns["walker"][row]), int(rec.columns["step"][row]))
            if key not in picked and rec.has_frame(row) and np.isfinite(rec.columns["max_devi_f"][row]):
                pool.append((it, row))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool))
    n = len(explored)
    test_idx, base_idx = order[:n_test], order[n_test:n_test + n]

    def frames_of(idx):
        out = []
        for k in idx:
            it, row = pool[k]
            out.append(emt_label(records[it].frame(row)))
        return out

    test = frames_of(test_idx)
    baseline = initial + frames_of(base_idx)
    settings = cfg.train.model_dump()
    settings.update(numb_steps=steps, seed=seed)
    t_max = max(a.info["temperature_target"] for a in test)
    hot = [a for a in test if a.info["temperature_target"] == t_max]
    rows = []
    final = pesgen.load(run)
    for name, data in (("loop (active learning)", loop_frames), ("random from the same pool", baseline)):
        t0 = time.perf_counter()
        ens = pesgen.train(data, settings, type_map=cfg.elements)
        rows.append((name, len(data), scores(ens, test), scores(ens, hot), time.perf_counter() - t0))
    print(f"\n## label efficiency: {n} explored labels each (+{len(initial)} initial), pool {len(pool)} frames, "
          f"test {len(test)} frames ({len(hot)} at {t_max:.0f} K); from-scratch training, {steps} steps\n")
    print("| dataset | frames | force RMSE (eV/Å) | energy RMSE (meV/atom) | force RMSE hottest stage | "
          "energy RMSE hottest | train s |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, size, s_all, s_hot, secs in rows:
        print(f"| {name} | {size} | {s_all['rmse_f']:.4f} | {s_all['rmse_e']:.2f} | {s_hot['rmse_f']:.4f} | "
              f"{s_hot['rmse_e']:.2f} | {secs:.0f} |")
    s_final, s_final_hot = scores(final, test), scores(final, hot)
    print(f"| loop's own final ensemble (warm-started) | {len(loop_frames)} | {s_final['rmse_f']:.4f} | "
          f"{s_final['rmse_e']:.2f} | {s_final_hot['rmse_f']:.4f} | {s_final_hot['rmse_e']:.2f} | |")
    (name_l, _, loop_all, loop_hot, _), (_, _, base_all, base_hot, _) = rows
    print(f"\nratio random / loop: force RMSE {base_all['rmse_f'] / loop_all['rmse_f']:.2f} "
          f"(hottest stage {base_hot['rmse_f'] / loop_hot['rmse_f']:.2f}), energy RMSE "
          f"{base_all['rmse_e'] / loop_all['rmse_e']:.2f} (hottest {base_hot['rmse_e'] / loop_hot['rmse_e']:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for the run (default: a temporary one)")
    parser.add_argument("--steps", type=int, default=3000, help="training steps of the from-scratch comparison")
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--skip-efficiency", action="store_true")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-loop-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"# bench_loop: {out}, load average before: {os.getloadavg()}")
    run = run_example(out)
    if not args.skip_efficiency:
        efficiency(run, args.steps, args.n_test)


if __name__ == "__main__":
    main()
