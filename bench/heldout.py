"""What the held-out test sets (``heldout_emt.py``, ``heldout_almg.py``) share: frame generators
driven by the oracle, and the cache.

A held-out set is ``{category: [Atoms with energy (eV), forces (eV/Å), stress (eV/Å^3)], ...}``,
built by the oracle alone (its own MD, strained crystals, rattled structures): no frame comes from
or enters a pesgen run. It is built once per (set, seed, version) and cached as one extxyz file
whose frames carry their category in ``info["category"]``, so that

    pesgen evaluate MODEL bench/.cache/heldout-emt-seed0-v2.extxyz

prints the per-category errors of any model. The cache folder is ``$PESGEN_HELDOUT_CACHE``, else
``bench/.cache``. Bump a set's ``VERSION`` when its frames change.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write
from ase.md.langevin import Langevin
from ase.md.nptberendsen import NPTBerendsen
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

CACHE = Path(os.environ.get("PESGEN_HELDOUT_CACHE", Path(__file__).resolve().parent / ".cache"))

HeldoutSet = dict[str, list[Atoms]]


def category_rng(seed: int, category: str) -> np.random.Generator:
    """An RNG of its own for each category: adding a category leaves the others' frames alone."""
    return np.random.default_rng([seed, zlib.crc32(category.encode())])


def labelled(atoms: Atoms, calc: Calculator) -> Atoms:
    """A bare copy of ``atoms`` with the oracle's energy, forces and (periodic cells) stress."""
    a = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    a.calc = calc
    energy, forces = a.get_potential_energy(), a.get_forces()
    stress = a.get_stress() if a.pbc.all() else None
    a.calc = SinglePointCalculator(a, energy=energy, forces=forces, stress=stress)
    return a


def scaled(atoms: Atoms, volume_factor: float) -> Atoms:
    """A copy with the cell (and atoms) scaled to ``volume_factor`` x the volume."""
    a = atoms.copy()
    a.set_cell(atoms.cell.array * volume_factor ** (1 / 3), scale_atoms=True)
    return a


def rattled(atoms: Atoms, sigma: float, rng: np.random.Generator) -> Atoms:
    """A copy with Gaussian displacements of ``sigma`` Å on every coordinate."""
    a = atoms.copy()
    a.positions += rng.normal(scale=sigma, size=a.positions.shape)
    return a


def md_frames(atoms: Atoms, calc: Calculator, temperature: float, n_frames: int, rng: np.random.Generator, *,
              timestep: float = 1.0, equilibrate: int = 1000, every: int = 50, melt_at: float | None = None,
              melt_steps: int = 0, npt_steps: int = 0) -> tuple[list[Atoms], float]:
    """Langevin MD (friction 0.01/fs, ``timestep`` fs) driven by the oracle; labelled frames every
    ``every`` steps after ``equilibrate`` steps, and the MSD over the sampling (Å^2).

    Liquids: ``melt_steps`` at ``melt_at`` K first, then ``npt_steps`` of Berendsen NPT at 1 bar
    and ``temperature`` K (the volume of the liquid), then the NVT equilibration and sampling.
    """
    atoms = atoms.copy()
    atoms.calc = calc
    dt = timestep * units.fs
    MaxwellBoltzmannDistribution(atoms, temperature_K=melt_at or temperature, rng=rng)
    if melt_steps:
        Langevin(atoms, dt, temperature_K=melt_at, friction=0.01 / units.fs, fixcm=False, rng=rng).run(melt_steps)
    if npt_steps:
        NPTBerendsen(atoms, dt, temperature_K=temperature, pressure_au=1.0 * units.bar, taut=100 * units.fs,
                     taup=500 * units.fs, compressibility_au=1.0 / (50 * units.GPa)).run(npt_steps)
    dyn = Langevin(atoms, dt, temperature_K=temperature, friction=0.01 / units.fs, fixcm=False, rng=rng)
    dyn.run(equilibrate)
    start = atoms.get_positions(wrap=False).copy()
    frames = []
    for _ in range(n_frames):
        dyn.run(every)
        frames.append(labelled(atoms, calc))
    msd = float(np.mean(np.sum((atoms.get_positions(wrap=False) - start) ** 2, axis=1)))
    return frames, msd


def cached_set(name: str, seed: int, version: int, build: Callable[[int], HeldoutSet],
               cache: Path | None = None, kind: str = "heldout") -> tuple[HeldoutSet, Path]:
    """The set ``name`` of ``seed``: read from the cache, else built by ``build(seed)`` and
    written there first (the frames returned are always the ones read back from the file).
    ``kind`` starts the file name: "heldout" for test sets, "pool" for training pools."""
    path = (cache or CACHE) / f"{kind}-{name}-seed{seed}-v{version}.extxyz"
    if not path.is_file():
        frames = []
        for category, group in build(seed).items():
            for atoms in group:
                atoms.info["category"] = category
                frames.append(atoms)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        write(tmp, frames, format="extxyz")
        os.replace(tmp, path)
    out: HeldoutSet = {}
    for atoms in read(path, index=":", format="extxyz"):
        out.setdefault(atoms.info["category"], []).append(atoms)
    return out, path


def load_set(name: str, seed: int, version: int, build: Callable[..., HeldoutSet], verbose: bool = True,
             cache: Path | None = None, kind: str = "heldout") -> HeldoutSet:
    """:func:`cached_set` with ``build(seed, verbose)``, naming the file when ``verbose``."""
    sets, path = cached_set(name, seed, version, lambda s: build(s, verbose), cache, kind)
    if verbose:
        print(f"{kind} set: {path}")
    return sets


def main(name: str, version: int, build: Callable[[int], HeldoutSet], description: str, kind: str = "heldout",
         seed: int = 0) -> None:
    """The command line of a set script: build (or read) it and print its categories."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default: bench/.cache)")
    args = parser.parse_args()
    sets, path = cached_set(name, args.seed, version, build, args.cache, kind)
    print(summary(sets, path))


def summary(sets: HeldoutSet, path: Path) -> str:
    """One line per category: frames and atoms per frame."""
    lines = [f"{path}: {sum(map(len, sets.values()))} frames in {len(sets)} categories"]
    for category, frames in sets.items():
        sizes = sorted({len(a) for a in frames})
        lines.append(f"  {category:28s} {len(frames):3d} frames, {'/'.join(map(str, sizes))} atoms")
    return "\n".join(lines)
