"""A batch of atomic frames as flat tensors: the input of every model in pesgen.

Atoms of all frames are concatenated; ``frame[k]`` says which frame atom ``k`` belongs to.
Positions and cells are in Å; rows of ``cell`` are the cell vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from ase import Atoms

from pesgen.errors import PesgenError


class SpeciesError(PesgenError, ValueError):
    """A structure holds an element the model's type map does not know."""


@dataclass
class Batch:
    """Frames of atoms, concatenated.

    Attributes:
        positions: (n_atoms, 3) Cartesian positions, Å.
        species: (n_atoms,) int64 index into the model's type map.
        cell: (n_frames, 3, 3) cell vectors as rows, Å (zeros for a frame without periodicity).
        pbc: (n_frames, 3) bool, periodicity along each cell vector.
        frame: (n_atoms,) int64 frame index of each atom (non-decreasing).
    """

    positions: torch.Tensor
    species: torch.Tensor
    cell: torch.Tensor
    pbc: torch.Tensor
    frame: torch.Tensor

    @property
    def n_frames(self) -> int:
        return int(self.cell.shape[0])

    @property
    def n_atoms(self) -> int:
        return int(self.positions.shape[0])

    @property
    def natoms(self) -> torch.Tensor:
        """(n_frames,) number of atoms in each frame."""
        return torch.bincount(self.frame, minlength=self.n_frames)

    @property
    def dtype(self) -> torch.dtype:
        return self.positions.dtype

    @property
    def device(self) -> torch.device:
        return self.positions.device

    def to(self, dtype: torch.dtype | None = None, device: str | torch.device | None = None) -> Batch:
        """A copy with floating tensors in ``dtype`` and all tensors on ``device``."""
        dtype = dtype or self.dtype
        device = device or self.device
        return replace(self, positions=self.positions.to(device=device, dtype=dtype),
                       cell=self.cell.to(device=device, dtype=dtype), species=self.species.to(device),
                       pbc=self.pbc.to(device), frame=self.frame.to(device))

    def with_positions(self, positions: torch.Tensor, cell: torch.Tensor | None = None) -> Batch:
        """The same frames with new positions (and optionally new cells)."""
        return replace(self, positions=positions, cell=self.cell if cell is None else cell)

    def select(self, keep: torch.Tensor) -> Batch:
        """The frames where ``keep`` (n_frames,) is true, their atoms renumbered."""
        atom_keep = keep[self.frame]
        new_frame = torch.cumsum(keep.to(torch.int64), 0) - 1
        return Batch(self.positions[atom_keep], self.species[atom_keep], self.cell[keep], self.pbc[keep],
                     new_frame[self.frame[atom_keep]])

    @classmethod
    def from_atoms(cls, frames: Atoms | Sequence[Atoms], type_map: Sequence[str], dtype: torch.dtype = torch.float64,
                   device: str | torch.device = "cpu") -> Batch:
        """Build a batch from ASE structures; species are mapped through ``type_map``."""
        if isinstance(frames, Atoms):
            frames = [frames]
        if len(frames) == 0:
            raise ValueError("Batch.from_atoms: no frames given")
        index = {symbol: k for k, symbol in enumerate(type_map)}
        pos, spec, cells, pbcs, fidx = [], [], [], [], []
        for f, atoms in enumerate(frames):
            symbols = atoms.get_chemical_symbols()
            unknown = sorted(set(symbols) - set(index))
            if unknown:
                name = atoms.info.get("system", atoms.get_chemical_formula())
                raise SpeciesError(f"structure {f} ({name}) contains {', '.join(unknown)}, "
                                   f"not in the model's type_map {list(type_map)}")
            pos.append(np.asarray(atoms.positions, dtype=np.float64))
            spec.append(np.fromiter((index[s] for s in symbols), dtype=np.int64, count=len(atoms)))
            cells.append(np.asarray(atoms.cell.array, dtype=np.float64).copy())
            pbcs.append(np.asarray(atoms.pbc, dtype=bool))
            fidx.append(np.full(len(atoms), f, dtype=np.int64))
        return cls(positions=torch.tensor(np.concatenate(pos), dtype=dtype, device=device),
                   species=torch.tensor(np.concatenate(spec), device=device),
                   cell=torch.tensor(np.stack(cells), dtype=dtype, device=device),
                   pbc=torch.tensor(np.stack(pbcs), device=device),
                   frame=torch.tensor(np.concatenate(fidx), device=device))

    def frame_slices(self) -> list[slice]:
        """Atom index range of each frame."""
        counts = self.natoms.tolist()
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).tolist()
        return [slice(s, s + c) for s, c in zip(starts, counts, strict=True)]
