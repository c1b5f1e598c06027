"""Errors of a model on labelled frames, per category (like DeePMD-kit's ``dp test``).

Frames are grouped by an ``info`` key (default ``category``), else by the file they come from.
Per category: energy RMSE and MAE of (E_model - E_label) / n_atoms (meV/atom), force RMSE over
all components and the RMS of the labels' force components (eV/Å), the largest atomic force
error |F_model,i - F_label,i| (eV/Å), and, on frames whose labels have a stress, the virial RMSE
over the 9 components of (W_model - W_label) / n_atoms with W = -stress x volume (meV/atom).

Rows are sorted worst first by ``score``: the larger of force RMSE / force target and energy
RMSE / energy target, where the force target is max(``force_target``, 10 % of the category's
own force RMS) -- the accuracy goal of issue 12 (0.05 eV/Å or 10 % of the force RMS, 5 meV/atom).
A score above 1 misses the goal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from pesgen.data.labeled_frame import labels_of, virial_from_stress
from pesgen.validate.errors import ValidationInputError

FORCE_TARGET = 0.05  # eV/Å
ENERGY_TARGET = 5.0  # meV/atom
RELATIVE_FORCE_TARGET = 0.1  # of the category's force RMS


@dataclass(frozen=True)
class CategoryErrors:
    """Errors of one category; energies and virials in meV/atom, forces in eV/Å."""

    category: str
    n_frames: int
    n_atoms: int
    energy_rmse: float
    energy_mae: float
    force_rmse: float
    force_rms: float
    force_max_error: float
    virial_rmse: float | None
    n_virial_frames: int
    score: float

    def as_dict(self) -> dict:
        return asdict(self)


def read_frames(paths: Sequence[str | Path], key: str = "category") -> dict[str, list[Atoms]]:
    """Labelled frames of ``paths`` (anything ``ase.io.read`` reads) grouped by ``info[key]``,
    else by file name. Raises :class:`ValidationInputError` naming the file that cannot be read
    or holds a frame without energy or forces."""
    from ase.io import read

    groups: dict[str, list[Atoms]] = {}
    for path in map(Path, paths):
        try:
            frames = read(path, index=":")
        except Exception as err:  # ase raises many types on bad input
            raise ValidationInputError(f"{path}: cannot read labelled frames: {err}") from err
        if not frames:
            raise ValidationInputError(f"{path}: no frames")
        for i, atoms in enumerate(frames):
            labels_of(atoms, f"{path}: frame {i}", ValidationInputError)
            groups.setdefault(str(atoms.info.get(key, path.name)), []).append(atoms)
    return groups


def _virial(atoms: Atoms, stress: np.ndarray | None) -> np.ndarray | None:
    """The label's virial (3x3, eV), from its stress or a DeePMD-style ``virial`` info key."""
    if stress is not None:
        return virial_from_stress(stress, atoms.get_volume())
    if "virial" in atoms.info:
        return np.asarray(atoms.info["virial"], dtype=float).reshape(3, 3)
    return None


def category_errors(model, name: str, frames: Sequence[Atoms], batch_size: int = 16,
                    force_target: float = FORCE_TARGET, energy_target: float = ENERGY_TARGET) -> CategoryErrors:
    """The errors of ``model`` (a DeepPot or Ensemble: its mean) on the labelled ``frames``."""
    de, df, dw, f_ref, f_max = [], [], [], [], 0.0
    for start in range(0, len(frames), batch_size):
        part = list(frames[start:start + batch_size])
        out = model.evaluate(part)
        energy = out["energy"].detach().cpu().numpy().astype(float)
        forces = out["forces"].detach().cpu().numpy().astype(float)
        virial = out["virial"].detach().cpu().numpy().astype(float)
        offset = 0
        for k, atoms in enumerate(part):
            n = len(atoms)
            e_label, f_label, stress = labels_of(atoms, name)
            err = forces[offset:offset + n] - f_label
            offset += n
            de.append((energy[k] - e_label) / n)
            df.append(err.ravel())
            f_ref.append(f_label.ravel())
            f_max = max(f_max, float(np.sqrt((err**2).sum(1)).max()))
            w_label = _virial(atoms, stress)
            if w_label is not None:  # the model's virial symmetrised, as its ASE stress is
                dw.append(((0.5 * (virial[k] + virial[k].T) - w_label) / n).ravel())
    de_all, df_all, f_all = np.asarray(de), np.concatenate(df), np.concatenate(f_ref)
    e_rmse = 1000 * float(np.sqrt(np.mean(de_all**2)))
    f_rmse, f_rms = float(np.sqrt(np.mean(df_all**2))), float(np.sqrt(np.mean(f_all**2)))
    f_goal = max(force_target, RELATIVE_FORCE_TARGET * f_rms)
    return CategoryErrors(
        category=name, n_frames=len(frames), n_atoms=int(sum(len(a) for a in frames)),
        energy_rmse=e_rmse, energy_mae=1000 * float(np.mean(np.abs(de_all))),
        force_rmse=f_rmse, force_rms=f_rms, force_max_error=f_max,
        virial_rmse=1000 * float(np.sqrt(np.mean(np.square(dw)))) if dw else None,
        n_virial_frames=len(dw), score=max(f_rmse / f_goal, e_rmse / energy_target))


def evaluate(model, groups: Mapping[str, Sequence[Atoms]], **kwargs) -> list[CategoryErrors]:
    """:func:`category_errors` of every group, worst ``score`` first (keyword arguments go to it)."""
    rows = [category_errors(model, name, frames, **kwargs) for name, frames in groups.items() if frames]
    return sorted(rows, key=lambda row: -row.score)
