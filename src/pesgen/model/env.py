"""The smooth environment matrix of DeepPot-SE (se_e2_a), as DeePMD-kit defines it.

For a neighbour at r_ij (Å) with r = |r_ij|, the row of the environment matrix is

    R~_ij = s(r) * (1, x/r, y/r, z/r),     s(r) = w(r) / r,

with the switching function (u = (r - rcut_smth) / (rcut - rcut_smth), clamped to [0, 1])

    w(r) = u^3 (-6 u^2 + 15 u - 10) + 1,

which is 1 below rcut_smth, 0 at and beyond rcut, and has continuous first and second
derivatives. s has units of 1/Å.
"""

from __future__ import annotations

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
