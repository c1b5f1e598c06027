"""Evaluating the potential on a batched state: one call per step for all walkers.

The potential follows :mod:`pesgen.model.contract`: ``"energy"``, ``"forces"`` (for an ensemble,
the mean over members) and ``"virial"`` drive the dynamics; the other per-frame outputs (the
deviations ``max_devi_f`` ... of an ensemble) are kept in ``state.outputs``. With a skin, a Verlet
list is kept in the state and passed in (built with ``rcut + skin``; the model masks longer edges).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from pesgen.explore.md.state import MDState
from pesgen.explore.md.verlet import VerletNeighbors
from pesgen.model.batch import Batch
from pesgen.model.contract import Potential, PotentialContractError, output_problems, require_potential
from pesgen.model.neighbors import Neighbors

# Outputs that are never per-frame records (per-atom or per-member arrays, or the dynamics' inputs).
_NOT_PER_FRAME = {"energy", "forces", "virial", "devi_f", "atom_energy"}


class ForceEvaluator:
    """Calls the potential on a state and stores energy, forces, virial and deviations.

    Args:
        potential: a :class:`~pesgen.model.contract.Potential`.
        skin: Verlet skin, Å (0 disables the cached list: the potential builds its own each call).
        need_virial: raise if the potential returns no virial (constant-pressure runs need it).
        max_atoms_per_call: None (default): one call for all walkers. Else walkers are split into
            consecutive groups of at most this many atoms (a walker is never split), one call per
            group: on a CPU a model whose cost grows faster than linearly with the batch (memory
            bound) can be faster so; on a GPU one call is best.
    """

    def __init__(self, potential: Potential, skin: float = 1.0, need_virial: bool = False,
                 max_atoms_per_call: int | None = None) -> None:
        self.potential = require_potential(potential)
        self.skin = float(skin)
        self.need_virial = need_virial
        self.use_neighbors = self.skin > 0
        if max_atoms_per_call is not None and max_atoms_per_call < 1:
            raise ValueError(f"max_atoms_per_call must be >= 1, got {max_atoms_per_call}")
        self.max_atoms_per_call = max_atoms_per_call
        self.n_calls = 0

    def neighbors(self, state: MDState) -> MDState:
        """The state with an up-to-date Verlet list (stale walkers rebuilt and wrapped)."""
        if not self.use_neighbors:
            return state
        if state.neighbors is None:
            verlet, positions = VerletNeighbors.build(state.batch, float(self.potential.rcut), self.skin)
            return replace(state, neighbors=verlet, batch=state.batch.with_positions(positions))
        stale = state.neighbors.stale_frames(state.batch.positions, state.batch.cell, state.batch.frame)
        if not bool(stale.any()):
            return state
        verlet, positions = state.neighbors.rebuild(state.batch, stale)
        return replace(state, neighbors=verlet, batch=state.batch.with_positions(positions))

    def __call__(self, state: MDState) -> MDState:
        """The state with energy, forces, virial and the other outputs at its positions."""
        state = self.neighbors(state)
        batch = state.batch
        nbrs = state.neighbors.neighbors if self.use_neighbors else None
        if self.max_atoms_per_call is None or state.batch.n_atoms <= self.max_atoms_per_call:
            out = self._evaluate(batch, nbrs)
        else:
            out = self._evaluate_in_groups(batch, nbrs, state.batch.natoms)
        f, n = state.n_walkers, state.batch.n_atoms
        problems = output_problems(out, f, n, self.need_virial)
        if problems:
            raise PotentialContractError(f"{type(self.potential).__name__}.evaluate: " + "; ".join(problems))
        dtype, device = state.batch.dtype, state.batch.device
        energy = out["energy"].detach().to(device=device, dtype=dtype)
        forces = out["forces"].detach().to(device=device, dtype=dtype)
        if "virial" in out:
            virial = out["virial"].detach().to(device=device, dtype=dtype)
        else:
            virial = torch.full((f, 3, 3), float("nan"), dtype=dtype, device=state.batch.device)
        others = {k: v.detach().to(device=device, dtype=dtype) for k, v in out.items()
                  if k not in _NOT_PER_FRAME and not k.endswith("_members") and torch.is_tensor(v) and v.shape == (f,)}
        return replace(state, energy=energy, forces=forces, virial=virial, outputs=others)

    def _evaluate(self, batch: Batch, nbrs: Neighbors | None) -> dict[str, torch.Tensor]:
        self.n_calls += 1
        if nbrs is None:
            return self.potential.evaluate(batch)
        return self.potential.evaluate(batch, neighbors=nbrs)

    def _evaluate_in_groups(self, batch: Batch, nbrs: Neighbors | None,
                            natoms: torch.Tensor) -> dict[str, torch.Tensor]:
        """Evaluate consecutive groups of walkers and stitch per-atom and per-frame outputs."""
        counts = natoms.tolist()
        groups, start, size = [], 0, 0
        for f, n in enumerate(counts):
            if size and size + n > self.max_atoms_per_call:
                groups.append((start, f))
                start, size = f, 0
            size += n
        groups.append((start, len(counts)))
        atom_start = [0, *torch.cumsum(natoms, 0).tolist()]
        walker = torch.arange(batch.n_frames, device=batch.device)
        outs = []
        for f0, f1 in groups:
            keep, a0 = (walker >= f0) & (walker < f1), atom_start[f0]
            sub_nbrs = None
            if nbrs is not None:
                e = keep[batch.frame[nbrs.i]]
                sub_nbrs = Neighbors(nbrs.i[e] - a0, nbrs.j[e] - a0, nbrs.shift[e], nbrs.cutoff)
            outs.append(self._evaluate(batch.select(keep), sub_nbrs))
        n_frames, n_atoms = batch.n_frames, batch.n_atoms
        merged = {}
        for key, first in outs[0].items():
            if not torch.is_tensor(first) or first.dim() == 0:
                continue
            parts = [o[key] for o in outs]
            sizes = [p.shape[0] for p in parts]
            if sum(sizes) in (n_frames, n_atoms) and all(
                sz == f1 - f0 or sz == atom_start[f1] - atom_start[f0]
                for sz, (f0, f1) in zip(sizes, groups, strict=True)
            ):
                merged[key] = torch.cat(parts)
        return merged
