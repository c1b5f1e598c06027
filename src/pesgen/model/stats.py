"""Data statistics of a Deep Potential: environment-matrix normalisation and energy bias.

Both follow DeePMD-kit:

* For each centre species a, over all atoms of species a and all ``sum(sel)`` neighbour slots
  of every neighbour species pooled (padded slots count, with a zero row):
  davg = (mean of s, 0, 0, 0); dstd = (std of s, std of the three s x/r components pooled),
  with std floored at ``protection`` = 1e-2; the same values for every neighbour species b
  (DeePMD-kit's se_e2_a statistics, ``EnvMatStatSe``). A centre species absent from the data, or
  without any neighbour, keeps avg 0, std 1.
* The atomic energy bias per species is the least-squares solution of
  E_frame ≈ sum_t n_t(frame) * bias_t over the training frames (eV).
* ``sel`` chosen from data ("auto"): the largest neighbour count per species seen within rcut,
  times ``ratio`` (1.1), rounded up to a multiple of 4.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
from ase import Atoms

from pesgen.model.batch import Batch
from pesgen.model.env import environment_rows
from pesgen.model.neighbors import Neighbors, neighbor_list

PROTECTION = 1e-2


def _batches(frames: Iterable[Atoms], type_map: Sequence[str], chunk: int) -> Iterator[Batch]:
    """``frames`` as float64 batches of ``chunk`` frames (one neighbour-list call each)."""
    frames = list(frames)
    for start in range(0, len(frames), chunk):
        yield Batch.from_atoms(frames[start:start + chunk], type_map)


def _pair_vectors(batch: Batch, rcut: float) -> tuple[Neighbors, torch.Tensor, torch.Tensor]:
    """The neighbour list of ``batch`` within ``rcut``, its pair vectors and their lengths (Å)."""
    nl = neighbor_list(batch, rcut)
    rij = nl.vectors(batch.positions, batch.cell, batch.frame)
    return nl, rij, torch.linalg.vector_norm(rij, dim=-1)


def closest_pair(r: torch.Tensor, rcut: float) -> float:
    """The shortest of the pair distances ``r`` (Å) below ``rcut``; ``math.inf`` when none is."""
    keep = r < rcut
    return float(r[keep].min()) if bool(keep.any()) else math.inf


class EnvironmentSums:
    """Running sums of environment rows per (centre, neighbour) species pair, in float64 (pooled per
    centre species by :meth:`mean_std`)."""

    def __init__(self, ntypes: int) -> None:
        self.ntypes = ntypes
        self.sum_r = np.zeros((ntypes, ntypes))
        self.sum_r2 = np.zeros((ntypes, ntypes))
        self.sum_a = np.zeros((ntypes, ntypes))
        self.sum_a2 = np.zeros((ntypes, ntypes))
        self.n_centres = np.zeros(ntypes)
        self.max_neighbors = np.zeros(ntypes, dtype=np.int64)
        self.min_distance = math.inf                      # closest pair seen, Å

    def add(self, batch: Batch, rcut: float, rcut_smth: float) -> None:
        batch = batch.to(dtype=torch.float64, device="cpu")
        nl, rij, r = _pair_vectors(batch, rcut)
        keep = r < rcut
        self.min_distance = min(self.min_distance, closest_pair(r, rcut))
        rows = environment_rows(rij[keep], rcut_smth, rcut).numpy()
        i = nl.i[keep].numpy()
        ti = batch.species.numpy()[i]
        tj = batch.species.numpy()[nl.j[keep].numpy()]
        nt = self.ntypes
        pair = ti * nt + tj
        for target, values in ((self.sum_r, rows[:, 0]), (self.sum_r2, rows[:, 0] ** 2),
                               (self.sum_a, rows[:, 1:].sum(1)), (self.sum_a2, (rows[:, 1:] ** 2).sum(1))):
            target += np.bincount(pair, weights=values, minlength=nt * nt).reshape(nt, nt)
        self.n_centres += np.bincount(batch.species.numpy(), minlength=nt)
        counts = np.zeros((batch.n_atoms, nt), dtype=np.int64)
        np.add.at(counts, (i, tj), 1)
        self.max_neighbors = np.maximum(self.max_neighbors, counts.max(axis=0, initial=0))

    def mean_std(self, sel: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """davg, dstd of shape (ntypes, ntypes, 4) for neighbour slots ``sel``: per centre species,
        pooled over all neighbour species' slots, so constant along the neighbour axis."""
        nt = self.ntypes
        davg = np.zeros((nt, nt, 4))
        dstd = np.ones((nt, nt, 4))
        for a in range(nt):
            slots = self.n_centres[a] * sum(sel)
            if slots <= 0 or self.sum_r2[a].sum() == 0:
                continue
            mean_r = self.sum_r[a].sum() / slots
            std_r = math.sqrt(max(self.sum_r2[a].sum() / slots - mean_r**2, 0.0))
            mean_a = self.sum_a[a].sum() / (3 * slots)
            std_a = math.sqrt(max(self.sum_a2[a].sum() / (3 * slots) - mean_a**2, 0.0))
            davg[a, :, 0] = mean_r
            dstd[a, :, 0] = max(std_r, PROTECTION)
            dstd[a, :, 1:] = max(std_a, PROTECTION)
        return davg, dstd

    def auto_sel(self, ratio: float = 1.1) -> list[int]:
        return [max(4, int(math.ceil(n * ratio / 4.0)) * 4) for n in self.max_neighbors.tolist()]


def environment_sums(frames: Iterable[Atoms], type_map: Sequence[str], rcut: float, rcut_smth: float,
                     chunk: int = 64) -> EnvironmentSums:
    """Accumulate :class:`EnvironmentSums` over ``frames``, ``chunk`` frames per neighbour-list call."""
    sums = EnvironmentSums(len(type_map))
    for batch in _batches(frames, type_map, chunk):
        sums.add(batch, rcut, rcut_smth)
    return sums


def energy_bias(frames: Sequence[Atoms], type_map: Sequence[str],
                energies: Sequence[float] | None = None) -> np.ndarray:
    """Least-squares atomic energy per species (eV) from total energies and compositions."""
    index = {s: k for k, s in enumerate(type_map)}
    counts = np.zeros((len(frames), len(type_map)))
    for f, atoms in enumerate(frames):
        for symbol in atoms.get_chemical_symbols():
            counts[f, index[symbol]] += 1
    if energies is None:
        energies = [atoms.get_potential_energy() for atoms in frames]
    bias, *_ = np.linalg.lstsq(counts, np.asarray(energies, dtype=np.float64), rcond=None)
    return bias


def min_neighbor_distance(frames: Iterable[Atoms], type_map: Sequence[str], rcut: float,
                          chunk: int = 64) -> float | None:
    """The shortest interatomic distance (Å) within ``rcut`` over ``frames`` (periodic images
    included), None when no pair is that close: :attr:`EnvironmentSums.min_distance` without the
    sums (DeePMD-kit's ``min_nbor_dist``, which sets the range of a compressed model's tables)."""
    best = min((closest_pair(_pair_vectors(batch, rcut)[2], rcut)
                for batch in _batches(frames, type_map, chunk)), default=math.inf)
    return None if math.isinf(best) else best
