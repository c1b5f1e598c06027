"""Mapping between a pesgen Deep Potential and DeePMD-kit's PyTorch "se_e2_a" energy model.

``deepmd_model_params`` gives the DeePMD-kit ``model`` input section of the same architecture
and ``deepmd_state_dict`` the weights of one member under DeePMD-kit's parameter names, so that
``deepmd.pt.model.model.get_model(params).load_state_dict(state)`` reproduces pesgen's numbers.
This is the basis of the export to DeePMD-kit (and so to LAMMPS). Pure torch: DeePMD-kit is not
imported here.

Layout facts of DeePMD-kit 3.x used here: the environment statistics ``mean``/``stddev`` are
(ntypes, sum(sel), 4), constant within each neighbour-species section; the per-species energy
shift lives in ``atomic_model.out_bias`` (1, ntypes, 1); embedding nets are
``filter_layers.networks.<k>`` with k = neighbour species (type_one_side) or
k = centre + ntypes * neighbour; weight matrices are (n_in, n_out).
"""

from __future__ import annotations

import torch

from pesgen.model.stacked_model import StackedDeepPot


def deepmd_model_params(module: StackedDeepPot) -> dict:
    """The DeePMD-kit ``model`` section describing ``module``'s architecture."""
    h = module.hyper
    return {
        "type_map": list(h.type_map),
        "descriptor": {
            "type": "se_e2_a", "sel": list(h.sel), "rcut": h.rcut, "rcut_smth": h.rcut_smth,
            "neuron": list(h.neuron), "axis_neuron": h.axis_neuron, "type_one_side": h.type_one_side,
            "resnet_dt": h.resnet_dt, "activation_function": h.activation, "precision": h.precision,
        },
        "fitting_net": {
            "neuron": list(h.fitting_neuron), "resnet_dt": h.fitting_resnet_dt,
            "activation_function": h.activation, "precision": h.precision,
        },
    }


def _deepmd_net_index(module: StackedDeepPot, centre: int, neighbour: int) -> int:
    ntypes = len(module.hyper.type_map)
    return neighbour if module.hyper.type_one_side else centre + ntypes * neighbour


def deepmd_state_dict(module: StackedDeepPot, member: int = 0) -> dict[str, torch.Tensor]:
    """Weights and statistics of ``member`` under DeePMD-kit's parameter names."""
    h = module.hyper
    ntypes = len(h.type_map)
    prefix = "atomic_model."
    state: dict[str, torch.Tensor] = {}
    desc = module.descriptor

    def layers(mlp, name: str) -> None:
        for n, layer in enumerate(mlp.layers):
            state[f"{name}.layers.{n}.matrix"] = layer.weight[member].detach().clone()
            state[f"{name}.layers.{n}.bias"] = layer.bias[member].detach().clone()
            if layer.idt is not None:
                state[f"{name}.layers.{n}.idt"] = layer.idt[member].detach().clone()

    for a in range(ntypes):
        for b in range(ntypes):
            if h.type_one_side and a > 0:
                continue
            k_pesgen = int(desc.net_index(torch.tensor(a), torch.tensor(b)))
            k_deepmd = _deepmd_net_index(module, a, b)
            for coll in ("networks", "_networks"):
                layers(desc.embeddings[k_pesgen], f"{prefix}descriptor.sea.filter_layers.{coll}.{k_deepmd}")
    sections = [torch.full((s,), b, dtype=torch.int64) for b, s in enumerate(h.sel)]
    neighbour_type = torch.cat(sections)
    state[f"{prefix}descriptor.sea.mean"] = desc.davg[member][:, neighbour_type].detach().clone()
    state[f"{prefix}descriptor.sea.stddev"] = desc.dstd[member][:, neighbour_type].detach().clone()
    for t in range(ntypes):
        for coll in ("networks", "_networks"):
            layers(module.fitting.nets[t], f"{prefix}fitting_net.filter_layers.{coll}.{t}")
    dtype = module.fitting.bias_atom_e.dtype
    state[f"{prefix}fitting_net.bias_atom_e"] = torch.zeros(ntypes, 1, dtype=dtype)
    state[f"{prefix}out_bias"] = module.fitting.bias_atom_e[member].detach().clone().reshape(1, ntypes, 1)
    state[f"{prefix}out_std"] = torch.ones(1, ntypes, 1, dtype=dtype)
    return state


def load_deepmd_state_dict(module: StackedDeepPot, state: dict[str, torch.Tensor], member: int = 0) -> None:
    """Copy DeePMD-kit weights and statistics (names as in :func:`deepmd_state_dict`) into ``member``
    of ``module``, whose architecture must match; the inverse of :func:`deepmd_state_dict`."""
    h = module.hyper
    ntypes = len(h.type_map)
    prefix = "atomic_model."
    desc = module.descriptor

    def take(name: str) -> torch.Tensor:
        if name not in state:
            raise KeyError(f"DeePMD-kit state has no '{name}' (architecture mismatch?)")
        return state[name].detach()

    def layers(mlp, name: str) -> None:
        for n, layer in enumerate(mlp.layers):
            layer.weight.data[member] = take(f"{name}.layers.{n}.matrix").to(layer.weight.dtype)
            layer.bias.data[member] = take(f"{name}.layers.{n}.bias").to(layer.bias.dtype)
            if layer.idt is not None:
                layer.idt.data[member] = take(f"{name}.layers.{n}.idt").to(layer.idt.dtype)

    for a in range(ntypes):
        for b in range(ntypes):
            if h.type_one_side and a > 0:
                continue
            k_pesgen = int(desc.net_index(torch.tensor(a), torch.tensor(b)))
            layers(desc.embeddings[k_pesgen],
                   f"{prefix}descriptor.sea.filter_layers.networks.{_deepmd_net_index(module, a, b)}")
    starts = [sum(h.sel[:b]) for b in range(ntypes)]
    mean, std = take(f"{prefix}descriptor.sea.mean"), take(f"{prefix}descriptor.sea.stddev")
    for b in range(ntypes):
        desc.davg[member, :, b] = mean[:, starts[b]].to(desc.davg.dtype)
        desc.dstd[member, :, b] = std[:, starts[b]].to(desc.dstd.dtype)
    for t in range(ntypes):
        layers(module.fitting.nets[t], f"{prefix}fitting_net.filter_layers.networks.{t}")
    bias = take(f"{prefix}out_bias").reshape(-1)[:ntypes] + take(f"{prefix}fitting_net.bias_atom_e").reshape(-1)
    module.fitting.bias_atom_e.data[member] = bias.to(module.fitting.bias_atom_e.dtype)
