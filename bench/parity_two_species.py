"""Diagnostic: pesgen's trainer against DeePMD-kit 3.2 on multi-system, two-species data.

The almg-meam setup of ``bench_train.py`` (Al-Mg MEAM frames of 32-108 atoms, many systems, type map
[Al, Mg], sel [64, 52], se_e2_a [16, 32] x 8, fitting [64, 64], rcut 6 / 2 Å, batch 1). Three parts:

* ``stats``: what each code computes before step 0 from the same training frames: davg/dstd per
  (centre, neighbour) species pair, and the energy bias per species (DeePMD-kit: ``make_stat_input``
  with its default ``data_stat_nbatch`` 10 and ``compute_or_load_stat`` of ``get_model``).
* ``grad``: from identical weights (DeePMD-kit's initialisation and statistics, copied into pesgen
  with ``load_deepmd_state_dict``), the loss and every parameter's gradient on one two-species
  batch, in float64: DeePMD-kit's ``EnergyStdLoss`` against pesgen's ``member_losses``.
* ``train``: controlled training, pesgen's trainer from DeePMD-kit's initial weights for seeds
  4k .. 4k+3, with DeePMD-kit's statistics (arm ``dpstat``) or with pesgen's recomputed ones
  (arm ``pgstat``); validation force RMSE per member after ``--steps`` steps, mean ± std, and the
  difference in standard errors. ``--trainer-seed`` and ``--per-member`` change pesgen's batch order.

Run from the repository root: ``python bench/parity_two_species.py stats|grad|train [--sets 2]``
(needs DeePMD-kit).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import pesgen
from pesgen.data.deepmd_format import write_deepmd_systems
from pesgen.model.deepmd_weights import deepmd_model_params, deepmd_state_dict, load_deepmd_state_dict

sys.path.insert(0, str(Path(__file__).parent))
from bench_train import force_rmse, setup_frames, setup_of  # noqa: E402

TYPE_MAP = ["Al", "Mg"]
SEL = [64, 52]


def template(precision: str, seed: int = 0) -> pesgen.DeepPot:
    net = setup_of("almg-meam")["model"]
    return pesgen.DeepPot(type_map=TYPE_MAP, sel=SEL, seed=seed, precision=precision, **net)


def deepmd_sampled(frames: list, tmp: Path, nbatch: int = 10) -> list:
    """DeePMD-kit's statistics input for ``frames`` (its data loader, batch 1, ``data_stat_nbatch``)."""
    from deepmd.pt.loss import EnergyStdLoss
    from deepmd.pt.utils.dataloader import DpLoaderSet
    from deepmd.pt.utils.stat import make_stat_input

    write_deepmd_systems(frames, tmp / "train", type_map=TYPE_MAP)
    dirs = sorted(str(p.parent) for p in (tmp / "train").rglob("type.raw"))
    loader = DpLoaderSet(dirs, 1, TYPE_MAP, seed=0)
    needs = EnergyStdLoss(starter_learning_rate=1.0, start_pref_e=1, limit_pref_e=1, start_pref_f=1, limit_pref_f=1)
    loader.add_data_requirement(needs.label_requirement)  # energy and forces are read
    return make_stat_input(loader.systems, loader.dataloaders, nbatch)


def deepmd_model(seed: int, precision: str, sampled: list | None):
    """DeePMD-kit's own se_e2_a energy model (its initialisation for ``seed``), its statistics from ``sampled``."""
    from deepmd.pt.model.model import get_model

    params = deepmd_model_params(template(precision).module)
    params["descriptor"]["seed"] = seed
    params["fitting_net"]["seed"] = seed
    model = get_model(params)
    if sampled is not None:
        model.compute_or_load_stat(lambda: sampled, None)
    return model


def pair_table(davg: np.ndarray, dstd: np.ndarray) -> list[str]:
    rows = []
    for a in range(2):
        for b in range(2):
            rows.append(f"  {TYPE_MAP[a]}-{TYPE_MAP[b]}: avg_s {davg[a, b, 0]:.5f}  std_s {dstd[a, b, 0]:.5f}  "
                        f"std_xyz {dstd[a, b, 1]:.5f}")
    return rows


def stats(train: list, tmp: Path) -> None:
    ref = template("float64")
    ref.compute_statistics(train)
    d = ref.module.descriptor
    print("pesgen (all training frames):")
    print("\n".join(pair_table(d.davg[0].numpy(), d.dstd[0].numpy())))
    print(f"  energy bias (eV/atom): {ref.module.fitting.bias_atom_e[0].tolist()}")
    model = deepmd_model(0, "float64", deepmd_sampled(train, tmp))
    probe = template("float64")
    load_deepmd_state_dict(probe.module, model.state_dict())
    d = probe.module.descriptor
    print("DeePMD-kit 3.2 (make_stat_input, data_stat_nbatch 10, batch 1):")
    print("\n".join(pair_table(d.davg[0].numpy(), d.dstd[0].numpy())))
    print(f"  out_bias (eV/atom): {model.atomic_model.out_bias.reshape(-1).tolist()}, "
          f"out_std {model.atomic_model.out_std.reshape(-1).tolist()} (not applied to the energy)")


