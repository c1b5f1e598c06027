"""Labeled frames as training tensors, grouped into systems the way DeePMD-kit groups them.

A system is a set of frames with the same atoms in the same order (same species sequence and
periodicity). DeePMD-kit's batch holds frames of one system; pesgen's model takes frames of any
sizes in one batch, so a batch may also mix systems (:class:`MixedBatchSampler`). Positions
never change, so each frame's neighbour list (cutoff rcut), edge vectors, environment rows and
their Jacobian (:class:`~pesgen.model.env.EdgeEnvironment`) are computed once and reused at
every step.
Virials come from the labels' stress: W = -stress * V (eV), for frames that have a stress.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from pesgen.errors import PesgenError
from pesgen.model.batch import Batch
from pesgen.model.env import EdgeEnvironment, edge_environment
from pesgen.model.neighbors import neighbor_list


class TrainingDataError(PesgenError, ValueError):
    """The labeled frames cannot be trained on; the message names the frame at fault."""


def _name(atoms: Atoms, index: int) -> str:
    row = atoms.info.get("id")
    system = atoms.info.get("system") or atoms.get_chemical_formula()
    return f"frame {index} ({system}{f', store row {row}' if row is not None else ''})"


def frame_labels(atoms: Atoms, index: int) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Energy (eV), forces (eV/Å) and virial (eV, or None) of a labeled frame."""
    if atoms.calc is None:
        raise TrainingDataError(f"{_name(atoms, index)} has no labels (no energy/forces attached)")
    try:
        energy = float(atoms.get_potential_energy())
        forces = np.asarray(atoms.get_forces(), dtype=np.float64)
    except Exception as err:
        raise TrainingDataError(f"{_name(atoms, index)} lacks energy or forces: {err}") from err
    virial = None
    stress = atoms.calc.results.get("stress") if hasattr(atoms.calc, "results") else None
    if stress is not None and atoms.pbc.all():
        stress = np.asarray(stress, dtype=np.float64)
        if stress.shape == (6,):
            xx, yy, zz, yz, xz, xy = stress
            stress = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
        virial = -stress * atoms.get_volume()
    if not (np.isfinite(energy) and np.isfinite(forces).all() and (virial is None or np.isfinite(virial).all())):
        raise TrainingDataError(f"{_name(atoms, index)} has non-finite labels")
    return energy, forces, virial


@dataclass
class System:
    """Frames with identical atoms (species sequence and pbc), as stacked tensors."""

    species: torch.Tensor            # (N,)
    positions: torch.Tensor          # (F, N, 3) Å
    cells: torch.Tensor              # (F, 3, 3) Å
    pbc: torch.Tensor                # (3,)
    energy: torch.Tensor             # (F,) eV
    forces: torch.Tensor             # (F, N, 3) eV/Å
    virial: torch.Tensor             # (F, 3, 3) eV (zeros where absent)
    has_virial: torch.Tensor         # (F,) bool
    environments: list[EdgeEnvironment]  # per frame: edges, environment rows and their Jacobian

    @property
    def n_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def n_atoms(self) -> int:
        return int(self.species.shape[0])

    def environment(self, frames: Sequence[int]) -> tuple[EdgeEnvironment, dict[str, torch.Tensor]]:
        """The cached environments of ``frames`` as one batch, and their labels."""
        idx = torch.as_tensor(list(frames), dtype=torch.int64)
        b, n = len(frames), self.n_atoms
        env = EdgeEnvironment.cat([self.environments[f] for f in frames])
        labels = {"energy": self.energy[idx], "forces": self.forces[idx].reshape(b * n, 3),
                  "virial": self.virial[idx], "has_virial": self.has_virial[idx]}
        return env, labels


def build_systems(frames: Sequence[Atoms], type_map: Sequence[str], rcut: float, rcut_smth: float,
                  dtype: torch.dtype, device: str | torch.device, indices: Sequence[int] | None = None) -> list[System]:
    """Group ``frames`` into :class:`System` objects with precomputed environments (cutoff ``rcut``,
    switching from ``rcut_smth``, Å)."""
    index = {s: k for k, s in enumerate(type_map)}
    groups: dict[tuple, list[int]] = {}
    indices = range(len(frames)) if indices is None else indices
    for f in indices:
        atoms = frames[f]
        unknown = set(atoms.get_chemical_symbols()) - set(index)
        if unknown:
            raise TrainingDataError(f"{_name(atoms, f)} contains {sorted(unknown)}, not in type_map {list(type_map)}")
        key = (tuple(index[s] for s in atoms.get_chemical_symbols()), tuple(bool(p) for p in atoms.pbc))
        groups.setdefault(key, []).append(f)
    systems = []
    for (species, pbc), members in groups.items():
        labels = [frame_labels(frames[f], f) for f in members]
        n = len(species)
        virial = np.zeros((len(members), 3, 3))
        has_virial = np.zeros(len(members), dtype=bool)
        for k, (_, _, v) in enumerate(labels):
            if v is not None:
                virial[k], has_virial[k] = v, True
        pos = np.stack([frames[f].positions for f in members])
        cells = np.stack([frames[f].cell.array for f in members])
        system = System(
            species=torch.tensor(species, dtype=torch.int64),
            positions=torch.tensor(pos, dtype=dtype),
            cells=torch.tensor(cells, dtype=dtype),
            pbc=torch.tensor(pbc),
            energy=torch.tensor([e for e, _, _ in labels], dtype=dtype),
            forces=torch.tensor(np.stack([f_ for _, f_, _ in labels]).reshape(len(members), n, 3), dtype=dtype),
            virial=torch.tensor(virial, dtype=dtype),
            has_virial=torch.tensor(has_virial),
            environments=[],
        )
        for k in range(len(members)):
            one = Batch(system.positions[k], system.species, system.cells[k:k + 1], system.pbc[None],
                        torch.zeros(n, dtype=torch.int64))
            nl = neighbor_list(one, rcut)
            rij = nl.vectors(one.positions, one.cell, one.frame)
            env = edge_environment(one.species, one.frame, 1, nl.i, nl.j, rij, rcut_smth, rcut)
            system.environments.append(env.to(device))
        for name in ("species", "positions", "cells", "pbc", "energy", "forces", "virial", "has_virial"):
            setattr(system, name, getattr(system, name).to(device))
        systems.append(system)
    return systems


