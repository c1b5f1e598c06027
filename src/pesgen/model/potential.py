"""What a single Deep Potential and an ensemble share: the stacked module, statistics, saving."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms

from pesgen.model.batch import Batch
from pesgen.model.contract import split_frames
from pesgen.model.fileformat import save_potential
from pesgen.model.neighbors import Neighbors
from pesgen.model.stacked_model import DTYPES, StackedDeepPot
from pesgen.model.stats import energy_bias, environment_sums
from pesgen.model.tabulate import DEFAULT_MIN_DISTANCE, Compression, EmbeddingTables

FramesLike = Batch | Atoms | Sequence[Atoms]


class StackedPotential:
    """Base of :class:`~pesgen.model.deeppot.DeepPot` and :class:`~pesgen.model.ensemble.Ensemble`."""

    kind = "base"

    def __init__(self, module: StackedDeepPot, metadata: dict[str, Any] | None = None) -> None:
        self.module = module
        self.metadata: dict[str, Any] = dict(metadata or {})
        #: the tabulated embedding nets of a compressed model (:meth:`compress`), else None
        self.tables: EmbeddingTables | None = None

    @classmethod
    def from_module(cls, module: StackedDeepPot, metadata: dict | None = None):
        """A potential around an existing stacked module (no copy)."""
        potential = cls.__new__(cls)
        StackedPotential.__init__(potential, module, metadata)
        return potential

    # ---- properties ------------------------------------------------------------------------
    @property
    def type_map(self) -> list[str]:
        return list(self.module.type_map)

    @property
    def rcut(self) -> float:
        return self.module.rcut

    @property
    def hyperparameters(self) -> dict[str, Any]:
        return self.module.hyper.to_dict()

    @property
    def dtype(self) -> torch.dtype:
        return self.module.dtype

    @property
    def device(self) -> torch.device:
        return self.module.device

    @property
    def n_members(self) -> int:
        return self.module.n_members

    def to(self, dtype: torch.dtype | str | None = None, device: str | torch.device | None = None):
        """Move (in place) to another float precision and/or device; returns self."""
        if isinstance(dtype, str):
            dtype = DTYPES[dtype]
        if dtype is not None:
            self.module.to(dtype=dtype)
            self.module.hyper.precision = {v: k for k, v in DTYPES.items()}[dtype]
        if device is not None:
            self.module.to(device=device)
        if self.tables is not None:
            if dtype is not None and dtype != self.tables.coef.dtype:  # tabulate again from the nets
                self.compress(**self.tables.settings.to_dict())
            else:
                self.tables.to(device=self.device)
        return self

    # ---- compression -------------------------------------------------------------------------
    def compress(self, step: float = 0.01, extrapolate: float = 5.0, min_distance: float | None = None):
        """Tabulate the embedding nets (in place; returns self) for faster inference.

        Each net becomes a piecewise quintic of its input s^ with continuous value, first and
        second derivative (:mod:`pesgen.model.tabulate`): ``step`` is the grid step in s^ up to
        neighbours at ``min_distance`` Å (default: the closest pair of the data the statistics
        came from, ``metadata["min_neighbor_distance"]``, else 1 Å), then a 10x coarser grid
        down to ``min_distance / extrapolate``, then a second-order Taylor continuation.
        Evaluation, MD and the ASE calculator use the tables; training uses the exact nets.
        """
        if min_distance is None:
            min_distance = float(self.metadata.get("min_neighbor_distance", DEFAULT_MIN_DISTANCE))
        settings = Compression(step=float(step), extrapolate=float(extrapolate), min_distance=float(min_distance))
        self.tables = EmbeddingTables.build(self.module.descriptor, settings)
        return self

    def decompress(self):
        """Back to the exact embedding nets (in place; returns self)."""
        self.tables = None
        return self

    @property
    def compression(self) -> Compression | None:
        """The compression settings, or None for the exact model."""
        return None if self.tables is None else self.tables.settings

    # ---- evaluation ------------------------------------------------------------------------
    def make_batch(self, frames: FramesLike) -> Batch:
        if isinstance(frames, Batch):
            return frames.to(dtype=self.dtype, device=self.device)
        return Batch.from_atoms(frames, self.type_map, dtype=self.dtype, device=self.device)

    def evaluate_members(self, frames: FramesLike, neighbors: Neighbors | None = None, *,
                         create_graph: bool = False) -> tuple[Batch, dict[str, torch.Tensor]]:
        batch = self.make_batch(frames)
        tables = None if create_graph else self.tables
        return batch, self.module(batch, neighbors, create_graph=create_graph, tables=tables)

    def evaluate_frames(self, frames: FramesLike, neighbors: Neighbors | None = None, **kwargs) -> list[dict]:
        """:meth:`evaluate`, one dict per frame (numpy arrays; floats for per-frame scalars such as
        ``energy`` and ``max_devi_f``): ``[r["energy"] for r in ens.evaluate_frames(frames)]``.
        ``kwargs`` go to :meth:`evaluate` (an Ensemble's ``relative``)."""
        batch = self.make_batch(frames)
        return split_frames(self.evaluate(batch, neighbors, **kwargs), batch.natoms.tolist())

    def descriptors(self, frames: FramesLike, neighbors: Neighbors | None = None) -> torch.Tensor:
        """Per-atom descriptors (n_members, n_atoms, M1*M2) of each member."""
        return self.module.descriptors(self.make_batch(frames), neighbors)

    # ---- statistics ------------------------------------------------------------------------
    def compute_statistics(self, frames: Sequence[Atoms], energies: Sequence[float] | None = None,
                           *, auto_sel: bool = False, sel_ratio: float = 1.1,
                           environment: bool = True, bias: bool = True) -> None:
        """Set the normalisation (davg, dstd) and the energy bias of every member from ``frames``.

        ``frames`` must carry energies (a calculator or SinglePointCalculator) unless ``energies``
        is given. With ``auto_sel`` the neighbour slots are first set from the data. The closest
        pair seen (Å) goes to ``metadata["min_neighbor_distance"]`` (the range of :meth:`compress`).
        """
        frames = list(frames)
        if not frames:
            raise ValueError("compute_statistics needs at least one frame")
        hyper = self.module.hyper
        desc = self.module.descriptor
        if environment:
            sums = environment_sums(frames, hyper.type_map, hyper.rcut, hyper.rcut_smth)
            if auto_sel:
                self.module.set_sel(sums.auto_sel(sel_ratio))
            davg, dstd = sums.mean_std(hyper.sel)
            if math.isfinite(sums.min_distance):
                self.metadata["min_neighbor_distance"] = sums.min_distance
            desc.davg.copy_(torch.as_tensor(davg, dtype=self.dtype).expand_as(desc.davg))
            desc.dstd.copy_(torch.as_tensor(dstd, dtype=self.dtype).expand_as(desc.dstd))
        if bias:
            values = energy_bias(frames, hyper.type_map, energies)
            fit = self.module.fitting.bias_atom_e
            fit.copy_(torch.as_tensor(values, dtype=self.dtype).expand_as(fit))
        if environment and self.tables is not None:  # the tables follow the new normalisation
            self.compress(**self.tables.settings.to_dict())

    def adjust_energy_bias(self, frames: Sequence[Atoms], energies: Sequence[float] | None = None,
                           chunk: int = 64) -> np.ndarray:
        """Shift each member's per-species bias by the least-squares fit of its own residual
        E_label - E_model to composition (DeePMD-kit's "change-by-statistic"), so that every member
        starts with zero mean energy error per species. Returns the shifts (n_members, ntypes), eV."""
        frames = list(frames)
        if energies is None:
            energies = [atoms.get_potential_energy() for atoms in frames]
        predicted = []
        with torch.no_grad():
            for start in range(0, len(frames), chunk):
                batch = self.make_batch(frames[start:start + chunk])
                predicted.append(self.module(batch, need_forces=False)["energy"].cpu().double().numpy())
        predicted = np.concatenate(predicted, axis=1)                      # (M, F)
        residual = np.asarray(energies, dtype=np.float64)[None, :] - predicted
        shifts = np.stack([energy_bias(frames, self.type_map, r) for r in residual])
        fit = self.module.fitting.bias_atom_e
        fit.add_(torch.as_tensor(shifts, dtype=fit.dtype, device=fit.device))
        return shifts

    def energy_bias(self) -> np.ndarray:
        """Atomic energy bias per species of each member, (n_members, ntypes), eV."""
        return self.module.fitting.bias_atom_e.detach().cpu().numpy().copy()

    # ---- files -------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the model to one versioned file (see :mod:`pesgen.model.fileformat`)."""
        return save_potential(self, path)

    def n_parameters(self) -> int:
        """Trainable parameters per member."""
        return sum(p.numel() for p in self.module.parameters()) // self.n_members
