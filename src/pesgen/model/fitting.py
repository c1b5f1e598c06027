"""The energy fitting nets of DeepPot-SE: one net per centre species, stacked over members.

Atomic energy E_i = F_{t_i}(D_i) + bias[t_i], eV. The bias per species comes from a least-squares
fit of total energies to composition (:func:`pesgen.model.stats.energy_bias`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pesgen.model.networks import StackedMLP


class EnergyFitting(nn.Module):
    """Maps descriptors (n_members, n_atoms, dim) to atomic energies (n_members, n_atoms), eV."""

    def __init__(self, n_members: int, ntypes: int, dim_descriptor: int,
                 neuron: Sequence[int] = (240, 240, 240), resnet_dt: bool = True,
                 activation: str = "tanh", generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.ntypes = ntypes
        self.nets = nn.ModuleList(
            StackedMLP(n_members, dim_descriptor, neuron, n_out=1, activation=activation,
                       resnet_dt=resnet_dt, generator=generator, dtype=dtype)
            for _ in range(ntypes)
        )
        self.register_buffer("bias_atom_e", torch.zeros(n_members, ntypes, dtype=dtype))

    def forward(self, descriptor: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        order = torch.argsort(species, stable=True)
        counts = torch.bincount(species, minlength=self.ntypes).tolist()
        pieces, start = [], 0
        for t, count in enumerate(counts):
            if count:
                idx = order[start:start + count]
                out = self.nets[t](descriptor[:, idx]).squeeze(-1)
                pieces.append(out + self.bias_atom_e[:, t:t + 1])
                start += count
        if not pieces:
            return descriptor.new_zeros(descriptor.shape[0], 0)
        e_sorted = torch.cat(pieces, dim=1)
        return torch.empty_like(e_sorted).index_copy(1, order, e_sorted)
