"""Neighbour lists of a :class:`~pesgen.model.batch.Batch`, computed with vesin.

A neighbour list is a set of directed edges ``i -> j`` with an integer cell shift ``S`` so that
the edge vector is ``r_ij = x_j - x_i + S @ cell``. Both directions of each pair are present
(a "full" list), and every periodic image within the cutoff appears, so cells smaller than the
cutoff are handled exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from vesin_torch import NeighborList as _VesinNeighborList

from pesgen.model.batch import Batch


@dataclass
class Neighbors:
    """Directed edges of a batch.

    Attributes:
        i: (n_edges,) int64 centre atom (index into the batch's atoms).
        j: (n_edges,) int64 neighbour atom.
        shift: (n_edges, 3) integer cell shifts (stored in the batch's float dtype).
        cutoff: the cutoff radius the list was built with, Å.
    """

    i: torch.Tensor
    j: torch.Tensor
    shift: torch.Tensor
    cutoff: float

    @property
    def n_edges(self) -> int:
        return int(self.i.shape[0])

    def vectors(self, positions: torch.Tensor, cell: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        """Edge vectors r_ij = x_j - x_i + S @ cell, Å, shape (n_edges, 3); differentiable."""
        shift_cart = torch.einsum("ek,ekl->el", self.shift.to(cell.dtype), cell[frame[self.i]])
        return positions[self.j] - positions[self.i] + shift_cart


def _complete_cell(cell: torch.Tensor, pbc: torch.Tensor, positions: torch.Tensor, cutoff: float) -> torch.Tensor:
    """The cell with its non-periodic vectors replaced, where they are zero or degenerate, by vectors
    orthogonal to the periodic ones and longer than the structure plus the cutoff (a slab or wire
    whose cell has no third vector). Periodic images are never taken along those directions."""
    cell = cell.clone()
    if float(torch.linalg.det(cell).abs()) > 1e-9:
        return cell
    length = float((positions.max(0).values - positions.min(0).values).norm()) + 2.0 * cutoff + 1.0
    basis = [cell[k] / cell[k].norm() for k in range(3) if bool(pbc[k])]
    for k in range(3):
        if bool(pbc[k]):
            continue
        for trial in torch.eye(3, dtype=cell.dtype, device=cell.device):
            v = trial.clone()
            for b in basis:
                v = v - (v @ b) * b
            if float(v.norm()) > 1e-6:
                v = v / v.norm()
                basis.append(v)
                cell[k] = v * length
                break
    return cell


def neighbor_list(batch: Batch, cutoff: float) -> Neighbors:
    """Full neighbour list of every frame within ``cutoff`` (Å); shifts are exact for any cell."""
    calculator = _VesinNeighborList(cutoff=float(cutoff), full_list=True)
    ii, jj, ss = [], [], []
    positions = batch.positions.detach()
    cell = batch.cell.detach()
    for f, sl in enumerate(batch.frame_slices()):
        pbc = batch.pbc[f]
        pos_f = positions[sl]
        if pos_f.shape[0] == 0:
            continue
        if bool(pbc.any()):
            box = _complete_cell(cell[f], pbc, pos_f, cutoff)
            if float(torch.linalg.det(box).abs()) < 1e-9:
                raise ValueError(f"frame {f}: periodic along {pbc.tolist()} but its periodic cell vectors "
                                 f"are degenerate: {cell[f].tolist()}")
            periodic = pbc.to(device=pos_f.device)
        else:
            box = torch.zeros(3, 3, dtype=pos_f.dtype, device=pos_f.device)
            periodic = False
        i, j, s = calculator.compute(pos_f, box, periodic, quantities="ijS")
        ii.append(i.to(torch.int64) + sl.start)
        jj.append(j.to(torch.int64) + sl.start)
        ss.append(s.to(batch.dtype))
    device = batch.device
    if not ii:
        empty = torch.zeros(0, dtype=torch.int64, device=device)
        return Neighbors(empty, empty.clone(), torch.zeros(0, 3, dtype=batch.dtype, device=device), cutoff)
    return Neighbors(torch.cat(ii).to(device), torch.cat(jj).to(device), torch.cat(ss).to(device), cutoff)
