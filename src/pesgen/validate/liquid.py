"""Liquid structure and dynamics from MD: radial distribution function g(r) and self-diffusion D.

Protocol (ASE integrators): a cubic fcc supercell is melted with Langevin dynamics at
``melt_factor`` x T, brought to T and zero pressure (1 bar) with the Berendsen barostat, then
sampled at constant volume with Bussi's stochastic velocity rescaling (which leaves the
dynamics, and so D, nearly untouched). D = lim MSD(t) / 6t, fitted over the second half of
the time lags with all time origins; 1 Å^2/fs = 10^4 x 10^-9 m^2/s. Times in fs, T in K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
from ase.geometry.rdf import get_rdf
from ase.md.bussi import Bussi
from ase.md.langevin import Langevin
from ase.md.nptberendsen import NPTBerendsen
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from pesgen.structures.crystals import crystal_at_volume
from pesgen.validate.side import Side

#: Å^2/fs in units of 10^-9 m^2/s
A2_PER_FS_IN_1E9_M2_PER_S = 1e4


@dataclass
class LiquidSettings:
    temperature: float = 1000.0  # K
    supercell: int = 3           # cubic conventional fcc cells per edge
    timestep: float = 2.0        # fs
    melt_steps: int = 500
    equilibration_steps: int = 1000
    production_steps: int = 2000
    sample_every: int = 10
    melt_factor: float = 2.0
    rmax: float = 6.0            # Å, below half the box edge
    nbins: int = 120
    seed: int = 0


def diffusion_coefficient(times: np.ndarray, positions: np.ndarray) -> float:
    """D (10^-9 m^2/s) from unwrapped positions (frames, atoms, 3) Å at ``times`` fs (uniform)."""
    n = len(times)
    lags = np.arange(1, n)
    msd = np.array([np.mean(np.sum((positions[k:] - positions[:-k]) ** 2, axis=-1)) for k in lags])
    dt = times[1] - times[0]
    pick = lags >= n // 2 if n > 4 else lags >= 1
    slope = np.polyfit(lags[pick] * dt, msd[pick], 1)[0]
    return float(slope / 6 * A2_PER_FS_IN_1E9_M2_PER_S)


def unwrap(frames: list[np.ndarray], cell: np.ndarray) -> np.ndarray:
    """Positions made continuous across periodic boundaries (minimum image between samples)."""
    inv = np.linalg.inv(cell)
    out = [frames[0]]
    for current in frames[1:]:
        d = current - frames[len(out) - 1]
        frac = d @ inv
        d -= np.round(frac) @ cell
        out.append(out[-1] + d)
    return np.array(out)


def liquid_properties(side: Side, element: str, settings: LiquidSettings) -> dict:
    """``rdf_r`` (Å), ``rdf`` g(r), ``diffusion`` (10^-9 m^2/s), ``volume`` (Å^3/atom) and
    ``temperature`` (K, production mean) of the liquid at ``settings.temperature``."""
    v0 = side.volume_per_atom(element, "fcc")
    atoms: Atoms = crystal_at_volume(element, "fcc", v0 * 1.05, cubic=True).repeat(settings.supercell)
    atoms.calc = side.calc
    rng = np.random.default_rng(settings.seed)
    t = settings.temperature
    MaxwellBoltzmannDistribution(atoms, temperature_K=settings.melt_factor * t, rng=rng)
    Stationary(atoms)
    dt = settings.timestep * units.fs
    Langevin(atoms, dt, temperature_K=settings.melt_factor * t, friction=0.01 / units.fs,
             rng=rng, fixcm=False).run(settings.melt_steps)
    Langevin(atoms, dt, temperature_K=t, friction=0.01 / units.fs, rng=rng,
             fixcm=False).run(settings.equilibration_steps // 4)
    NPTBerendsen(atoms, dt, temperature_K=t, pressure_au=1.0 * units.bar, taut=100 * units.fs,
                 taup=500 * units.fs, compressibility_au=1.0 / (50 * units.GPa)).run(settings.equilibration_steps)
    frames, temps, snapshots = [], [], []
    md = Bussi(atoms, dt, temperature_K=t, taut=100 * units.fs, rng=rng)

    def record() -> None:
        frames.append(atoms.positions.copy())
        temps.append(atoms.get_temperature())
        snapshots.append(atoms.copy())

    md.attach(record, interval=settings.sample_every)
    md.run(settings.production_steps)
    cell = atoms.cell.array
    positions = unwrap(frames, cell)
    times = np.arange(len(frames)) * settings.sample_every * settings.timestep
    rmax = min(settings.rmax, 0.499 * float(min(atoms.cell.lengths())))
    g = np.zeros(settings.nbins)
    r = None
    for snap in snapshots:
        snap.wrap()
        gi, r = get_rdf(snap, rmax, settings.nbins)
        g += gi
    return {"rdf_r": np.asarray(r).tolist(), "rdf": (g / len(snapshots)).tolist(),
            "diffusion": diffusion_coefficient(times, positions),
            "volume": float(atoms.get_volume() / len(atoms)), "temperature": float(np.mean(temps)),
            "atoms": len(atoms)}
