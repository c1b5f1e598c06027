"""The smooth environment matrix of DeepPot-SE (se_e2_a), as DeePMD-kit defines it.

For a neighbour at r_ij (Å) with r = |r_ij|, the row of the environment matrix is

    R~_ij = s(r) * (1, x/r, y/r, z/r),     s(r) = w(r) / r,

with the switching function (u = (r - rcut_smth) / (rcut - rcut_smth), clamped to [0, 1])

    w(r) = u^3 (-6 u^2 + 15 u - 10) + 1,

which is 1 below rcut_smth, 0 at and beyond rcut, and has continuous first and second
derivatives. s has units of 1/Å.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import torch


def switching(r: torch.Tensor, rcut_smth: float, rcut: float) -> torch.Tensor:
    """w(r): 1 for r <= rcut_smth, 0 for r >= rcut, C2-smooth in between."""
    u = ((r - rcut_smth) / (rcut - rcut_smth)).clamp(0.0, 1.0)
    return u * u * u * (-6.0 * u * u + 15.0 * u - 10.0) + 1.0


def environment_rows(rij: torch.Tensor, rcut_smth: float, rcut: float) -> torch.Tensor:
    """Rows (s, s x/r, s y/r, s z/r) of the environment matrix for edge vectors ``rij`` (..., 3)."""
    r = torch.linalg.vector_norm(rij, dim=-1, keepdim=True)
    s = switching(r, rcut_smth, rcut) / r
    return torch.cat([s, s * rij / r], dim=-1)


@dataclass
class EdgeEnvironment:
    """Environment rows of fixed frames, with their derivative: the training-time input of a model.

    Positions of training frames never change, so their edges, the rows R~_ij and the Jacobian
    dR~_ij/dr_ij are computed once (see :func:`edge_environment`) and a model maps them to
    energies, forces and virials without recomputing any geometry
    (:meth:`pesgen.model.stacked_model.StackedDeepPot.forward_environment`).

    Attributes:
        species: (n_atoms,) int64 species index of each atom.
        frame: (n_atoms,) int64 frame index of each atom (non-decreasing).
        n_frames: number of frames.
        i, j: (n_edges,) int64 centre and neighbour atom of each directed edge.
        rij: (n_edges, 3) edge vectors r_ij = x_j - x_i + S @ cell, Å.
        rows: (n_edges, 4) rows (s, s x/r, s y/r, s z/r) of the environment matrix, 1/Å.
        jacobian: (n_edges, 4, 3) d rows / d r_ij, 1/Å².
    """

    species: torch.Tensor
    frame: torch.Tensor
    n_frames: int
    i: torch.Tensor
    j: torch.Tensor
    rij: torch.Tensor
    rows: torch.Tensor
    jacobian: torch.Tensor

    @property
    def n_atoms(self) -> int:
        return int(self.species.shape[0])

    @property
    def natoms(self) -> torch.Tensor:
        """(n_frames,) number of atoms in each frame."""
        return torch.bincount(self.frame, minlength=self.n_frames)

    def to(self, device: str | torch.device) -> EdgeEnvironment:
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self) if f.name != "n_frames"})

    @classmethod
    def cat(cls, parts: Sequence[EdgeEnvironment]) -> EdgeEnvironment:
        """The frames of all ``parts``, in order, as one environment (atoms and frames renumbered)."""
        if len(parts) == 1:
            return parts[0]
        atom_offsets = np.cumsum([0] + [p.n_atoms for p in parts[:-1]]).tolist()
        frame_offsets = np.cumsum([0] + [p.n_frames for p in parts[:-1]]).tolist()
        return cls(
            species=torch.cat([p.species for p in parts]),
            frame=torch.cat([p.frame + o for p, o in zip(parts, frame_offsets, strict=True)]),
            n_frames=sum(p.n_frames for p in parts),
            i=torch.cat([p.i + o for p, o in zip(parts, atom_offsets, strict=True)]),
            j=torch.cat([p.j + o for p, o in zip(parts, atom_offsets, strict=True)]),
            rij=torch.cat([p.rij for p in parts]),
            rows=torch.cat([p.rows for p in parts]),
            jacobian=torch.cat([p.jacobian for p in parts]),
        )


def row_jacobian(rij: torch.Tensor, rcut_smth: float, rcut: float) -> torch.Tensor:
    """d rows / d r_ij (n_edges, 4, 3), 1/Å², computed in float64 and rounded to ``rij``'s dtype.

    With u = r_ij / r and s' = ds/dr = w'(r) / r - w(r) / r², w'(r) = -30 x²(x - 1)² / (rcut - rcut_smth)
    on the switching window (x its reduced coordinate) and 0 elsewhere:
    ds/dr_ij = s' u and d(s u_a)/dr_ij,b = s' u_a u_b + s (δ_ab - u_a u_b) / r."""
    r64 = rij.detach().to(torch.float64)
    r = torch.linalg.vector_norm(r64, dim=-1, keepdim=True)                 # (E, 1)
    u = r64 / r
    width = rcut - rcut_smth
    x = ((r - rcut_smth) / width).clamp(0.0, 1.0)
    dw = torch.where((r > rcut_smth) & (r < rcut), -30.0 * x * x * (x - 1.0) ** 2 / width, torch.zeros_like(r))
    s = switching(r, rcut_smth, rcut) / r
    ds = dw / r - s / r                                                      # (E, 1)
    uu = u.unsqueeze(-1) * u.unsqueeze(-2)                                   # (E, 3, 3)
    eye = torch.eye(3, dtype=torch.float64, device=rij.device)
    directional = ds.unsqueeze(-1) * uu + (s / r).unsqueeze(-1) * (eye - uu)
    return torch.cat([(ds * u).unsqueeze(1), directional], dim=1).to(rij.dtype)


def edge_environment(species: torch.Tensor, frame: torch.Tensor, n_frames: int, i: torch.Tensor, j: torch.Tensor,
                     rij: torch.Tensor, rcut_smth: float, rcut: float) -> EdgeEnvironment:
    """The :class:`EdgeEnvironment` of edges ``i -> j`` with vectors ``rij`` (Å), all within ``rcut``.

    The rows are computed in ``rij``'s dtype exactly as a model computes them from positions; the
    Jacobian is computed in float64 and rounded to that dtype."""
    rij = rij.detach()
    return EdgeEnvironment(species, frame, n_frames, i, j, rij, environment_rows(rij, rcut_smth, rcut),
                           row_jacobian(rij, rcut_smth, rcut))
