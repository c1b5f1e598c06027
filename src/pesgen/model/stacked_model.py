"""``StackedDeepPot``: n_members Deep Potentials of one architecture, evaluated in one pass.

Every parameter and statistic carries a leading member axis, so a single model is the case
n_members = 1 and an ensemble shares one geometry and one neighbour list. Energies in eV,
forces in eV/Å, virials in eV (W = -sum_edges r_ij ⊗ dE/dr_ij; ASE stress = -W / V).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from pesgen.model.batch import Batch
from pesgen.model.descriptor import DescriptorSeA
from pesgen.model.env import EdgeEnvironment
from pesgen.model.fitting import EnergyFitting
from pesgen.model.neighbors import Neighbors, neighbor_list
from pesgen.model.tabulate import EmbeddingTables

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def default_sel(rcut: float, ntypes: int) -> list[int]:
    """Neighbour slots per species before data are seen: a dense metal's count within rcut, x1.2."""
    count = 4.0 / 3.0 * math.pi * rcut**3 * 0.072 * 1.2
    return [int(math.ceil(count / 4.0) * 4)] * ntypes


@dataclass
class Hyperparameters:
    """Architecture of a DeepPot-SE (se_e2_a) model; names follow DeePMD-kit's input keys."""

    type_map: list[str]
    rcut: float = 6.0                     # Å
    rcut_smth: float = 0.5                # Å, where the switching starts
    sel: list[int] = field(default_factory=list)   # neighbour slots per species
    neuron: list[int] = field(default_factory=lambda: [25, 50, 100])
    axis_neuron: int = 16
    type_one_side: bool = True
    resnet_dt: bool = False               # embedding nets
    fitting_neuron: list[int] = field(default_factory=lambda: [240, 240, 240])
    fitting_resnet_dt: bool = True
    activation: str = "tanh"
    precision: str = "float64"

    def __post_init__(self) -> None:
        self.type_map = list(self.type_map)
        if not self.type_map or len(set(self.type_map)) != len(self.type_map):
            raise ValueError(f"type_map must list distinct species, got {self.type_map}")
        if not self.sel:
            self.sel = default_sel(self.rcut, len(self.type_map))
        if isinstance(self.sel, int):
            self.sel = [self.sel] * len(self.type_map)
        self.sel = [int(s) for s in self.sel]
        self.neuron = [int(n) for n in self.neuron]
        self.fitting_neuron = [int(n) for n in self.fitting_neuron]
        if self.precision not in DTYPES:
            raise ValueError(f"precision must be one of {sorted(DTYPES)}, got {self.precision!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.precision]


class StackedDeepPot(nn.Module):
    """n_members Deep Potentials with stacked weights."""

    def __init__(self, hyper: Hyperparameters, n_members: int = 1, seed: int = 0) -> None:
        super().__init__()
        self.hyper = hyper
        self.n_members = n_members
        generator = torch.Generator().manual_seed(int(seed))
        dtype = hyper.dtype
        ntypes = len(hyper.type_map)
        self.descriptor = DescriptorSeA(
            n_members, ntypes, hyper.rcut, hyper.rcut_smth, hyper.sel, hyper.neuron, hyper.axis_neuron,
            hyper.type_one_side, hyper.resnet_dt, hyper.activation, generator, dtype)
        self.fitting = EnergyFitting(
            n_members, ntypes, self.descriptor.dim_out, hyper.fitting_neuron, hyper.fitting_resnet_dt,
            hyper.activation, generator, dtype)

    @property
    def type_map(self) -> list[str]:
        return self.hyper.type_map

    @property
    def rcut(self) -> float:
        return self.hyper.rcut

    @property
    def dtype(self) -> torch.dtype:
        return self.fitting.bias_atom_e.dtype

    @property
    def device(self) -> torch.device:
        return self.fitting.bias_atom_e.device

    def forward(self, batch: Batch, neighbors: Neighbors | None = None, *, create_graph: bool = False,
                need_forces: bool = True, tables: EmbeddingTables | None = None) -> dict[str, torch.Tensor]:
        """Per-member predictions for a batch.

        Returns "energy" (M, F) eV, "atom_energy" (M, N) eV and, with ``need_forces``,
        "forces" (M, N, 3) eV/Å and "virial" (M, F, 3, 3) eV. ``create_graph`` keeps the graph of
        the forces for training on them. ``neighbors`` may come from a longer cutoff (a Verlet
        skin); edges beyond rcut are dropped here. ``tables``: the tabulated embedding nets of a
        compressed model (:mod:`pesgen.model.tabulate`), for inference only (no ``create_graph``).
        """
        if tables is not None and create_graph:
            raise ValueError("a compressed model (tabulated embedding nets) is for inference; "
                             "training uses the exact nets (pass no tables with create_graph)")
        batch, rij, i, j = self._edges(batch, neighbors)
        device = self.device
        n_atoms, n_frames = batch.n_atoms, batch.n_frames
        if create_graph or not need_forces:
            chunks = [(torch.arange(n_atoms, device=device), None)]
        else:
            chunks = self._atom_chunks(i, n_atoms)
        atom_energy_parts = []
        forces = virial = None
        if need_forces:
            forces = rij.new_zeros(self.n_members, n_atoms, 3)
            virial = rij.new_zeros(self.n_members, n_frames, 3, 3)
        for centres, edges in chunks:
            if edges is None:
                ci, cj, crij = i, j, rij
            else:
                ci, cj, crij = i[edges] - centres[0], j[edges], rij[edges]
            e_atoms, grad, crij_m = self._centre_pass(batch.species, centres, ci, cj, crij, need_forces,
                                                      create_graph, tables)
            atom_energy_parts.append(e_atoms)
            if grad is None:
                continue
            gi = ci if edges is None else ci + centres[0]
            forces, virial = _add_edge_forces(forces, virial, grad, gi, cj, crij_m, batch.frame)
        atom_energy = torch.cat(atom_energy_parts, dim=1)
        energy = atom_energy.new_zeros(self.n_members, n_frames).index_add(1, batch.frame, atom_energy)
        out = {"energy": energy, "atom_energy": atom_energy}
        if not need_forces:
            return out
        out["forces"] = forces
        out["virial"] = virial
        return out

    #: target size in bytes of the largest per-chunk tensor (members x edges x M1) in inference
    chunk_bytes: int = 6 * 2**20

    def _atom_chunks(self, i: torch.Tensor, n_atoms: int) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """Contiguous ranges of centre atoms whose edge tensors stay near ``chunk_bytes`` (cache-sized)."""
        n_edges = int(i.shape[0])
        per_edge = self.n_members * self.descriptor.m1 * self.dtype.itemsize
        n_chunks = min(max(1, -(-n_edges * per_edge // self.chunk_bytes)), max(1, n_atoms // 8))
        if n_chunks == 1:
            return [(torch.arange(n_atoms, device=i.device), None)]
        order = torch.argsort(i, stable=True)
        bounds = torch.linspace(0, n_atoms, n_chunks + 1, device=i.device).round().long()
        starts = torch.searchsorted(i[order], bounds).tolist()
        bounds = bounds.tolist()
        return [(torch.arange(bounds[k], bounds[k + 1], device=i.device), order[starts[k]:starts[k + 1]])
                for k in range(n_chunks) if bounds[k + 1] > bounds[k]]

    def _centre_pass(self, species: torch.Tensor, centres: torch.Tensor, i: torch.Tensor, j: torch.Tensor,
                     rij: torch.Tensor, need_forces: bool, create_graph: bool,
                     tables: EmbeddingTables | None = None):
        """Atomic energies (M, n_centres) of ``centres`` and dE/dr_ij (M, E, 3) of their edges."""
        rij_m = rij.detach().unsqueeze(0).expand(self.n_members, -1, -1).clone()
        if need_forces:
            rij_m.requires_grad_(True)
        with torch.enable_grad() if need_forces else torch.no_grad():
            centre_species = species[centres]
            descriptor = self.descriptor(centre_species, rij_m, i, species[j], tables)
            atom_energy = self.fitting(descriptor, centre_species)                 # (M, n_centres)
            if not need_forces:
                return atom_energy, None, rij_m
            (grad,) = torch.autograd.grad(atom_energy.sum(), rij_m, create_graph=create_graph, allow_unused=True)
        if grad is None:  # no edge inside rcut: isolated atoms feel no force
            grad = torch.zeros_like(rij_m)
        return atom_energy, grad, rij_m

    def forward_environment(self, env: EdgeEnvironment, *, create_graph: bool = False) -> dict[str, torch.Tensor]:
        """:meth:`forward` from precomputed environment rows and their Jacobian (frames that never
        move: training). dE/dR~ comes from autograd and dE/dr_ij = dE/dR~ · dR~/dr_ij, so no
        geometry is recomputed or differentiated; same outputs as :meth:`forward`."""
        m = self.n_members
        rows = env.rows.unsqueeze(0).expand(m, -1, -1).clone().requires_grad_(True)
        with torch.enable_grad():
            descriptor = self.descriptor.from_rows(env.species, rows, env.i, env.species[env.j])
            atom_energy = self.fitting(descriptor, env.species)                          # (M, N)
            (d_rows,) = torch.autograd.grad(atom_energy.sum(), rows, create_graph=create_graph, allow_unused=True)
        energy = atom_energy.new_zeros(m, env.n_frames).index_add(1, env.frame, atom_energy)
        forces = atom_energy.new_zeros(m, env.n_atoms, 3)
        virial = atom_energy.new_zeros(m, env.n_frames, 3, 3)
        if d_rows is not None:
            grad = torch.einsum("mea,eab->meb", d_rows, env.jacobian)                  # (M, E, 3)
            forces, virial = _add_edge_forces(forces, virial, grad, env.i, env.j, env.rij, env.frame)
        return {"energy": energy, "atom_energy": atom_energy, "forces": forces, "virial": virial}

    def descriptors(self, batch: Batch, neighbors: Neighbors | None = None) -> torch.Tensor:
        """Per-atom descriptors of every member, (n_members, n_atoms, M1*M2), without gradients."""
        with torch.no_grad():
            batch, rij, i, j = self._edges(batch, neighbors)
            rij_m = rij.unsqueeze(0).expand(self.n_members, -1, -1)
            return self.descriptor(batch.species, rij_m, i, batch.species[j])

    def _edges(self, batch: Batch, neighbors: Neighbors | None):
        """The batch in the model's dtype and device, and its edges within rcut: (batch, r_ij, i, j).

        ``neighbors`` may come from a longer cutoff (a Verlet skin); edges beyond rcut are dropped."""
        if neighbors is None:
            neighbors = neighbor_list(batch, self.rcut)
        if batch.dtype != self.dtype or batch.device != self.device:
            batch = batch.to(dtype=self.dtype, device=self.device)
        rij = neighbors.vectors(batch.positions, batch.cell, batch.frame).to(self.dtype)
        i, j = neighbors.i, neighbors.j
        if neighbors.cutoff > self.rcut:
            keep = torch.linalg.vector_norm(rij.detach(), dim=-1) < self.rcut
            rij, i, j = rij[keep], i[keep], j[keep]
        return batch, rij, i, j

    # ---- members -------------------------------------------------------------------------

    @classmethod
    def stack(cls, models: Sequence[StackedDeepPot]) -> StackedDeepPot:
        """One module holding the members of all ``models`` (same architecture), in order."""
        if not models:
            raise ValueError("cannot stack an empty list of models")
        first = models[0].hyper.to_dict()
        for k, model in enumerate(models[1:], start=1):
            other = model.hyper.to_dict()
            diff = {key: (first[key], other[key]) for key in first if first[key] != other[key]}
            if diff:
                raise ValueError(f"model {k} differs from model 0 in {diff}; an ensemble needs one architecture")
        n = sum(model.n_members for model in models)
        stacked = cls(Hyperparameters(**first), n_members=n, seed=0)
        states = [model.state_dict() for model in models]
        merged = {}
        for key, value in states[0].items():
            if key.endswith("sel"):
                merged[key] = value.clone()
            else:
                merged[key] = torch.cat([state[key] for state in states], dim=0).clone()
        stacked.load_state_dict(merged)
        return stacked.to(device=models[0].device)

    def member(self, k: int) -> StackedDeepPot:
        """A copy of member ``k`` as a one-member module."""
        if not -self.n_members <= k < self.n_members:
            raise IndexError(f"member {k} out of range for {self.n_members} members")
        k = k % self.n_members
        single = StackedDeepPot(Hyperparameters(**self.hyper.to_dict()), n_members=1, seed=0)
        state = {key: (v.clone() if key.endswith("sel") else v[k:k + 1].clone())
                 for key, v in self.state_dict().items()}
        single.load_state_dict(state)
        return single.to(device=self.device)

    def set_sel(self, sel: Sequence[int]) -> None:
        """Change the neighbour slots per species (before statistics and training)."""
        self.hyper.sel = [int(s) for s in sel]
        self.descriptor.sel = torch.tensor(self.hyper.sel, dtype=torch.int64, device=self.device)


def _add_edge_forces(forces: torch.Tensor, virial: torch.Tensor, grad: torch.Tensor, i: torch.Tensor, j: torch.Tensor,
                     rij: torch.Tensor, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forces (M, N, 3) and virials (M, F, 3, 3) plus the contributions of edges i -> j with
    dE/dr_ij = ``grad`` (M, E, 3): F_i += dE/dr_ij, F_j -= dE/dr_ij, W_frame(i) -= r_ij ⊗ dE/dr_ij."""
    forces = forces.index_add(1, i, grad).index_add(1, j, -grad)
    outer = -rij.detach().unsqueeze(-1) * grad.unsqueeze(-2)                             # (M, E, 3, 3)
    return forces, virial.index_add(1, frame[i], outer)