class BatchSampler:
    """Draws (system, frames) batches: a system with probability proportional to its frame count
    (DeePMD-kit's prob_sys_size), then the next frames of that system's shuffled order."""

    def __init__(self, systems: Sequence[System], batch_size: int | str, auto_atoms: int,
                 rng: np.random.Generator) -> None:
        self.systems = list(systems)
        self.rng = rng
        sizes = np.array([s.n_frames for s in self.systems], dtype=float)
        self.prob = sizes / sizes.sum()
        self.batch_sizes = [
            min(s.n_frames, max(1, math.ceil(auto_atoms / s.n_atoms)) if batch_size == "auto" else int(batch_size))
            for s in self.systems
        ]
        self.order = [rng.permutation(s.n_frames) for s in self.systems]
        self.cursor = [0] * len(self.systems)

    def draw_system(self) -> int:
        return int(self.rng.choice(len(self.systems), p=self.prob))

    def draw_frames(self, s: int) -> list[int]:
        b = self.batch_sizes[s]
        if self.cursor[s] + b > len(self.order[s]):
            self.order[s] = self.rng.permutation(self.systems[s].n_frames)
            self.cursor[s] = 0
        frames = self.order[s][self.cursor[s]:self.cursor[s] + b].tolist()
        self.cursor[s] += b
        return frames

    def draw(self) -> tuple[int, list[int]]:
        s = self.draw_system()
        return s, self.draw_frames(s)


class MixedBatchSampler:
    """Draws batches that mix systems: the next frames of one shuffled order over all training frames
    (a new order each epoch), until the batch holds ``auto_atoms`` atoms ("auto") or ``batch_size``
    frames. Every frame is seen once per epoch, as often as in :class:`BatchSampler` on average.

    Why: with one system per batch, every step's energy gradient pulls all systems' energies toward
    that one system's offset and the next step pulls them back. On 35 perfect Al crystals of five
    lattices (bench/energy_fit.py, 3000 steps) the worst lattice kept 351 meV/atom of training error
    with per-system batches and 23 with mixed batches of 128 atoms (docs/training.md)."""

    def __init__(self, systems: Sequence[System], batch_size: int | str, auto_atoms: int,
                 rng: np.random.Generator) -> None:
        self.systems = list(systems)
        self.rng = rng
        self.batch_size, self.auto_atoms = batch_size, auto_atoms
        self.frames = [(s, f) for s, system in enumerate(self.systems) for f in range(system.n_frames)]
        self.order = rng.permutation(len(self.frames))
        self.cursor = 0

    def _next(self) -> tuple[int, int]:
        if self.cursor >= len(self.order):
            self.order = self.rng.permutation(len(self.frames))
            self.cursor = 0
        pick = self.frames[int(self.order[self.cursor])]
        self.cursor += 1
        return pick

    def draw(self) -> list[tuple[int, int]]:
        picks: list[tuple[int, int]] = []
        atoms = 0
        limit = len(self.frames)
        while len(picks) < limit:
            s, f = self._next()
            picks.append((s, f))
            atoms += self.systems[s].n_atoms
            if (atoms >= self.auto_atoms) if self.batch_size == "auto" else (len(picks) >= int(self.batch_size)):
                break
        return picks


def mixed_environment(systems: Sequence[System], picks: Sequence[tuple[int, int]]
                      ) -> tuple[EdgeEnvironment, dict[str, torch.Tensor]]:
    """The cached environments and labels of frames ``picks`` ((system, frame) pairs) as one batch."""
    parts = [systems[s].environment([f]) for s, f in picks]
    env = EdgeEnvironment.cat([e for e, _ in parts])
    labels = {key: torch.cat([lab[key] for _, lab in parts]) for key in ("energy", "forces", "virial", "has_virial")}
    return env, labels


def split_frames(n: int, fraction: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Random train/validation split of n frame indices; at least one training frame."""
    if n == 0:
        raise TrainingDataError("no labeled frames to train on")
    n_valid = int(round(fraction * n))
    n_valid = min(n_valid, n - 1)
    perm = rng.permutation(n)
    return sorted(perm[n_valid:].tolist()), sorted(perm[:n_valid].tolist())
