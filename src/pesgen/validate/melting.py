"""Melting point by solid-liquid coexistence, and the enthalpy of fusion.

Protocol (the "interface" or two-phase method; ASE integrators; T in K, times in fs):

1. The solid: a supercell of the element's lattice (conventional cubic fcc/bcc, orthorhombic hcp)
   elongated along z (``supercell`` = nx, ny, nz cells; for hcp z is the c axis) is
   equilibrated at the middle of the bracket ``[t_low, t_high]`` and 1 bar (isotropic Berendsen
   NPT), which sets the lateral (x, y) dimensions of the solid at about that temperature.
2. The coexistence cell: the atoms of the lower half (z < Lz/2) are held fixed while the upper
   half is melted with Langevin dynamics at ``melt_factor`` x T and then cooled to T. Two
   (100) solid-liquid interfaces result.
3. Trials: from that same cell, with fresh Maxwell-Boltzmann velocities at the trial temperature,
   run ``trial_steps`` of Berendsen NPT at 1 bar that scales z only (x, y stay the solid's), and
   fit the slope of the potential energy per atom over the part after the first fifth. Above
   T_m the solid melts and the potential energy rises (latent heat); below, the liquid freezes
   and it falls. Bisection on the sign: after ``bisections`` trials T_m lies in the final
   bracket, reported as its middle ± half its width.
4. Enthalpy of fusion at the estimate: H = E_pot + E_kin + PV per atom of the bulk solid and of the
   bulk liquid, each in Berendsen NPT at T_m and 1 bar; ΔH_f = H_l - H_s in kJ/mol.

Small cells and short trials give a bracket of tens of K; the paper's ±5 K needs thousands of
atoms and long runs (``supercell``, ``trial_steps``, ``bisections``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
from ase.constraints import FixAtoms
from ase.md.langevin import Langevin
from ase.md.nptberendsen import Inhomogeneous_NPTBerendsen, NPTBerendsen
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from pesgen.structures.crystals import crystal_at_volume
from pesgen.validate.side import Side

#: 1 eV per atom in kJ/mol
EV_PER_ATOM_IN_KJ_PER_MOL = units.mol / units.kJ


@dataclass
class MeltingSettings:
    t_low: float = 600.0               # K, bracket: the solid must grow at t_low ...
    t_high: float = 1300.0             # K, ... and melt at t_high
    supercell: tuple[int, int, int] | list[int] = (3, 3, 8)   # conventional cells; z is normal to the interfaces
    timestep: float = 2.0              # fs
    solid_steps: int = 1000
    melt_steps: int = 1000
    trial_steps: int = 2000
    bisections: int = 5
    melt_factor: float = 2.5
    enthalpy_steps: int = 1000
    lattice: str = "fcc"               # the solid: fcc, hcp or bcc
    seed: int = 0


def _npt(atoms: Atoms, temperature: float, timestep: float, z_only: bool = False):
    kw = dict(temperature_K=temperature, pressure_au=1.0 * units.bar, taut=100 * units.fs,
              taup=1000 * units.fs, compressibility_au=1.0 / (50 * units.GPa))
    if z_only:
        return Inhomogeneous_NPTBerendsen(atoms, timestep * units.fs, mask=(0, 0, 1), **kw)
    return NPTBerendsen(atoms, timestep * units.fs, **kw)


def _solid(side: Side, element: str, lattice: str, volume_factor: float) -> Atoms:
    """The conventional (cubic or orthorhombic) cell of ``lattice`` at ``volume_factor`` x its relaxed V0."""
    if lattice not in ("fcc", "hcp", "bcc"):
        raise ValueError(f"melting: the solid must be fcc, hcp or bcc, got {lattice!r}")
    crystal = side.crystal(element, lattice)
    kw = {}
    if lattice == "hcp":
        cell = crystal.cell.cellpar()
        kw["c_over_a"] = float(cell[2] / cell[0])
    return crystal_at_volume(element, lattice, side.volume_per_atom(element, lattice) * volume_factor, cubic=True, **kw)


def coexistence_cell(side: Side, element: str, settings: MeltingSettings) -> Atoms:
    """Half solid, half liquid (interfaces normal to z), at the middle of the bracket."""
    t_mid = 0.5 * (settings.t_low + settings.t_high)
    atoms = _solid(side, element, settings.lattice, 1.03).repeat(settings.supercell)
    atoms.calc = side.calc
    rng = np.random.default_rng(settings.seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=t_mid, rng=rng)
    Stationary(atoms)
    _npt(atoms, t_mid, settings.timestep).run(settings.solid_steps)
    solid = np.flatnonzero(atoms.get_scaled_positions(wrap=True)[:, 2] < 0.5)
    atoms.set_constraint(FixAtoms(indices=solid))
    dt = settings.timestep * units.fs
    Langevin(atoms, dt, temperature_K=settings.melt_factor * t_mid, friction=0.02 / units.fs, rng=rng,
             fixcm=False).run(settings.melt_steps)
    Langevin(atoms, dt, temperature_K=t_mid, friction=0.02 / units.fs, rng=rng,
             fixcm=False).run(settings.melt_steps // 2)
    atoms.set_constraint()
    return atoms


def trial(start: Atoms, side: Side, temperature: float, settings: MeltingSettings, seed: int) -> dict:
    """One coexistence run at ``temperature``: E_pot per atom vs time and its late slope (eV/atom/ps)."""
    atoms = start.copy()
    atoms.calc = side.calc
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=np.random.default_rng(seed))
    Stationary(atoms)
    md = _npt(atoms, temperature, settings.timestep, z_only=True)
    times, energies = [], []
    every = max(1, settings.trial_steps // 100)

    def record() -> None:
        times.append(md.nsteps * settings.timestep)
        energies.append(atoms.get_potential_energy() / len(atoms))

    md.attach(record, interval=every)
    md.run(settings.trial_steps)
    t, e = np.array(times), np.array(energies)
    late = t >= t[-1] / 5
    slope = float(np.polyfit(t[late] / 1000.0, e[late], 1)[0])   # eV/atom per ps
    return {"temperature": float(temperature), "time": t.tolist(), "energy": e.tolist(), "slope": slope,
            "melts": slope > 0}


def _bulk_enthalpy(atoms: Atoms, side: Side, temperature: float, settings: MeltingSettings) -> float:
    """Mean H = E_pot + E_kin + PV per atom (eV) over the second half of an NPT run at 1 bar."""
    atoms.calc = side.calc
    md = _npt(atoms, temperature, settings.timestep)
    values = []

    def record() -> None:
        e = atoms.get_potential_energy() + atoms.get_kinetic_energy() + 1.0 * units.bar * atoms.get_volume()
        values.append(e / len(atoms))

    md.run(settings.enthalpy_steps // 2)
    md.attach(record, interval=10)
    md.run(settings.enthalpy_steps - settings.enthalpy_steps // 2)
    return float(np.mean(values))


def enthalpy_of_fusion(side: Side, element: str, temperature: float, settings: MeltingSettings) -> float:
    """ΔH_f = H_liquid - H_solid at ``temperature`` and 1 bar, kJ/mol (bulk cells, 3 x 3 x 3 conventional)."""
    rng = np.random.default_rng(settings.seed + 1)
    solid = _solid(side, element, settings.lattice, 1.03).repeat(3)
    solid.calc = side.calc
    MaxwellBoltzmannDistribution(solid, temperature_K=temperature, rng=rng)
    Stationary(solid)
    h_s = _bulk_enthalpy(solid, side, temperature, settings)
    liquid = _solid(side, element, settings.lattice, 1.10).repeat(3)
    liquid.calc = side.calc
    MaxwellBoltzmannDistribution(liquid, temperature_K=settings.melt_factor * temperature, rng=rng)
    Stationary(liquid)
    Langevin(liquid, settings.timestep * units.fs, temperature_K=settings.melt_factor * temperature,
             friction=0.02 / units.fs, rng=rng, fixcm=False).run(settings.melt_steps)
    h_l = _bulk_enthalpy(liquid, side, temperature, settings)
    return float((h_l - h_s) * EV_PER_ATOM_IN_KJ_PER_MOL)


def melting_point(side: Side, element: str, settings: MeltingSettings) -> dict:
    """``melting_point`` (K), ``uncertainty`` (K, half the final bracket), ``trials`` (list of
    :func:`trial` results), ``enthalpy_of_fusion`` (kJ/mol) and ``atoms``."""
    start = coexistence_cell(side, element, settings)
    low, high = settings.t_low, settings.t_high
    trials = []
    for k in range(settings.bisections):
        t = 0.5 * (low + high)
        result = trial(start, side, t, settings, seed=settings.seed + 100 + k)
        trials.append(result)
        if result["melts"]:
            high = t
        else:
            low = t
    tm = 0.5 * (low + high)
    return {"melting_point": tm, "uncertainty": 0.5 * (high - low), "trials": trials,
            "enthalpy_of_fusion": enthalpy_of_fusion(side, element, tm, settings), "atoms": len(start)}