def grad(train: list, tmp: Path) -> None:
    from deepmd.pt.loss import EnergyStdLoss

    from pesgen.training.dataset import build_systems
    from pesgen.training.loss import Prefactors, member_losses

    model = deepmd_model(0, "float64", deepmd_sampled(train, tmp))
    mine = template("float64")
    load_deepmd_state_dict(mine.module, model.state_dict())
    systems = build_systems(train, TYPE_MAP, 6.0, 2.0, torch.float64, "cpu")
    system = next(s for s in systems if len(set(s.species.tolist())) == 2 and s.n_frames >= 2)
    frames = [0, 1]
    lr, lr0 = 2e-3, 5e-3
    loss_fn = EnergyStdLoss(starter_learning_rate=lr0, start_pref_e=0.02, limit_pref_e=1.0, start_pref_f=1000.0,
                            limit_pref_f=1.0, start_pref_v=0.02, limit_pref_v=1.0)
    n = system.n_atoms
    inputs = {"coord": system.positions[frames].reshape(len(frames), n * 3),
              "atype": system.species.expand(len(frames), n), "box": system.cells[frames].reshape(len(frames), 9)}
    labels = {"energy": system.energy[frames][:, None], "force": system.forces[frames],
              "virial": system.virial[frames].reshape(len(frames), 9),
              "find_energy": 1.0, "find_force": 1.0, "find_virial": 1.0}
    _, loss_dp, _ = loss_fn(inputs, model, labels, n, lr)
    model.zero_grad()
    loss_dp.backward()
    ratio = lr / lr0
    pref = Prefactors(*(lim * (1 - ratio) + st * ratio for st, lim in ((0.02, 1), (1000, 1), (0.02, 1))))
    env, lab = system.environment(frames)
    pred = mine.module.forward_environment(env, create_graph=True)
    loss_pg = member_losses(pred, lab, env.natoms, pref).sum()
    mine.module.zero_grad()
    loss_pg.backward()
    print(f"system of {n} atoms ({sorted(set(system.species.tolist()))} species), frames {frames}: "
          f"loss DeePMD-kit {float(loss_dp):.12e}, pesgen {float(loss_pg):.12e}, "
          f"rel diff {abs(float(loss_dp) - float(loss_pg)) / float(loss_dp):.2e}")
    # pesgen's gradients under DeePMD-kit's names: the state mapping applied to .grad
    grads = {}
    for p_name, p in mine.module.named_parameters():
        grads[p_name] = p.grad
    saved = {k: v.detach().clone() for k, v in mine.module.named_parameters()}
    with torch.no_grad():
        for k, p in mine.module.named_parameters():
            p.copy_(grads[k])
    mapped = deepmd_state_dict(mine.module)
    with torch.no_grad():
        for k, p in mine.module.named_parameters():
            p.copy_(saved[k])
    worst, n_par = 0.0, 0
    for name, p in model.named_parameters():
        key = name if name in mapped else name.replace("._networks.", ".networks.")
        if key not in mapped:  # compression tables, not trained
            continue
        g_dp = p.grad if p.grad is not None else torch.zeros_like(p)
        g_pg = mapped[key].to(g_dp.dtype)
        scale = max(float(g_dp.abs().max()), 1e-30)
        worst = max(worst, float((g_dp - g_pg).abs().max()) / scale)
        n_par += 1
    print(f"{n_par} parameter tensors: largest |grad difference| / max|grad| = {worst:.2e}")


def train_arms(args, train: list, valid: list, tmp: Path) -> None:
    setup = setup_of("almg-meam")
    sampled = deepmd_sampled(train, tmp)
    settings = dict(numb_steps=args.steps, n_members=4, batch_size=1, validation_fraction=0.0, disp_freq=args.steps,
                    decay_steps=max(1, args.steps // 40), start_pref_v=0.0, limit_pref_v=0.0, seed=args.trainer_seed,
                    shuffle_per_member=args.per_member, start_lr=setup["start_lr"], stop_lr=setup["stop_lr"])
    results: dict[str, list[float]] = {}
    for k in range(args.first_set, args.first_set + args.sets):
        seeds = list(range(4 * k, 4 * k + 4))
        for arm in args.arms.split(","):
            start = time.perf_counter()
            members = []
            for seed in seeds:
                member = template(args.precision)
                load_deepmd_state_dict(member.module, deepmd_model(seed, args.precision, sampled).state_dict())
                members.append(member)
            init = pesgen.Ensemble(members)
            out = pesgen.train(train, pesgen.TrainSettings(**settings, refresh_statistics=arm == "pgstat"),
                               init=init, type_map=TYPE_MAP)
            rmse = force_rmse(out, valid)
            results.setdefault(arm, []).extend(rmse)
            print(f"set {k} arm {arm}: seeds {seeds} val force RMSE " + " ".join(f"{r:.4f}" for r in rmse)
                  + f" eV/Å ({time.perf_counter() - start:.0f} s)", flush=True)
    for arm, values in results.items():
        v = np.array(values)
        print(f"{arm}: {v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0:.4f} eV/Å ({len(v)} members)")
    arms = list(results)
    if len(arms) == 2 and min(len(results[a]) for a in arms) > 1:
        a, b = (np.array(results[x]) for x in arms)
        se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        diff = b.mean() - a.mean()
        print(f"difference {arms[1]} - {arms[0]}: {diff:+.4f} eV/Å = {diff / se:+.1f} SE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["stats", "grad", "train"])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--sets", type=int, default=1)
    parser.add_argument("--first-set", type=int, default=0)
    parser.add_argument("--precision", choices=["float64", "float32"], default="float32")
    parser.add_argument("--arms", default="dpstat,pgstat")
    parser.add_argument("--trainer-seed", type=int, default=0, help="pesgen's batch order")
    parser.add_argument("--per-member", action="store_true", help="each member its own batch order")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    train, valid = setup_frames("almg-meam", 0)
    with tempfile.TemporaryDirectory() as tmp:
        if args.part == "stats":
            stats(train, Path(tmp))
        elif args.part == "grad":
            grad(train, Path(tmp))
        else:
            train_arms(args, train, valid, Path(tmp))


if __name__ == "__main__":
    main()
