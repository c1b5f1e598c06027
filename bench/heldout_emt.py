"""The held-out test set of the label-efficiency benchmark, labelled by the EMT oracle (pure Al).

What issue 6 names, none of it drawn from pesgen's own exploration:

* MD frames of the oracle itself: ASE Langevin MD with EMT of 32-atom fcc Al at 300, 900 and
  1500 K and at 2000 K (well above EMT Al's melting point, a liquid; the script reports the mean
  square displacement so that one can check), frames taken after 1 ps of equilibration;
* equations of state of fcc, hcp, bcc, sc and diamond Al, volume 0.80-1.25 x the reference;
* vacancies: a 107-atom fcc cell with one vacancy, rattled and from MD at 600 K;
* surfaces: fcc (111), (100) and (110) slabs with 10 Å of vacuum, rattled.

``heldout_set(seed)`` returns ``{category: [Atoms with energy/forces], ...}``.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms, units
from ase.build import bulk, fcc100, fcc110, fcc111
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from pesgen.explore.crystals import crystal

A_FCC = 4.05  # Å, EMT Al is within 0.5 % of this


def emt_labelled(atoms: Atoms) -> Atoms:
    """A bare copy of ``atoms`` with EMT energy, forces and (periodic cells) stress as a single point."""
    a = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    a.calc = EMT()
    energy, forces = a.get_potential_energy(), a.get_forces()
    stress = a.get_stress() if a.pbc.all() else None
    a.calc = SinglePointCalculator(a, energy=energy, forces=forces, stress=stress)
    return a


def _md_frames(atoms: Atoms, temperature: float, n_frames: int, rng: np.random.Generator,
               equilibrate: int = 1000, every: int = 50) -> tuple[list[Atoms], float]:
    """Langevin MD (1 fs, friction 0.01/fs) with EMT; returns frames and the MSD over the sampling, Å^2."""
    atoms = atoms.copy()
    atoms.calc = EMT()
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    dyn = Langevin(atoms, 1.0 * units.fs, temperature_K=temperature, friction=0.01 / units.fs, fixcm=False,
                   rng=rng)
    dyn.run(equilibrate)
    start = atoms.get_positions(wrap=False).copy()
    frames = []
    for _ in range(n_frames):
        dyn.run(every)
        frames.append(emt_labelled(atoms))
    msd = float(np.mean(np.sum((atoms.get_positions(wrap=False) - start) ** 2, axis=1)))
    return frames, msd


def heldout_set(seed: int = 0, verbose: bool = True) -> dict[str, list[Atoms]]:
    rng = np.random.default_rng(seed)
    out: dict[str, list[Atoms]] = {}
    fcc32 = bulk("Al", "fcc", a=A_FCC, cubic=True).repeat(2)
    for temperature in (300.0, 900.0, 1500.0, 2000.0):
        frames, msd = _md_frames(fcc32, temperature, 20, rng)
        out[f"EMT MD {temperature:.0f} K"] = frames
        if verbose:
            print(f"held-out: EMT MD {temperature:.0f} K, MSD over {20 * 50} fs sampling {msd:.2f} Å^2")
    eos = []
    for lattice in ("fcc", "hcp", "bcc", "sc", "diamond"):
        ref = crystal("Al", lattice, (2, 2, 2) if lattice != "diamond" else (1, 1, 1))
        for v in np.linspace(0.80, 1.25, 8):
            a = ref.copy()
            a.set_cell(ref.cell.array * v ** (1 / 3), scale_atoms=True)
            eos.append(emt_labelled(a))
    out["EOS fcc/hcp/bcc/sc/diamond 0.80-1.25 V"] = eos
    vac = bulk("Al", "fcc", a=A_FCC, cubic=True).repeat(3)
    del vac[0]
    rattled = []
    for _ in range(5):
        a = vac.copy()
        a.positions += rng.normal(scale=0.05, size=a.positions.shape)
        rattled.append(emt_labelled(a))
    frames, _ = _md_frames(vac, 600.0, 5, rng, equilibrate=500)
    out["vacancy (107 atoms)"] = rattled + frames
    surfaces = []
    for build in (fcc111, fcc100, fcc110):
        slab = build("Al", size=(2, 2, 5), a=A_FCC, vacuum=5.0, periodic=True)
        for _ in range(4):
            a = slab.copy()
            a.positions += rng.normal(scale=0.05, size=a.positions.shape)
            surfaces.append(emt_labelled(a))
    out["surfaces (111)/(100)/(110)"] = surfaces
    return out
