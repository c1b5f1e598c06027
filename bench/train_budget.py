"""Training budget study (issue 12 §5): held-out error against training cost, per setting.

One model (a single ensemble member: the ensemble's members train independently, so a member's
error is the ensemble's per-member error) is trained from scratch on a fixed Al–Mg/MEAM training
pool (``pool_almg.py``, seed 1 and up) for each setting, then evaluated on the Al–Mg/MEAM held-out
set (``heldout_almg.py``, seed 0, never trained on) per category. Printed per setting: steps, the
training cost in CPU seconds of this process (one thread: ``OMP_NUM_THREADS=1``; CPU time is
what the study compares, wall time is shown too but depends on the machine's load), the worst
category's energy RMSE (meV/atom) and force score (force RMSE / max(0.05 eV/Å, 10 % of the
category's force RMS), > 1 misses), the training-pool energy RMSE of that worst category
("train": equal to the held-out one means the model underfits its own data), how many of the
31 categories meet both targets, and the Pareto front of (CPU s, worst score).

    OMP_NUM_THREADS=1 python bench/train_budget.py                       # every setting
    OMP_NUM_THREADS=1 python bench/train_budget.py base-12k big-12k      # some
    python bench/train_budget.py --list                                  # the settings
    python bench/train_budget.py --table                                 # results so far

Results are appended to ``bench/.cache/train-budget.jsonl`` (one line per trained setting,
per-category rows included), so an interrupted study goes on where it stopped; ``--redo``
trains a setting again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from heldout import CACHE  # noqa: E402
from heldout_almg import heldout_set  # noqa: E402
from pesgen.model.io import load as load_model  # noqa: E402
from pesgen.training.config import TrainSettings  # noqa: E402
from pesgen.training.trainer import train  # noqa: E402
from pesgen.validate.evaluate import evaluate  # noqa: E402
from pool_almg import training_pool  # noqa: E402

RESULTS = CACHE / "train-budget.jsonl"

# The almg-meam example's training section (examples/almg-meam/config.toml), one member.
BASE = {
    "n_members": 1, "seed": 11, "numb_steps": 12000, "start_lr": 0.005, "stop_lr": 1e-4,
    "validation_fraction": 0.0, "disp_freq": 1000,
    "model": {"rcut": 6.0, "rcut_smth": 2.0, "neuron": [16, 32], "axis_neuron": 8, "fitting_neuron": [64, 64],
              "precision": "float32"},
}
DEEPMD_NET = {"neuron": [25, 50, 100], "axis_neuron": 16, "fitting_neuron": [240, 240, 240]}
MEDIUM_NET = {"neuron": [16, 32, 64], "axis_neuron": 12, "fitting_neuron": [128, 128, 128]}

# name: (overrides of BASE, pool seeds)
SETTINGS: dict[str, tuple[dict, tuple[int, ...]]] = {
    "base-3k": ({"numb_steps": 3000}, (1,)),
    "base-12k": ({}, (1,)),
    "base-40k": ({"numb_steps": 40000}, (1,)),
    "pe2-12k": ({"limit_pref_e": 2.0}, (1,)),
    "pe10-12k": ({"limit_pref_e": 10.0}, (1,)),
    "pv10-12k": ({"limit_pref_v": 10.0}, (1,)),
    "lr1e-3-12k": ({"start_lr": 1e-3, "stop_lr": 3.51e-8}, (1,)),
    "rcut5-12k": ({"model": {"rcut": 5.0}}, (1,)),
    # the switching region: rcut_smth 2 Å (the example) puts every neighbour in it
    "rs05-3k": ({"numb_steps": 3000, "model": {"rcut_smth": 0.5}}, (1,)),
    "rs05-12k": ({"model": {"rcut_smth": 0.5}}, (1,)),
    "rs1-12k": ({"model": {"rcut_smth": 1.0}}, (1,)),
    # the force prefactor ends at 1000 stop_lr/start_lr + 1: 21 with lr 0.005 -> 1e-4, so energies
    # never weigh as much as DeePMD-kit's schedule (1e-3 -> 3.5e-8) makes them at its end
    "lr5e-6-3k": ({"numb_steps": 3000, "stop_lr": 5e-6}, (1,)),
    "pf100-3k": ({"numb_steps": 3000, "start_pref_f": 100.0}, (1,)),
    "pf10-3k": ({"numb_steps": 3000, "start_pref_f": 10.0}, (1,)),
    # batches that mix systems (every step sees several structures' energies at once)
    "mix32-3k": ({"numb_steps": 3000, "batch_mixing": "mixed"}, (1,)),
    "mix128-3k": ({"numb_steps": 3000, "batch_mixing": "mixed", "auto_batch_atoms": 128}, (1,)),
    "sys128-3k": ({"numb_steps": 3000, "auto_batch_atoms": 128}, (1,)),
    "mix128-12k": ({"batch_mixing": "mixed", "auto_batch_atoms": 128}, (1,)),
    "mix512-3k": ({"numb_steps": 3000, "batch_mixing": "mixed", "auto_batch_atoms": 512}, (1,)),
    "f64-12k": ({"model": {"precision": "float64"}}, (1,)),
    "medium-12k": ({"model": MEDIUM_NET}, (1,)),
    "deepmd-12k": ({"model": DEEPMD_NET}, (1,)),
    "pool3-12k": ({}, (1, 2, 3)),
    "pool3-40k": ({"numb_steps": 40000}, (1, 2, 3)),
    "medium-40k": ({"numb_steps": 40000, "model": MEDIUM_NET}, (1,)),
    # the loop's warm start (examples/almg-meam [warm_start]): base-12k on pool 1, then 3000 steps
    # from lr 0.002 on pools 1-3, against pool3-12k trained from scratch
    "warm-3k": ({"numb_steps": 3000, "start_lr": 0.002, "init": "base-12k"}, (1, 2, 3)),
}


def settings_of(name: str) -> tuple[TrainSettings, tuple[int, ...]]:
    overrides, pools = SETTINGS[name]
    merged = {**BASE, **{k: v for k, v in overrides.items() if k not in ("model", "init")}}
    merged["model"] = {**BASE["model"], **overrides.get("model", {})}
    return TrainSettings(**merged), pools


def pool_frames(seeds: tuple[int, ...]) -> list:
    return [atoms for seed in seeds for frames in training_pool(seed, verbose=False).values() for atoms in frames]


def model_path(name: str) -> Path:
    return CACHE / "train-budget-models" / f"{name}.pt"


def run_setting(name: str, heldout: dict, results: dict[str, dict]) -> dict:
    """Train ``name`` (its ``init`` setting first, when it warm-starts and is not done) and
    evaluate it; the CPU and wall seconds of a warm start include its initial model's."""
    config, pools = settings_of(name)
    init_name = SETTINGS[name][0].get("init")
    init, cpu_init, wall_init = None, 0.0, 0.0
    if init_name is not None:
        results.update(load_results())  # another process of the study may have trained it
        if init_name not in results or not model_path(init_name).is_file():
            results[init_name] = record(run_setting(init_name, heldout, results))
        init = load_model(model_path(init_name))
        cpu_init, wall_init = results[init_name]["cpu_s"], results[init_name]["wall_s"]
    frames = pool_frames(pools)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ensemble = train(frames, config, init=init, type_map=["Al", "Mg"])
    cpu, wall = time.process_time() - cpu0 + cpu_init, time.perf_counter() - wall0 + wall_init
    model_path(name).parent.mkdir(parents=True, exist_ok=True)
    ensemble.save(model_path(name))
    rows = evaluate(ensemble, heldout)
    return {"train_rows": training_rows(name, ensemble), "setting": name, "numb_steps": config.numb_steps,
            "n_frames": len(frames), "cpu_s": cpu, "wall_s": wall,
            "threads": torch.get_num_threads(), "load": os.getloadavg()[0],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": [r.as_dict() for r in rows]}


def record(result: dict) -> dict:
    """Append ``result`` to the results file and return it."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as fh:
        fh.write(json.dumps(result) + "\n")
    return result


def training_rows(name: str, model=None) -> list[dict]:
    """Per-category errors of setting ``name``'s model on its own training pool: when they equal
    the held-out ones, the model underfits and more or other data cannot help."""
    model = model if model is not None else load_model(model_path(name))
    pools = SETTINGS[name][1]
    groups: dict[str, list] = {}
    for seed in pools:
        for category, frames in training_pool(seed, verbose=False).items():
            groups.setdefault(category, []).extend(frames)
    return [r.as_dict() for r in evaluate(model, groups)]


def load_results() -> dict[str, dict]:
    if not RESULTS.is_file():
        return {}
    out = {}
    for line in RESULTS.read_text().splitlines():
        if line.strip():
            result = json.loads(line)
            out[result["setting"]] = result
    return out


def summary(record: dict) -> dict:
    rows = record["rows"]
    worst_e = max(rows, key=lambda r: r["energy_rmse"])
    train = {r["category"]: r for r in record.get("train_rows", [])}
    worst_f = max(rows, key=lambda r: r["force_rmse"] / max(0.05, 0.1 * r["force_rms"]))
    return {
        "worst_score": rows[0]["score"], "worst_category": rows[0]["category"],
        "worst_e": worst_e["energy_rmse"], "worst_e_cat": worst_e["category"],
        "train_e": train[worst_e["category"]]["energy_rmse"] if worst_e["category"] in train else float("nan"),
        "worst_f": worst_f["force_rmse"], "worst_f_goal": max(0.05, 0.1 * worst_f["force_rms"]),
        "worst_f_cat": worst_f["category"], "met": sum(r["score"] <= 1.0 for r in rows), "n": len(rows),
    }


def table(results: dict[str, dict]) -> str:
    lines = [f"{'setting':12s} {'steps':>6s} {'frames':>6s} {'CPU s':>7s} {'wall s':>7s} {'load':>5s} "
             f"{'worst E meV/at (category)':>36s} {'train':>6s} {'worst F eV/Å / goal (category)':>40s} "
             f"{'met':>6s} {'front':>5s}"]
    done = [name for name in SETTINGS if name in results]
    sums = {name: summary(results[name]) for name in done}
    front = {name for name in done if not any(
        results[o]["cpu_s"] <= results[name]["cpu_s"] and sums[o]["worst_score"] < sums[name]["worst_score"]
        for o in done if o != name)}
    for name in sorted(done, key=lambda n: results[n]["cpu_s"]):
        r, s = results[name], sums[name]
        lines.append(
            f"{name:12s} {r['numb_steps']:6d} {r['n_frames']:6d} {r['cpu_s']:7.0f} {r['wall_s']:7.0f} {r['load']:5.1f} "
            f"{s['worst_e']:9.1f} ({s['worst_e_cat']:24s}) {s['train_e']:6.1f} "
            f"{s['worst_f']:6.3f}/{s['worst_f_goal']:5.3f} ({s['worst_f_cat']:24s}) "
            f"{s['met']:3d}/{s['n']:2d} {'*' if name in front else '':>5s}")
    return "\n".join(lines)


def categories(record: dict) -> str:
    lines = [f"{record['setting']}: per category, worst first",
             f"  {'category':26s} {'E meV/atom':>10s} {'F eV/Å':>8s} {'F RMS':>7s} {'W meV/atom':>10s} {'score':>6s}"]
    for r in record["rows"]:
        w = f"{r['virial_rmse']:10.1f}" if r["virial_rmse"] is not None else f"{'-':>10s}"
        lines.append(f"  {r['category']:26s} {r['energy_rmse']:10.1f} {r['force_rmse']:8.3f} {r['force_rms']:7.3f} "
                     f"{w} {r['score']:6.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="*", help="settings to train (default: all not yet done)")
    parser.add_argument("--list", action="store_true", help="print the settings and exit")
    parser.add_argument("--table", action="store_true", help="print the results so far and exit")
    parser.add_argument("--categories", action="store_true", help="with --table: per-category rows too")
    parser.add_argument("--redo", action="store_true", help="train the named settings again")
    parser.add_argument("--backfill", action="store_true",
                        help="add the training-pool errors to finished settings that lack them (saved models)")
    args = parser.parse_args()
    if args.list:
        for name in SETTINGS:
            config, pools = settings_of(name)
            print(f"{name:12s} pools {pools} {config.model_dump_json(exclude_defaults=True)}")
        return
    unknown = [name for name in args.settings if name not in SETTINGS]
    if unknown:
        parser.error(f"unknown settings {unknown}; --list shows them")
    results = load_results()
    if args.backfill:
        for name, result in results.items():
            if "train_rows" not in result and model_path(name).is_file():
                results[name] = record({**result, "train_rows": training_rows(name)})
    if not args.table and not args.backfill:
        heldout = heldout_set(0, verbose=False)
        todo = args.settings or [name for name in SETTINGS if name not in results]
        for name in todo:
            results.update({k: v for k, v in load_results().items() if k not in results})  # other processes
            if name in results and not args.redo:
                continue
            results[name] = record(run_setting(name, heldout, results))
            print(categories(results[name]), flush=True)
            print(table(results), flush=True)
    print(table(results))
    if args.categories:
        for name in SETTINGS:
            if name in results:
                print(categories(results[name]))


if __name__ == "__main__":
    main()
