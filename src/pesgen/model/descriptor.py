"""The DeepPot-SE two-body embedding descriptor "se_e2_a" (DeePMD-kit), stacked over members.

For a centre atom i with neighbours j (within ``rcut``), each normalised environment row
R^_ij = (R~_ij - davg[t_i, t_j]) / dstd[t_i, t_j] (see :mod:`pesgen.model.env`) has its first
component s^_ij fed to an embedding net G of the neighbour species (or of the species pair when
``type_one_side`` is false), giving M1 features. With

    T_i = (1 / Nc) sum_j R^_ij^T G(s^_ij)          (4 x M1),   Nc = sum(sel)

the descriptor is D_i = T_i^T T_i[:, :M2]  (M1 x M2, flattened row-major).

DeePMD-kit stores each neighbour section padded to ``sel[t_j]`` slots, and padded slots hold a
zero environment row which, after normalisation, is the constant row p = -davg/dstd; every padded
slot therefore adds p^T G(p_0) to T_i. pesgen keeps real neighbours only and adds the padded
slots' contribution in closed form, (sel[t_j] - n_ij) p^T G(p_0), which gives DeePMD-kit's numbers
whenever n_ij <= sel[t_j] (see docs/model.md for the case n_ij > sel).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pesgen.model.env import environment_rows
from pesgen.model.networks import StackedMLP


class DescriptorSeA(nn.Module):
    """se_e2_a descriptor of ``n_members`` models evaluated together."""

    def __init__(self, n_members: int, ntypes: int, rcut: float, rcut_smth: float, sel: Sequence[int],
                 neuron: Sequence[int] = (25, 50, 100), axis_neuron: int = 16, type_one_side: bool = True,
                 resnet_dt: bool = False, activation: str = "tanh",
                 generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if not 0 <= rcut_smth < rcut:
            raise ValueError(f"need 0 <= rcut_smth < rcut, got rcut_smth={rcut_smth}, rcut={rcut}")
        if len(sel) != ntypes:
            raise ValueError(f"sel has {len(sel)} entries for {ntypes} species")
        if axis_neuron > neuron[-1]:
            raise ValueError(f"axis_neuron={axis_neuron} exceeds the last embedding width {neuron[-1]}")
        self.ntypes, self.rcut, self.rcut_smth = ntypes, float(rcut), float(rcut_smth)
        self.type_one_side = type_one_side
        self.m1, self.m2 = int(neuron[-1]), int(axis_neuron)
        n_nets = ntypes if type_one_side else ntypes * ntypes
        self.embeddings = nn.ModuleList(
            StackedMLP(n_members, 1, neuron, activation=activation, resnet_dt=resnet_dt,
                       generator=generator, dtype=dtype)
            for _ in range(n_nets)
        )
        self.register_buffer("sel", torch.tensor(list(sel), dtype=torch.int64))
        self.register_buffer("davg", torch.zeros(n_members, ntypes, ntypes, 4, dtype=dtype))
        self.register_buffer("dstd", torch.ones(n_members, ntypes, ntypes, 4, dtype=dtype))

    @property
    def dim_out(self) -> int:
        return self.m1 * self.m2

    def net_index(self, ti: torch.Tensor, tj: torch.Tensor) -> torch.Tensor:
        """Which embedding net serves the pair (centre species ti, neighbour species tj)."""
        return tj if self.type_one_side else ti * self.ntypes + tj

    def forward(self, species: torch.Tensor, rij: torch.Tensor, i: torch.Tensor,
                j: torch.Tensor) -> torch.Tensor:
        """Descriptors (n_members, n_atoms, M1*M2) from edge vectors ``rij`` (n_members, n_edges, 3), Å."""
        n_members, n_edges = rij.shape[0], rij.shape[1]
        n_atoms = species.shape[0]
        ti, tj = species[i], species[j]
        rows = environment_rows(rij, self.rcut_smth, self.rcut)              # (M, E, 4)
        rows = (rows - self.davg[:, ti, tj]) / self.dstd[:, ti, tj]

        # Embedding of every edge, each species (pair) through its own net.
        net = self.net_index(ti, tj)
        order = torch.argsort(net, stable=True)
        counts = torch.bincount(net, minlength=len(self.embeddings)).tolist()
        pieces, start = [], 0
        for k, count in enumerate(counts):
            if count:
                idx = order[start:start + count]
                pieces.append(self.embeddings[k](rows[:, idx, :1]))
                start += count
        if pieces:
            g_sorted = torch.cat(pieces, dim=1)
            g = torch.empty_like(g_sorted).index_copy(1, order, g_sorted) if n_edges else g_sorted
        else:
            g = rows.new_zeros(n_members, 0, self.m1)

        # Dense (atom, slot) layout so that T_i = R_i^T G_i is one batched matmul.
        per_atom = torch.bincount(i, minlength=n_atoms)
        width = int(per_atom.max()) if n_edges else 0
        t = rows.new_zeros(n_members, n_atoms, 4, self.m1)
        if width:
            by_centre = torch.argsort(i, stable=True)
            first = torch.cumsum(per_atom, 0) - per_atom
            slot = torch.empty_like(i)
            slot[by_centre] = torch.arange(n_edges, device=i.device) - first[i[by_centre]]
            flat = i * width + slot
            r_dense = rows.new_zeros(n_members, n_atoms * width, 4).index_copy(1, flat, rows)
            g_dense = rows.new_zeros(n_members, n_atoms * width, self.m1).index_copy(1, flat, g)
            t = torch.matmul(r_dense.view(n_members, n_atoms, width, 4).transpose(-1, -2),
                             g_dense.view(n_members, n_atoms, width, self.m1))

        # Padded slots of DeePMD-kit's fixed-size neighbour sections, in closed form.
        n_ij = torch.zeros(n_atoms, self.ntypes, dtype=rows.dtype, device=rows.device)
        n_ij = n_ij.index_put((i, tj), torch.ones_like(i, dtype=rows.dtype), accumulate=True)
        n_pad = self.sel.to(rows.dtype) - n_ij                                # (N, ntypes)
        t = t + torch.einsum("nt,mntac->mnac", n_pad, self.padding_terms()[:, species])
        t = t / float(self.sel.sum())

        d = torch.matmul(t.transpose(-1, -2), t[..., : self.m2])              # (M, N, M1, M2)
        return d.reshape(n_members, n_atoms, self.m1 * self.m2)

    def padding_terms(self) -> torch.Tensor:
        """p^T G(p_0) for every (centre, neighbour) species pair: (n_members, ntypes, ntypes, 4, M1)."""
        p = -self.davg / self.dstd                                            # (M, nt, nt, 4)
        n_members = p.shape[0]
        terms = []
        for a in range(self.ntypes):
            row = []
            for b in range(self.ntypes):
                k = int(self.net_index(torch.tensor(a), torch.tensor(b)))
                g = self.embeddings[k](p[:, a, b, :1].reshape(n_members, 1, 1))  # (M, 1, M1)
                row.append(p[:, a, b, :, None] * g)                              # (M, 4, M1)
            terms.append(torch.stack(row, dim=1))
        return torch.stack(terms, dim=1)
