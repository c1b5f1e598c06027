"""A trained ensemble extended to more species (adding an element without starting over).

:func:`extend_type_map` returns the ensemble on a type map that holds the old one and new
species. The old species keep their embedding nets, fitting nets, energy bias and statistics;
each new species gets embedding and fitting nets initialised fresh (DeePMD-kit's initialisation,
seeded), environment statistics and neighbour slots from ``frames``, and an energy bias fitted to
the part of the labelled energies the old species' atoms do not explain.

On a structure of old species only, the extended ensemble predicts what the old one did (energies,
forces, virials, to rounding): the new neighbour species' padded slots add nothing (their davg
for an old centre is 0, so the padded environment row is zero), and the larger neighbour count
Nc = sum(sel), which divides T_i and so scales the descriptor D_i = T_i^T T_i^< by
(Nc_old / Nc_new)^2, is undone by scaling the first layer weights of the old fitting nets by
(Nc_new / Nc_old)^2. Only a first fitting layer with a skip connection (descriptor width equal to
the first fitting width or half of it) cannot be compensated this way: then the old species'
predictions move until training corrects them (logged, and ``exact = false`` in the history).

DeePMD-kit reaches the same end through a type embedding and ``change_type_map``/fine-tuning; its
se_e2_a has none, so this is pesgen's own construction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from ase import Atoms

from pesgen.model.ensemble import Ensemble
from pesgen.model.stacked_model import Hyperparameters, StackedDeepPot
from pesgen.model.stats import environment_sums

log = logging.getLogger("pesgen.model")


class TypeMapError(ValueError):
    """The new type map does not hold the old one, or the data lack a new species."""


def _copy_net(dst: torch.nn.Module, src: torch.nn.Module) -> None:
    dst.load_state_dict(src.state_dict())


def extend_type_map(ensemble: Ensemble, type_map: Sequence[str], frames: Sequence[Atoms], *,
                    sel: Sequence[int] | None = None, sel_ratio: float = 1.1, seed: int = 0) -> Ensemble:
    """``ensemble`` on ``type_map`` (a superset of its own, any order).

    Args:
        ensemble: the trained ensemble.
        type_map: the new species list; it must hold every old species.
        frames: labelled frames (energies in eV) holding every new species: statistics, slots, bias.
        sel: neighbour slots per species of ``type_map``; the old species keep theirs whatever is
            given, the new ones take theirs from here (default: from ``frames``, x ``sel_ratio``).
        seed: seed of the new species' initial weights.

    Raises:
        TypeMapError: a species is dropped, or a new species is absent from ``frames``.
    """
    old_map = list(ensemble.type_map)
    new_map = list(type_map)
    if missing := [s for s in old_map if s not in new_map]:
        raise TypeMapError(f"the new type map {new_map} lacks {missing} of the model's {old_map}")
    added = [s for s in new_map if s not in old_map]
    present = {s for a in frames for s in a.get_chemical_symbols()}
    if absent := [s for s in added if s not in present]:
        raise TypeMapError(f"no labelled frame holds {absent}: the new species need data for their statistics")
    old = ensemble.module
    h = old.hyper
    pos = [new_map.index(s) for s in old_map]                     # old type index -> new type index
    new_types = [new_map.index(s) for s in added]
    nt_old, nt = len(old_map), len(new_map)
    exact = True

    sums = environment_sums(frames, new_map, h.rcut, h.rcut_smth)
    data_sel = sums.auto_sel(sel_ratio)
    new_sel = [0] * nt
    for k in range(nt_old):
        new_sel[pos[k]] = h.sel[k]
    for t in new_types:
        new_sel[t] = int(sel[t]) if sel is not None else data_sel[t]
    hyper = Hyperparameters(**{**h.to_dict(), "type_map": new_map, "sel": new_sel})
    module = StackedDeepPot(hyper, n_members=old.n_members, seed=seed).to(device=old.device)
    desc, odesc = module.descriptor, old.descriptor

    with torch.no_grad():
        # embedding nets: one per neighbour species (type_one_side) or per (centre, neighbour) pair
        for a in range(nt_old if not h.type_one_side else 1):
            for b in range(nt_old):
                src = b if h.type_one_side else a * nt_old + b
                dst = pos[b] if h.type_one_side else pos[a] * nt + pos[b]
                _copy_net(desc.embeddings[dst], odesc.embeddings[src])
        # statistics: the new pairs from the data; an old centre's new-neighbour mean stays 0
        davg, dstd = sums.mean_std(new_sel)
        davg_t = torch.as_tensor(davg, dtype=module.dtype, device=module.device)
        dstd_t = torch.as_tensor(dstd, dtype=module.dtype, device=module.device)
        desc.davg.copy_(davg_t.expand_as(desc.davg))
        desc.dstd.copy_(dstd_t.expand_as(desc.dstd))
        index = torch.as_tensor(pos, device=module.device)
        desc.davg[:, index[:, None], index[None, :]] = odesc.davg
        desc.dstd[:, index[:, None], index[None, :]] = odesc.dstd
        new_idx = torch.as_tensor(new_types, device=module.device)
        desc.davg[:, index[:, None], new_idx[None, :]] = 0.0
        # fitting nets and biases of the old species, the descriptor's new normalisation undone
        factor = (sum(new_sel) / sum(h.sel)) ** 2
        for k in range(nt_old):
            net = module.fitting.nets[pos[k]]
            _copy_net(net, old.fitting.nets[k])
            first = net.layers[0]
            first.weight.mul_(factor)
            exact = not first.resnet
            module.fitting.bias_atom_e[:, pos[k]] = old.fitting.bias_atom_e[:, k]
        module.fitting.bias_atom_e[:, new_idx] = 0.0

    extended = Ensemble.from_module(module, dict(ensemble.metadata))
    if new_types:
        _fit_new_bias(extended, frames, new_types)
    history = list(extended.metadata.get("type_map_history", []))
    history.append({"from": old_map, "to": new_map, "added": added, "sel": new_sel, "exact": exact})
    if not exact:
        log.warning("extended to %s: the first fitting layer has a skip connection, so the old species' "
                    "predictions change by the descriptor scale (Nc %d -> %d) until training", new_map,
                    sum(h.sel), sum(new_sel))
    extended.metadata["type_map_history"] = history
    return extended


def _fit_new_bias(ensemble: Ensemble, frames: Sequence[Atoms], new_types: list[int], chunk: int = 64) -> None:
    """Each member's bias of the new species: least squares of E_label - E_model (new biases 0) on
    the new species' atom counts, over the frames that hold them (eV)."""
    tmap = ensemble.type_map
    new_symbols = {tmap[t]: k for k, t in enumerate(new_types)}
    frames = [a for a in frames if any(s in new_symbols for s in a.get_chemical_symbols())]
    counts = np.zeros((len(frames), len(new_types)))
    for f, atoms in enumerate(frames):
        for s in atoms.get_chemical_symbols():
            if s in new_symbols:
                counts[f, new_symbols[s]] += 1
    predicted = []
    with torch.no_grad():
        for start in range(0, len(frames), chunk):
            batch = ensemble.make_batch(frames[start:start + chunk])
            predicted.append(ensemble.module(batch, need_forces=False)["energy"].cpu().double().numpy())
    residual = np.array([a.get_potential_energy() for a in frames])[None, :] - np.concatenate(predicted, axis=1)
    fit = ensemble.module.fitting.bias_atom_e
    for m in range(ensemble.n_members):
        bias, *_ = np.linalg.lstsq(counts, residual[m], rcond=None)
        with torch.no_grad():
            fit[m, torch.as_tensor(new_types)] = torch.as_tensor(bias, dtype=fit.dtype, device=fit.device)
