"""A Verlet neighbour list with a skin, rebuilt per frame only when needed.

The list is built with cutoff ``rcut + skin``. Between builds the atoms move by ``d`` beyond the
affine deformation of the cell, ``x = x_ref M + d`` with ``M = h_ref⁻¹ h`` (rows are cell
vectors). Every pair then satisfies ``|r| >= |r_ref| σ_min(M) - 2 max|d|``, so a pair that was
beyond ``rcut + skin`` at the build is still beyond ``rcut`` while
``2 max|d| < (rcut + skin) σ_min(M) - rcut``. A frame is rebuilt as soon as that fails; for a fixed
cell this is the classic "an atom moved more than skin/2". Only the frames that need it are rebuilt
(``neighbor_list`` loops over frames), and their periodic coordinates are wrapped into the cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pesgen.model.batch import Batch
from pesgen.model.neighbors import Neighbors, neighbor_list


def wrap_positions(positions: torch.Tensor, cell: torch.Tensor, pbc: torch.Tensor, frame: torch.Tensor):
    """Positions with fractional coordinates along periodic directions brought into [0, 1)."""
    periodic = pbc.any(-1) & (torch.linalg.det(cell).abs() > 1e-9)
    if not bool(periodic.any()):
        return positions
    eye = torch.eye(3, dtype=cell.dtype, device=cell.device).expand_as(cell)
    safe = torch.where(periodic[:, None, None], cell, eye)
    frac = torch.linalg.solve(safe.transpose(-1, -2)[frame], positions.unsqueeze(-1)).squeeze(-1)
    frac = torch.where(pbc[frame], frac - torch.floor(frac), frac)
    wrapped = torch.einsum("nk,nkl->nl", frac, safe[frame])
    return torch.where(periodic[frame][:, None], wrapped, positions)


@dataclass
class VerletNeighbors:
    """Neighbour list of the current walkers plus the reference configuration of its last build.

    Attributes:
        neighbors: edges within ``cutoff + skin`` at the last build.
        ref_positions: (N, 3) positions at the last build of each atom's frame, Å.
        ref_cell: (F, 3, 3) cells at the last build, Å.
        cutoff: potential cutoff, Å. skin: Verlet skin, Å.
        n_builds: (F,) builds of each walker's list so far.
    """

    neighbors: Neighbors
    ref_positions: torch.Tensor
    ref_cell: torch.Tensor
    cutoff: float
    skin: float
    n_builds: torch.Tensor

    @classmethod
    def build(cls, batch: Batch, cutoff: float, skin: float) -> tuple[VerletNeighbors, torch.Tensor]:
        """Wrap the batch and build all frames; returns the list and the wrapped positions."""
        positions = wrap_positions(batch.positions, batch.cell, batch.pbc, batch.frame)
        nbrs = neighbor_list(batch.with_positions(positions), cutoff + skin)
        builds = torch.ones(batch.n_frames, dtype=torch.int64, device=batch.device)
        return cls(nbrs, positions.clone(), batch.cell.clone(), cutoff, skin, builds), positions

    def stale_frames(self, positions: torch.Tensor, cell: torch.Tensor, frame: torch.Tensor):
        """(F,) bool: frames whose list may miss a pair within ``cutoff`` now."""
        n_frames = cell.shape[0]
        det = torch.linalg.det(self.ref_cell)
        affine = det.abs() > 1e-9
        eye = torch.eye(3, dtype=cell.dtype, device=cell.device).expand_as(cell)
        safe_ref = torch.where(affine[:, None, None], self.ref_cell, eye)
        deform = torch.linalg.solve(safe_ref, torch.where(affine[:, None, None], cell, eye))
        d = positions - torch.einsum("nk,nkl->nl", self.ref_positions, deform[frame])
        dist = d.norm(dim=-1)
        max_d = torch.zeros(n_frames, dtype=dist.dtype, device=dist.device)
        max_d = max_d.scatter_reduce(0, frame, dist, reduce="amax", include_self=True)
        finite = torch.isfinite(deform).all(-1).all(-1)
        deform = torch.where(finite[:, None, None], deform, eye)
        sigma_min = torch.linalg.svdvals(deform)[:, -1]
        return 2.0 * max_d >= (self.cutoff + self.skin) * sigma_min - self.cutoff

    def rebuild(self, batch: Batch, stale: torch.Tensor) -> tuple[VerletNeighbors, torch.Tensor]:
        """Rebuild the ``stale`` frames (F,) bool; returns the new list and the positions (the
        rebuilt frames wrapped into their cells)."""
        atom_sel = stale[batch.frame]
        atoms = torch.nonzero(atom_sel).squeeze(-1)
        sub = batch.select(stale)
        sub_pos = wrap_positions(sub.positions, sub.cell, sub.pbc, sub.frame)
        sub_nbrs = neighbor_list(sub.with_positions(sub_pos), self.cutoff + self.skin)
        positions = batch.positions.clone()
        positions[atoms] = sub_pos
        old = self.neighbors
        keep = ~stale[batch.frame[old.i]]
        i = torch.cat([old.i[keep], atoms[sub_nbrs.i]])
        j = torch.cat([old.j[keep], atoms[sub_nbrs.j]])
        shift = torch.cat([old.shift[keep], sub_nbrs.shift.to(old.shift.dtype)])
        order = torch.argsort(i, stable=True)
        nbrs = Neighbors(i[order], j[order], shift[order], old.cutoff)
        ref_positions = torch.where(atom_sel[:, None], positions, self.ref_positions)
        ref_cell = torch.where(stale[:, None, None], batch.cell, self.ref_cell)
        builds = self.n_builds + stale.to(torch.int64)
        return VerletNeighbors(nbrs, ref_positions, ref_cell, self.cutoff, self.skin, builds), positions

    def select(self, keep_frames: torch.Tensor, frame: torch.Tensor) -> VerletNeighbors:
        """The list restricted to walkers ``keep_frames`` (F,) bool, atoms renumbered."""
        atom_keep = keep_frames[frame]
        new_index = torch.cumsum(atom_keep.to(torch.int64), 0) - 1
        nb = self.neighbors
        edge_keep = atom_keep[nb.i]
        nbrs = Neighbors(new_index[nb.i[edge_keep]], new_index[nb.j[edge_keep]], nb.shift[edge_keep], nb.cutoff)
        return VerletNeighbors(nbrs, self.ref_positions[atom_keep], self.ref_cell[keep_frames], self.cutoff, self.skin,
                               self.n_builds[keep_frames])
