"""Which candidates to label first: the pickers of selection, by name in :data:`PICKERS`.

A :class:`Picker` orders one system's candidate rows, most wanted first;
:func:`pesgen.explore.select.select` takes them in that order, skipping frames that a filter
rejects, until the system's label cap is filled: "random" (DP-GEN's choice), "highest" (largest
max_devi_f first) or "diverse" (farthest-point sampling in a per-frame feature space the model
supplies, standardised per dimension over the system's candidates; :func:`frame_features`).

**Default "random"**, by measurement: on one explored pool of EMT Al (fcc and hcp walkers,
300-1500 K), 24 labels picked at random gave a retrained ensemble with held-out force/energy errors
of 0.088 eV/Å / 17 meV/atom, "diverse" 0.090 / 25 and "highest" 0.131 / 46 (3 seeds;
``bench/bench_selection.py``, figures in bench/RESULTS.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import numpy as np

from pesgen.explore.errors import SelectionError


class Picker(Protocol):
    """Orders candidates; ``name`` is the strategy reported, ``notes`` tell the user about it."""

    name: str
    notes: tuple[str, ...]

    def order(self, rows: np.ndarray, f: np.ndarray, rng: np.random.Generator) -> Iterable[int]:
        """Candidate ``rows`` of one system, most wanted first; ``f``: their max_devi_f, eV/Å."""


class RandomPicker:
    """Candidates in random order (DP-GEN's choice)."""

    name = "random"
    notes: tuple[str, ...] = ()

    def order(self, rows: np.ndarray, f: np.ndarray, rng: np.random.Generator) -> Iterable[int]:
        """``rows`` shuffled by one ``rng.permutation``."""
        return rows[rng.permutation(len(rows))].tolist()


class HighestPicker:
    """Candidates by decreasing max force deviation (ties in row order)."""

    name = "highest"
    notes: tuple[str, ...] = ()

    def order(self, rows: np.ndarray, f: np.ndarray, rng: np.random.Generator) -> Iterable[int]:
        """``rows`` sorted by decreasing ``f``."""
        return rows[np.argsort(-f.astype(np.float64), kind="stable")].tolist()


class DiversePicker:
    """Farthest-point order in a feature space, from the highest-deviation candidate.

    Args:
        features: (m, d) per-frame features (e.g. :func:`frame_features`); None: warn and pick
            at random (``name`` "random", a note in ``notes``).
        rows: (m,) record rows of the feature rows; default ``arange(m)``.
    """

    name = "diverse"
    notes: tuple[str, ...] = ()

    def __init__(self, features: np.ndarray | None = None, rows: np.ndarray | None = None) -> None:
        self._table = None
        if features is None:
            self.name, self.notes = "random", ("selection strategy 'diverse' needs per-frame descriptor features, "
                                               "none were given; falling back to 'random'",)
            warnings.warn(self.notes[0], stacklevel=2)
            return
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2:
            raise SelectionError(f"features must be a (n, d) array, got {x.shape}")
        rows = np.arange(len(x)) if rows is None else np.asarray(rows, dtype=int)
        if len(rows) != len(x) or (len(rows) and rows.min() < 0):
            raise SelectionError(f"features has {len(x)} rows; feature_rows needs as many record rows >= 0")
        self._table = np.full((rows.max() + 2 if len(rows) else 1, x.shape[1]), np.nan)  # last row: none
        self._table[rows] = x

    @classmethod
    def of_record(cls, record: Any, f_hi: float, load_ensemble: Callable[[], Any]) -> DiversePicker:
        """Features of the record's stored frames with max_devi_f < ``f_hi`` (eV/Å).

        ``load_ensemble`` returns the model ensemble; it is called only when there are such frames.
        """
        kept = np.asarray(record.kept_rows, dtype=np.int64)
        rows = kept[record.columns["max_devi_f"][kept].astype(np.float64) < f_hi]
        if not len(rows):
            return cls(np.zeros((0, 1)), rows)
        return cls(frame_features(load_ensemble(), record.frames(rows)), rows)

    def order(self, rows: np.ndarray, f: np.ndarray, rng: np.random.Generator) -> Iterable[int]:
        """``rows`` in farthest-point order of their standardised features."""
        if self._table is None:
            return RandomPicker().order(rows, f, rng)
        x = self._table[np.minimum(rows, len(self._table) - 1)]
        missing = np.flatnonzero(np.isnan(x).any(axis=1))
        if len(missing):
            raise SelectionError(f"no features for candidate row(s) "
                                 f"{rows[missing][:10].tolist()}{'...' if len(missing) > 10 else ''}")
        start = int(np.argmax(f))
        return (int(rows[k]) for k in farthest_point_order(_standardise(x), start))


PICKERS: dict[str, Callable[[], Picker]] = {"random": RandomPicker, "highest": HighestPicker,
                                            "diverse": DiversePicker}


def farthest_point_order(features: np.ndarray, start: int) -> Iterator[int]:
    """Yield indices of ``features`` rows in farthest-point order starting at ``start``.

    Each next index maximises the Euclidean distance to the nearest already-yielded row; the
    caller may stop early. Rows yielded and then rejected by a filter still count as visited.
    """
    n = len(features)
    dist = np.full(n, np.inf)
    visited = np.zeros(n, dtype=bool)
    current = start
    for _ in range(n):
        visited[current] = True
        yield current
        d = np.linalg.norm(features - features[current], axis=1)
        dist = np.minimum(dist, d)
        dist[visited] = -np.inf
        if visited.all():
            return
        current = int(np.argmax(dist))


def _standardise(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return (x - x.mean(axis=0)) / std


def frame_features(ensemble: Any, frames: list, chunk: int = 64) -> np.ndarray:
    """(n_frames, D): each frame's descriptor averaged over its atoms (member 0), 64 at a time."""
    out = []
    for start in range(0, len(frames), chunk):
        part = frames[start:start + chunk]
        desc = ensemble.descriptors(part)[0].detach().cpu().numpy()
        bounds = np.concatenate([[0], np.cumsum([len(a) for a in part])])
        out.extend(desc[bounds[k]:bounds[k + 1]].mean(axis=0) for k in range(len(part)))
    return np.asarray(out).reshape(len(frames), -1)
