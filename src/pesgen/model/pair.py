"""Analytic pair potentials (Lennard-Jones, Morse), batched over frames.

They are potentials of :mod:`pesgen.model.contract` (energy, forces, virial), like the Deep
Potential models, so the MD sampler and its tests can run without a trained network.

The pair energy ``phi(r)`` is shifted to zero at the cutoff and multiplied by a C2 quintic switch
``S(r) = 1 - 10x^3 + 15x^4 - 6x^5``, ``x = (r - r_on)/(rcut - r_on)``, so energy, force and force
derivative are continuous at ``rcut``. Forces come from autograd on the edge vectors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from pesgen.errors import PesgenError
from pesgen.model.batch import Batch
from pesgen.model.neighbors import Neighbors, neighbor_list


class PairParameterError(PesgenError, ValueError):
    """Pair-potential parameters that are inconsistent or unphysical."""


def _pair_matrix(value, type_map: Sequence[str], name: str) -> np.ndarray:
    """A symmetric (n_types, n_types) matrix from a scalar, a matrix, or a {(a, b): v} mapping."""
    n = len(type_map)
    if isinstance(value, Mapping):
        index = {s: k for k, s in enumerate(type_map)}
        out = np.full((n, n), np.nan)
        for key, v in value.items():
            a, b = key
            if a not in index or b not in index:
                raise PairParameterError(f"{name}: pair {key} has an element not in {list(type_map)}")
            out[index[a], index[b]] = out[index[b], index[a]] = float(v)
        if np.isnan(out).any():
            missing = [(type_map[a], type_map[b]) for a, b in zip(*np.nonzero(np.isnan(out)), strict=True)]
            raise PairParameterError(f"{name}: no value for pairs {missing}")
        return out
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full((n, n), float(arr))
    if arr.shape != (n, n) or not np.allclose(arr, arr.T):
        raise PairParameterError(f"{name}: expected a scalar or a symmetric {n}x{n} matrix, got {arr.shape}")
    return arr


class PairPotential:
    """A smooth, cut-off pair potential evaluated on a :class:`Batch` of frames.

    Args:
        type_map: element symbols; species index k of a batch means ``type_map[k]``.
        kind: ``"lj"`` (params ``epsilon`` eV, ``sigma`` Å) or ``"morse"``
            (params ``D`` eV, ``alpha`` 1/Å, ``r0`` Å). Each parameter is a scalar, a symmetric
            (n_types, n_types) matrix, or a mapping ``{(a, b): value}``.
        rcut: cutoff radius, Å.
        r_on: radius where the switch starts, Å (default ``rcut - 1``).
    """

    def __init__(self, type_map: Sequence[str], kind: str = "lj", rcut: float = 8.5, r_on: float | None = None,
                 **params) -> None:
        self.type_map = list(type_map)
        self.kind = kind
        self.rcut = float(rcut)
        self.r_on = float(rcut - 1.0 if r_on is None else r_on)
        if not 0.0 < self.r_on < self.rcut:
            raise PairParameterError(f"need 0 < r_on < rcut, got r_on={self.r_on}, rcut={self.rcut}")
        names = {"lj": ("epsilon", "sigma"), "morse": ("D", "alpha", "r0")}
        if kind not in names:
            raise PairParameterError(f"unknown pair potential kind {kind!r}; use 'lj' or 'morse'")
        unknown = sorted(set(params) - set(names[kind]))
        missing = sorted(set(names[kind]) - set(params))
        if unknown or missing:
            raise PairParameterError(
                f"{kind} parameters: unknown {unknown}, missing {missing} (expected {names[kind]})"
            )
        self.params = {k: _pair_matrix(params[k], self.type_map, k) for k in names[kind]}
        self._tensors: dict[tuple, dict[str, torch.Tensor]] = {}

    @classmethod
    def lennard_jones_argon(cls, rcut: float = 8.5, r_on: float | None = None) -> PairPotential:
        """Argon: epsilon = 0.0104 eV (120 K), sigma = 3.40 Å."""
        return cls(["Ar"], "lj", rcut=rcut, r_on=r_on, epsilon=0.0104, sigma=3.40)

    @classmethod
    def morse_al_cu(cls, rcut: float = 6.0, r_on: float | None = None) -> PairPotential:
        """Morse Al/Cu (Girifalco & Weizer 1959; Al-Cu by arithmetic/geometric mixing)."""
        d = {("Al", "Al"): 0.2703, ("Cu", "Cu"): 0.3429, ("Al", "Cu"): (0.2703 * 0.3429) ** 0.5}
        a = {("Al", "Al"): 1.1646, ("Cu", "Cu"): 1.3588, ("Al", "Cu"): 0.5 * (1.1646 + 1.3588)}
        r = {("Al", "Al"): 3.253, ("Cu", "Cu"): 2.866, ("Al", "Cu"): 0.5 * (3.253 + 2.866)}
        return cls(["Al", "Cu"], "morse", rcut=rcut, r_on=r_on, D=d, alpha=a, r0=r)

    def _phi(self, r: torch.Tensor, si: torch.Tensor, sj: torch.Tensor) -> torch.Tensor:
        key = (r.dtype, r.device)
        if key not in self._tensors:
            self._tensors[key] = {
                k: torch.as_tensor(v, dtype=r.dtype, device=r.device) for k, v in self.params.items()
            }
        p = {k: v[si, sj] for k, v in self._tensors[key].items()}
        rc = torch.full_like(r, self.rcut)
        if self.kind == "lj":

            def f(x):
                s6 = (p["sigma"] / x) ** 6
                return 4.0 * p["epsilon"] * (s6 * s6 - s6)

        else:

            def f(x):
                e = torch.exp(-p["alpha"] * (x - p["r0"]))
                return p["D"] * (e * e - 2.0 * e)

        return f(r) - f(rc)

    def _switch(self, r: torch.Tensor) -> torch.Tensor:
        x = ((r - self.r_on) / (self.rcut - self.r_on)).clamp(0.0, 1.0)
        return 1.0 - x**3 * (10.0 - 15.0 * x + 6.0 * x * x)

    def evaluate(self, batch: Batch, neighbors: Neighbors | None = None) -> dict[str, torch.Tensor]:
        """Energy (F,) eV, forces (N, 3) eV/Å and virial (F, 3, 3) eV of every frame.

        ``neighbors`` may be a list built with any cutoff >= ``rcut`` (e.g. rcut + a Verlet skin);
        edges longer than ``rcut`` contribute nothing.
        """
        if neighbors is None:
            neighbors = neighbor_list(batch, self.rcut)
        elif neighbors.cutoff < self.rcut - 1e-9:
            raise ValueError(f"neighbour list cutoff {neighbors.cutoff} Å < potential rcut {self.rcut} Å")
        n_frames, n_atoms = batch.n_frames, batch.n_atoms
        dtype, device = batch.dtype, batch.device
        with torch.enable_grad():
            vec = neighbors.vectors(batch.positions.detach(), batch.cell.detach(), batch.frame)
            vec = vec.detach().requires_grad_(True)
            r2 = (vec * vec).sum(-1)
            inside = r2 < self.rcut**2
            # Edges beyond the cutoff are evaluated at a safe radius and then zeroed.
            r = torch.sqrt(torch.where(inside, r2, torch.full_like(r2, self.rcut**2)))
            si, sj = batch.species[neighbors.i], batch.species[neighbors.j]
            e_edge = torch.where(inside, 0.5 * self._phi(r, si, sj) * self._switch(r), 0.0)
            edge_frame = batch.frame[neighbors.i]
            energy = torch.zeros(n_frames, dtype=dtype, device=device).index_add(0, edge_frame, e_edge)
            if neighbors.n_edges:
                (grad,) = torch.autograd.grad(e_edge.sum(), vec)
            else:
                grad = torch.zeros_like(vec)
        forces = torch.zeros(n_atoms, 3, dtype=dtype, device=device)
        forces.index_add_(0, neighbors.i, grad)
        forces.index_add_(0, neighbors.j, -grad)
        virial = torch.zeros(n_frames, 3, 3, dtype=dtype, device=device)
        virial.index_add_(0, edge_frame, -vec.detach()[:, :, None] * grad[:, None, :])
        return {"energy": energy.detach(), "forces": forces, "virial": virial}
