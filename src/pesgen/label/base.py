"""The labeler contract: a structure in, a :class:`LabelResult` or a typed failure out."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from ase import Atoms

from pesgen.label.errors import LabelerConfigError
from pesgen.label.result import LabelResult
from pesgen.schema import StrictModel


def settings_digest(settings: dict[str, Any]) -> str:
    """A 16-hex-digit SHA-256 digest of a JSON-serialisable settings dict (key order ignored)."""
    text = json.dumps(settings, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Labeler(ABC):
    """Computes reference energy (eV), forces (eV/Å) and stress (eV/Å^3) of a structure.

    A labeler must be picklable (it travels to worker processes and Dask workers): keep only
    plain settings in its attributes and build heavy objects lazily inside :meth:`label`.

    Subclasses set :attr:`name` and implement :meth:`settings` and :meth:`label`.
    """

    #: Short name stored in each frame's provenance, e.g. ``"emt"``, ``"lammps-meam"``.
    name: str = "labeler"

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Everything that changes the labels (JSON-serialisable); hashed for provenance."""

    def settings_hash(self) -> str:
        """Hash of :meth:`settings` (16 hex digits); frames labeled with equal hashes agree."""
        return settings_digest({"name": self.name, **self.settings()})

    @abstractmethod
    def label(self, atoms: Atoms, workdir: Path | None = None) -> LabelResult:
        """Label one structure.

        Args:
            atoms: the structure (not modified).
            workdir: a directory private to this task where the calculator may write its
                input and output files (kept for audit); ``None`` when none is wanted.

        Returns:
            the :class:`LabelResult`.

        Raises:
            LabelFailure: (a subclass of) when the frame cannot be labeled.
        """

    def check_elements(self, elements: list[str]) -> None:
        """Raise :class:`LabelerConfigError` unless this labeler covers every chemical symbol."""
        supported = getattr(self, "elements", None)
        if missing := [e for e in elements if supported is not None and e not in supported]:
            raise LabelerConfigError(f"the labeler has no types for {missing} (elements {supported})")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, hash={self.settings_hash()})"


class LabelerSettings(StrictModel):
    """Base of the ``[label]`` models (one per kind, beside its labeler): :meth:`build` passes
    every key but ``kind`` to the constructor of :attr:`labeler`."""

    labeler: ClassVar[type[Labeler]]

    def build(self) -> Labeler:
        """The labeler these settings describe."""
        return type(self).labeler(**{k: getattr(self, k) for k in type(self).model_fields if k != "kind"})
