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
from pesgen.model.tabulate import EmbeddingTables


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
                tj: torch.Tensor, tables: EmbeddingTables | None = None) -> torch.Tensor:
        """Descriptors (n_members, n_centres, M1*M2) of centre atoms of species ``species`` (n_centres,),
        from their edges: vectors ``rij`` (n_members, n_edges, 3) in Å, centre index ``i`` (into the
        centres) and neighbour species ``tj`` of each edge.

        Edges are laid out, as in DeePMD-kit, in one section per neighbour species: a dense
        (atom, slot) block of width K_b = the largest count of species-b neighbours of any atom.
        Empty slots hold zero rows and so add nothing; DeePMD-kit's own padding up to ``sel`` is
        added in closed form (see the module docstring). With ``tables`` (a compressed model,
        :mod:`pesgen.model.tabulate`) each block's R^ᵀ G comes from the tabulated nets.
        """
        return self.from_rows(species, environment_rows(rij, self.rcut_smth, self.rcut), i, tj, tables)

    def from_rows(self, species: torch.Tensor, rows: torch.Tensor, i: torch.Tensor, tj: torch.Tensor,
                  tables: EmbeddingTables | None = None) -> torch.Tensor:
        """:meth:`forward` from the environment rows (n_members, n_edges, 4) of the edges instead of
        their vectors (training reuses the rows of its fixed frames, :mod:`pesgen.model.env`)."""
        n_members = rows.shape[0]
        n_atoms = species.shape[0]
        nt = self.ntypes
        ti = species[i]
        rows = (rows - self.davg[:, ti, tj]) / self.dstd[:, ti, tj]

        # slot of each edge inside its (centre, neighbour species) group
        key = tj * n_atoms + i
        order = torch.argsort(key, stable=True)
        group_size = torch.bincount(key, minlength=nt * n_atoms)
        first = torch.cumsum(group_size, 0) - group_size
        slot = torch.empty_like(i)
        slot[order] = torch.arange(i.shape[0], device=i.device) - first[key[order]]
        n_ij = group_size.view(nt, n_atoms)                                  # neighbours per species

        t = rows.new_zeros(n_members, n_atoms, 4, self.m1)
        widths = n_ij.max(dim=1).values.tolist() if n_atoms else [0] * nt
        centre_groups = (None,) if self.type_one_side else range(nt)
        for b, width in enumerate(widths):
            if width == 0:
                continue
            edges = (tj == b).nonzero().squeeze(1)
            flat = i[edges] * width + slot[edges]
            dense = rows.new_zeros(n_members, n_atoms * width, 4).index_copy(1, flat, rows[:, edges])
            dense = dense.view(n_members, n_atoms, width, 4)
            for a in centre_groups:
                if a is None:
                    atoms, block, k = None, dense, b
                else:
                    atoms = (species == a).nonzero().squeeze(1)
                    if atoms.numel() == 0:
                        continue
                    block, k = dense[:, atoms], a * nt + b
                if tables is not None:
                    contrib = tables.contract(k, block)
                else:
                    n_block = block.shape[1]
                    g = self.embeddings[k](block[..., :1].reshape(n_members, n_block * width, 1))
                    contrib = torch.matmul(block.transpose(-1, -2), g.view(n_members, n_block, width, self.m1))
                t = t + contrib if atoms is None else t.index_add(1, atoms, contrib)

        # Padded slots of DeePMD-kit's fixed-size neighbour sections, in closed form.
        n_pad = self.sel.to(rows.dtype) - n_ij.t().to(rows.dtype)             # (N, ntypes)
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
