"""Recorded frames as numpy columns (one row per recorded step and walker) plus the per-atom
arrays to build ``ase.Atoms`` for any row.

The join with a record writer is ``writer.append(chunk.columns, chunk.frames)``: ``columns``
holds only one-dimensional arrays of equal length, ``frames`` is a lazy sequence that builds the
``ase.Atoms`` of a row when it is accessed (``select_frames(mask)`` gives Atoms/None per row).

Columns: ``walker`` (int), ``system`` (str), ``step`` (int), ``time`` (fs), ``temperature_target``,
``temperature`` (K), ``pressure_target``, ``pressure`` (bar; NaN without a cell or a target),
``energy`` (eV, potential energy by the ensemble mean), ``volume`` (Å³), ``natoms``, ``stop_code``
(see :data:`~pesgen.explore.md.stops.STOP_REASONS`; non-zero on the frame where a walker stopped),
and every per-frame output of the potential (``max_devi_f``, ``min_devi_f``, ``avg_devi_f`` eV/Å,
``devi_e`` eV/atom, ``max_devi_v``... eV/atom for an ensemble).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms


@dataclass(frozen=True)
class StopEvent:
    """A walker that stopped: its id, system name, the step, and the reason."""

    walker: int
    system: str
    step: int
    reason: str


@dataclass
class FrameChunk:
    """Recorded frames of some steps.

    Attributes:
        columns: name -> (R,) array, one row per recorded frame.
        numbers: (sum natoms,) atomic numbers of all rows, concatenated.
        positions: (sum natoms, 3) Å. velocities: (sum natoms, 3) Å/fs.
        cells: (R, 3, 3) Å. pbc: (R, 3) bool. offsets: (R + 1,) start of each row's atoms.
        stop_events: walkers that stopped during these steps.
    """

    columns: dict[str, np.ndarray]
    numbers: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    cells: np.ndarray
    pbc: np.ndarray
    offsets: np.ndarray
    stop_events: list[StopEvent] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.cells.shape[0])

    def atoms(self, row: int) -> Atoms:
        """The structure of one row; ``info`` holds the row's column values."""
        sl = slice(int(self.offsets[row]), int(self.offsets[row + 1]))
        from ase import units

        atoms = Atoms(numbers=self.numbers[sl], positions=self.positions[sl], cell=self.cells[row], pbc=self.pbc[row])
        atoms.set_velocities(self.velocities[sl] / units.fs)
        atoms.info.update({k: v[row].item() for k, v in self.columns.items()})
        return atoms

    @property
    def frames(self) -> LazyFrames:
        """All rows as a sequence of ``ase.Atoms``, each built only when it is accessed
        (so ``writer.append(chunk.columns, chunk.frames)`` builds only the frames it keeps)."""
        return LazyFrames(self)

    def select_frames(self, mask: np.ndarray | Sequence[bool]) -> list[Atoms | None]:
        """One entry per row: ``Atoms`` where ``mask`` is true, else None."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self),):
            raise ValueError(f"mask has shape {mask.shape}, expected ({len(self)},)")
        return [self.atoms(r) if m else None for r, m in enumerate(mask)]

    @classmethod
    def concat(cls, chunks: Sequence[FrameChunk]) -> FrameChunk:
        """All rows of ``chunks`` in order (columns missing from a chunk are filled with NaN)."""
        chunks = [c for c in chunks if len(c) or c.stop_events]
        if not chunks:
            return cls.empty()
        keys = list(dict.fromkeys(k for c in chunks for k in c.columns))
        columns = {k: np.concatenate([c.columns[k] if k in c.columns else np.full(len(c), np.nan) for c in chunks])
                   for k in keys}
        sizes = np.concatenate([np.diff(c.offsets) for c in chunks])
        return cls(columns=columns, numbers=np.concatenate([c.numbers for c in chunks]),
                   positions=np.concatenate([c.positions for c in chunks]),
                   velocities=np.concatenate([c.velocities for c in chunks]),
                   cells=np.concatenate([c.cells for c in chunks]), pbc=np.concatenate([c.pbc for c in chunks]),
                   offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                   stop_events=[e for c in chunks for e in c.stop_events])

    @classmethod
    def empty(cls) -> FrameChunk:
        return cls(columns={}, numbers=np.zeros(0, dtype=np.int64), positions=np.zeros((0, 3)),
                   velocities=np.zeros((0, 3)), cells=np.zeros((0, 3, 3)), pbc=np.zeros((0, 3), dtype=bool),
                   offsets=np.zeros(1, dtype=np.int64))

    def walker_rows(self, walker: int) -> np.ndarray:
        """Row indices of one walker, in step order."""
        return np.nonzero(self.columns["walker"] == walker)[0]


class LazyFrames(Sequence):
    """The rows of a :class:`FrameChunk` as ``ase.Atoms``, built on access."""

    def __init__(self, chunk: FrameChunk) -> None:
        self._chunk = chunk

    def __len__(self) -> int:
        return len(self._chunk)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._chunk.atoms(r) for r in range(len(self))[index]]
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"row {index} out of range for {n} rows")
        return self._chunk.atoms(index % n)
