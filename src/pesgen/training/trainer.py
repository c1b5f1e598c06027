"""Concurrent training of all members of an ensemble in one process.

The members' weights are stacked (see :mod:`pesgen.model.stacked_model`); the loss is the sum of
the members' losses, so each member's gradient is its own and one Adam over the stacked tensors
equals N independent Adams. With the default shared batch order, a step evaluates all members
on the same frames in one pass (the paper's ensemble: same data, different initialisation).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from ase import Atoms

from pesgen.data.deepmd_format import default_type_map
from pesgen.model.deeppot import DeepPot
from pesgen.model.ensemble import Ensemble
from pesgen.model.env import EdgeEnvironment
from pesgen.model.stacked_model import DTYPES
from pesgen.training.config import TrainSettings
from pesgen.training.dataset import (
    BatchSampler,
    MixedBatchSampler,
    System,
    build_systems,
    mixed_environment,
    split_frames,
)
from pesgen.training.loss import Prefactors, member_losses, member_rmse
from pesgen.training.schedule import ExponentialDecay, prefactor

Progress = Callable[[int, int, dict[str, Any] | None], None]


def _frames_of(data: Any) -> list[Atoms]:
    if hasattr(data, "frames") and callable(data.frames):  # a pesgen Store
        return list(data.frames())
    frames = list(data)
    if not all(isinstance(a, Atoms) for a in frames):
        raise TypeError("train() takes a pesgen Store or a list of labeled ase.Atoms")
    return frames


def _type_map(frames: Sequence[Atoms], init: Ensemble | None, type_map: Sequence[str] | None) -> list[str]:
    if init is not None:
        return init.type_map
    if type_map is not None:
        return list(type_map)
    return default_type_map(frames)


def evaluate_rmse(module, systems: Sequence[System], chunk_atoms: int = 512) -> dict[str, list[float]]:
    """RMSE per member over all frames of ``systems`` (energy/atom, force, virial/atom)."""
    counts = {"e": 0, "f": 0, "v": 0}
    acc = None
    for system in systems:
        step = max(1, chunk_atoms // system.n_atoms)
        for start in range(0, system.n_frames, step):
            frames = list(range(start, min(start + step, system.n_frames)))
            env, labels = system.environment(frames)
            pred = module.forward_environment(env)
            nat = env.natoms.to(pred["energy"].dtype)
            de = ((pred["energy"].detach() - labels["energy"]) / nat).square().sum(-1)
            df = (pred["forces"].detach() - labels["forces"]).square().sum(dim=(-1, -2))
            if acc is None:
                acc = {k: torch.zeros_like(de) for k in counts}
            acc["e"] += de
            acc["f"] += df
            counts["e"] += len(frames)
            counts["f"] += env.n_atoms * 3
            mask = labels["has_virial"]
            if bool(mask.any()):
                dv = (pred["virial"].detach() - labels["virial"])[:, mask] / nat[mask][None, :, None, None]
                acc["v"] += dv.square().sum(dim=(-1, -2, -3))
                counts["v"] += int(mask.sum()) * 9
    if acc is None:
        return {}
    out = {"rmse_e": (acc["e"] / counts["e"]).sqrt().tolist(), "rmse_f": (acc["f"] / counts["f"]).sqrt().tolist()}
    if counts["v"]:
        out["rmse_v"] = (acc["v"] / counts["v"]).sqrt().tolist()
    return out


def _bias_chunk(frames: Sequence[Atoms], atoms: int = 256) -> int:
    """Frames per energy-only pass of the bias fit: about ``atoms`` atoms (measured on the Al-Mg frames
    of 32-108 atoms: 64 frames per pass took twice as long as one or four, with the same shifts)."""
    return max(1, atoms // max(len(a) for a in frames))


def train(data: Any, config: TrainSettings | dict | None = None, *, init: Ensemble | None = None,
          type_map: Sequence[str] | None = None, progress: Progress | None = None) -> Ensemble:
    """Train an ensemble on labeled frames (a :class:`~pesgen.data.store.Store` or a list of Atoms).

    ``init`` warm-starts from a previous ensemble (DP-GEN's training_reuse): its weights are
    kept and trained for ``numb_steps`` with the new learning-rate schedule; its data statistics
    are kept unless ``refresh_statistics``. Returns a new Ensemble whose metadata holds the
    learning curve and the settings.
    """
    if config is None:
        config = TrainSettings()
    elif isinstance(config, dict):
        config = TrainSettings(**config)
    t_start = time.perf_counter()
    frames = _frames_of(data)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    tmap = _type_map(frames, init, type_map)
    train_idx, valid_idx = split_frames(len(frames), config.validation_fraction, rng)
    if len(valid_idx) > config.max_validation_frames:
        valid_idx = sorted(rng.choice(valid_idx, size=config.max_validation_frames, replace=False).tolist())

    rcut = init.rcut if init is not None else config.model.rcut
    rcut_smth = init.module.descriptor.rcut_smth if init is not None else config.model.rcut_smth
    dtype = init.dtype if init is not None else DTYPES[config.model.precision]
    # labels are checked (and named when bad) before any model work
    train_sys = build_systems(frames, tmap, rcut, rcut_smth, dtype, config.device, train_idx)
    valid_sys = build_systems(frames, tmap, rcut, rcut_smth, dtype, config.device, valid_idx) if valid_idx else []

    if init is None:
        hyper = config.model.hyperparameters()
        members = [DeepPot(type_map=tmap, seed=config.seed * 1000 + k, **hyper) for k in range(config.n_members)]
        ensemble = Ensemble(members)
        train_frames = [frames[k] for k in train_idx]
        ensemble.compute_statistics(train_frames, auto_sel=config.model.sel == "auto")
        ensemble.adjust_energy_bias(train_frames, chunk=_bias_chunk(train_frames))
    else:
        ensemble = Ensemble.from_module(copy.deepcopy(init.module), copy.deepcopy(init.metadata))
        if config.refresh_statistics:
            train_frames = [frames[k] for k in train_idx]
            ensemble.compute_statistics(train_frames, bias=False)
            ensemble.adjust_energy_bias(train_frames, chunk=_bias_chunk(train_frames))
    ensemble.to(device=config.device)
    module = ensemble.module
    m = module.n_members
    n_samplers = m if config.shuffle_per_member else 1
    sampler_kind = MixedBatchSampler if config.batch_mixing == "mixed" else BatchSampler
    samplers = [sampler_kind(train_sys, config.batch_size, config.auto_batch_atoms,
                             np.random.default_rng([config.seed, k])) for k in range(n_samplers)]

    lr_of = ExponentialDecay(config.start_lr, config.stop_lr, config.effective_decay_steps, config.numb_steps)
    try:  # the fused kernel is several times faster on CPU and CUDA; same arithmetic as Adam
        optimizer = torch.optim.Adam(module.parameters(), lr=config.start_lr, fused=True)
    except (RuntimeError, TypeError):
        optimizer = torch.optim.Adam(module.parameters(), lr=config.start_lr)
    curve: list[dict[str, Any]] = []
    for step in range(config.numb_steps):
        lr = lr_of(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        pref = Prefactors(prefactor(config.start_pref_e, config.limit_pref_e, lr, config.start_lr),
                          prefactor(config.start_pref_f, config.limit_pref_f, lr, config.start_lr),
                          prefactor(config.start_pref_v, config.limit_pref_v, lr, config.start_lr))
        if len(samplers) == 1:
            if config.batch_mixing == "mixed":
                env, labels = mixed_environment(train_sys, samplers[0].draw())
            else:
                s, picked = samplers[0].draw()
                env, labels = train_sys[s].environment(picked)
            pred = module.forward_environment(env, create_graph=True)
            natoms = env.natoms
        else:
            pred, labels, natoms = _per_member_step(module, samplers, train_sys)
        losses = member_losses(pred, labels, natoms, pref)
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        optimizer.step()
        if step % config.disp_freq == 0 or step == config.numb_steps - 1:
            point: dict[str, Any] = {"step": step, "lr": lr, "loss": losses.detach().tolist()}
            trn = member_rmse({k: v.detach() for k, v in pred.items()}, labels, natoms)
            point.update({f"{k}_trn": v.tolist() for k, v in trn.items()})
            if valid_sys:
                point.update({f"{k}_val": v for k, v in evaluate_rmse(module, valid_sys).items()})
            point["wall_time"] = time.perf_counter() - t_start
            curve.append(point)
            if progress is not None:
                progress(step + 1, config.numb_steps, point)
        elif progress is not None:
            progress(step + 1, config.numb_steps, None)

    history = list(ensemble.metadata.get("training_history", []))
    history.append({"numb_steps": config.numb_steps, "n_frames_train": len(train_idx),
                    "n_frames_valid": len(valid_idx), "warm_start": init is not None,
                    "wall_time": time.perf_counter() - t_start})
    ensemble.metadata.update({
        "learning_curve": curve,
        "training_history": history,
        "train_settings": config.model_dump(),
    })
    return ensemble


def _per_member_step(module, samplers: Sequence[BatchSampler], systems: Sequence[System]):
    """Each member on its own batch: all members run on the concatenation, each is scored on its own part.

    The batches of one step come from one system (drawn by the first sampler), so their shapes agree;
    each member then takes the next frames of its own shuffled order of that system.
    """
    s = samplers[0].draw_system()
    parts = [systems[s].environment(sampler.draw_frames(s)) for sampler in samplers]
    n_atoms, n_frames = parts[0][0].n_atoms, parts[0][0].n_frames
    full = module.forward_environment(EdgeEnvironment.cat([env for env, _ in parts]), create_graph=True)
    m = module.n_members
    members = torch.arange(m)
    pred = {
        "energy": full["energy"].view(m, m, n_frames)[members, members],
        "forces": full["forces"].view(m, m, n_atoms, 3)[members, members],
        "virial": full["virial"].view(m, m, n_frames, 3, 3)[members, members],
    }
    labels = {key: torch.stack([p[1][key] for p in parts]) for key in ("energy", "forces", "virial", "has_virial")}
    labels["has_virial"] = labels["has_virial"].all(0)
    return pred, labels, parts[0][0].natoms
