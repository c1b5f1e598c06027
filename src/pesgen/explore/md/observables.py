"""Per-walker observables of a batched MD state: kinetic energy, temperature, volume, pressure.

Velocities are in ASE's internal unit, Å / (Å·sqrt(amu/eV)) (the unit of ``ase.Atoms.get_velocities``;
one fs is ``ase.units.fs`` ≈ 0.0982 of it), masses in amu, so ``m v² / 2`` is in eV.
"""

from __future__ import annotations

import torch
from ase import units


def per_frame_sum(values: torch.Tensor, frame: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Sum per-atom ``values`` (N, ...) into (n_frames, ...) by frame index."""
    out = torch.zeros((n_frames, *values.shape[1:]), dtype=values.dtype, device=values.device)
    return out.index_add_(0, frame, values)


def kinetic_energy(velocities: torch.Tensor, masses: torch.Tensor, frame: torch.Tensor, n_frames: int):
    """(F,) kinetic energy of each frame, eV."""
    return per_frame_sum(0.5 * masses * (velocities * velocities).sum(-1), frame, n_frames)


def kinetic_tensor(velocities: torch.Tensor, masses: torch.Tensor, frame: torch.Tensor, n_frames: int):
    """(F, 3, 3) sum of m v ⊗ v of each frame, eV."""
    mvv = masses[:, None, None] * velocities[:, :, None] * velocities[:, None, :]
    return per_frame_sum(mvv, frame, n_frames)


def temperature(kinetic: torch.Tensor, dof: torch.Tensor) -> torch.Tensor:
    """(F,) instantaneous temperature 2K / (dof kB), K."""
    return 2.0 * kinetic / (dof * units.kB)


def volume(cell: torch.Tensor) -> torch.Tensor:
    """(F,) |det(cell)|, Å³ (0 for a frame without a cell)."""
    return torch.linalg.det(cell).abs()


def pressure(virial: torch.Tensor, kinetic: torch.Tensor, vol: torch.Tensor) -> torch.Tensor:
    """(F,) instantaneous pressure (tr W + 2K) / (3V), eV/Å³ (NaN where V = 0)."""
    trace = virial.diagonal(dim1=-2, dim2=-1).sum(-1)
    return (trace + 2.0 * kinetic) / (3.0 * vol)


def to_bar(p: torch.Tensor) -> torch.Tensor:
    """eV/Å³ to bar."""
    return p / units.bar


def from_bar(p: torch.Tensor) -> torch.Tensor:
    """bar to eV/Å³."""
    return p * units.bar
