"""The outcome of one label: :class:`LabelResult` and its physical sanity checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pesgen.label.errors import InvalidResult

#: Default bound on any force component magnitude, eV/Å. Real forces in explored frames stay
#: far below this; larger ones mean overlapping atoms or a broken calculation.
DEFAULT_MAX_FORCE = 100.0


@dataclass
class LabelResult:
    """Reference energy, forces and stress of one structure.

    Attributes:
        energy: total (force-consistent, i.e. free) energy in eV.
        forces: (N, 3) forces in eV/Å.
        stress: (6,) Voigt stress ``xx yy zz yz xz xy`` in eV/Å^3 with ASE's sign convention
            (positive = tensile, ``stress = -pressure``), or ``None`` when not computed.
        wall_time: seconds spent in the calculator.
    """

    energy: float
    forces: np.ndarray
    stress: np.ndarray | None = None
    wall_time: float = 0.0

    def to_dict(self) -> dict:
        """A JSON-ready dict (lists of floats)."""
        return {"energy": float(self.energy), "forces": np.asarray(self.forces, dtype=float).tolist(),
                "stress": None if self.stress is None else np.asarray(self.stress, float).tolist(),
                "wall_time": float(self.wall_time)}

    @classmethod
    def from_dict(cls, data: dict) -> LabelResult:
        """Inverse of :meth:`to_dict`."""
        stress = data.get("stress")
        return cls(energy=float(data["energy"]), forces=np.asarray(data["forces"], dtype=float),
                   stress=None if stress is None else np.asarray(stress, dtype=float),
                   wall_time=float(data.get("wall_time", 0.0)))


def voigt_stress(stress: np.ndarray) -> np.ndarray:
    """Return a (6,) Voigt stress from a (6,) or (3, 3) array (ASE order xx yy zz yz xz xy)."""
    s = np.asarray(stress, dtype=float)
    if s.shape == (6,):
        return s.copy()
    if s.shape == (3, 3):
        return np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
    raise InvalidResult(f"stress has shape {s.shape}, expected (6,) or (3, 3)")


def check_result(result: LabelResult, n_atoms: int,
                 max_force: float | None = DEFAULT_MAX_FORCE) -> LabelResult:
    """Validate a result; raise :class:`InvalidResult` naming what is wrong.

    Checks: finite energy; forces of shape (n_atoms, 3), all finite, no component above
    ``max_force`` eV/Å in magnitude (``None`` disables that bound); finite (6,) stress if present.
    Returns the result with forces as float64 and stress in Voigt form.
    """
    energy = float(result.energy)
    if not np.isfinite(energy):
        raise InvalidResult(f"energy is not finite ({energy})")
    forces = np.asarray(result.forces, dtype=float)
    if forces.shape != (n_atoms, 3):
        raise InvalidResult(f"forces have shape {forces.shape}, expected ({n_atoms}, 3)")
    if not np.all(np.isfinite(forces)):
        bad = np.unique(np.nonzero(~np.isfinite(forces))[0])
        raise InvalidResult(f"forces are NaN/inf on atoms {bad[:10].tolist()}")
    if max_force is not None and forces.size:
        fmax = float(np.abs(forces).max())
        if fmax > max_force:
            atom = int(np.abs(forces).max(axis=1).argmax())
            raise InvalidResult(
                f"absurd force {fmax:.4g} eV/Å on atom {atom} (bound max_force={max_force} eV/Å)")
    stress = None
    if result.stress is not None:
        stress = voigt_stress(result.stress)
        if not np.all(np.isfinite(stress)):
            raise InvalidResult("stress is NaN/inf")
    return LabelResult(energy=energy, forces=forces, stress=stress, wall_time=result.wall_time)
