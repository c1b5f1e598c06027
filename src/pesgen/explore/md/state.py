"""The batched MD state: many walkers of different sizes as flat tensors.

Units: positions Å, cell Å (rows are cell vectors), masses amu, velocities in ASE's internal unit
Å / (Å·sqrt(amu/eV)) (as ``ase.Atoms.get_velocities``; multiply by ``ase.units.fs`` for Å/fs), forces
eV/Å, energies eV, virial eV, temperatures K, pressures bar. Time steps are given in fs and
converted with ``ase.units.fs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from pesgen.explore.md.errors import MDInputError
from pesgen.explore.md.verlet import VerletNeighbors
from pesgen.model.batch import Batch, SpeciesError


@dataclass
class MDState:
    """Walkers advanced together.

    ``batch``: the configuration, one frame per walker slot (positions (N,3) Å, species, cell
    (F,3,3) Å, pbc, frame: see :class:`~pesgen.model.batch.Batch`; N = atoms of all walkers).
    Per atom: ``velocities`` (N,3) ASE units, ``masses`` (N,) amu, ``forces`` (N,3) eV/Å (ensemble
    mean: it drives the dynamics). Per walker (F): ``walker`` (F,) id of the walker in the input
    list (stable when others stop), ``temperature`` (F,) target K, ``pressure`` (F,) target bar
    (NaN without barostat), ``dof`` (F,) kinetic degrees of freedom, ``energy`` (F,) eV,
    ``virial`` (F,3,3) eV, ``outputs`` other (F,) outputs of the potential (deviations),
    ``extras`` per-walker integrator variables (thermostat and barostat), first dimension F.
    ``step`` counts integration steps; ``neighbors`` is the Verlet list (None: the potential
    builds its own list at each call).
    """

    batch: Batch
    velocities: torch.Tensor
    masses: torch.Tensor
    walker: torch.Tensor
    temperature: torch.Tensor
    pressure: torch.Tensor
    dof: torch.Tensor
    forces: torch.Tensor
    energy: torch.Tensor
    virial: torch.Tensor
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    step: int = 0
    neighbors: VerletNeighbors | None = None

    @property
    def n_walkers(self) -> int:
        return self.batch.n_frames

    def select(self, keep: torch.Tensor) -> MDState:
        """The state restricted to the walkers where ``keep`` (F,) is true (atoms renumbered)."""
        atom_keep = keep[self.batch.frame]
        return replace(self, batch=self.batch.select(keep), velocities=self.velocities[atom_keep],
                       masses=self.masses[atom_keep], forces=self.forces[atom_keep], walker=self.walker[keep],
                       temperature=self.temperature[keep], pressure=self.pressure[keep], dof=self.dof[keep],
                       energy=self.energy[keep], virial=self.virial[keep],
                       outputs={k: v[keep] for k, v in self.outputs.items()},
                       extras={k: v[keep] for k, v in self.extras.items()},
                       neighbors=None if self.neighbors is None else self.neighbors.select(keep, self.batch.frame))


def _per_walker(value, n: int, name: str, dtype, device) -> torch.Tensor:
    if value is None:
        return torch.full((n,), float("nan"), dtype=dtype, device=device)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise MDInputError(f"{name}: expected a scalar or {n} values (one per walker), got shape {arr.shape}")
    return torch.tensor(arr, dtype=dtype, device=device)


def maxwell_boltzmann(masses: np.ndarray, temperature: float, seed: Sequence[int] | int) -> np.ndarray:
    """Velocities (n, 3), ASE units, of one walker drawn at ``temperature`` K, zero total momentum,
    rescaled so the instantaneous temperature (3n - 3 dof) equals the target exactly."""
    from ase import units

    rng = np.random.default_rng(seed)
    n = masses.shape[0]
    if temperature <= 0 or n == 0:
        return np.zeros((n, 3))
    v = rng.normal(size=(n, 3)) * np.sqrt(units.kB * temperature / masses)[:, None]
    if n > 1:
        v -= (masses[:, None] * v).sum(0) / masses.sum()
        kin = 0.5 * (masses[:, None] * v * v).sum()
        v *= np.sqrt(0.5 * (3 * n - 3) * units.kB * temperature / kin)
    return v


def init_state(structures: Sequence[Atoms], type_map: Sequence[str], temperature, pressure=None,
               velocities: str = "maxwell", seed: int = 0, dtype: torch.dtype = torch.float32,
               device: str | torch.device = "cpu") -> MDState:
    """A state from ASE structures, one walker each.

    Args:
        structures: the walkers' initial structures (any sizes, cells and periodicities).
        type_map: the potential's element list.
        temperature: target temperature, K: a scalar or one per walker; also the temperature of
            the initial Maxwell-Boltzmann velocities.
        pressure: target pressure, bar (scalar or one per walker), or None (no barostat).
        velocities: ``"maxwell"`` draws them per walker from ``seed`` and the walker's index
            (so a walker starts the same whatever it is batched with), ``"atoms"`` takes
            ``atoms.get_velocities()``, ``"zero"`` starts at rest.
        seed: random seed of the initial velocities.
    """
    if len(structures) == 0:
        raise MDInputError("init_state: no structures given")
    if velocities not in ("maxwell", "atoms", "zero"):
        raise MDInputError(f"velocities must be 'maxwell', 'atoms' or 'zero', got {velocities!r}")
    for k, atoms in enumerate(structures):
        if len(atoms) == 0:
            raise MDInputError(f"structure {k} ({atoms.info.get('system', '')}) has no atoms")
        if atoms.pbc.any() and abs(atoms.cell.volume) < 1e-9 and atoms.pbc.all():
            raise MDInputError(f"structure {k} is periodic but its cell has zero volume")
    try:
        batch = Batch.from_atoms(list(structures), type_map, dtype=dtype, device=device)
    except SpeciesError as err:
        raise MDInputError(str(err)) from err
    n = len(structures)
    temps = _per_walker(temperature, n, "temperature", dtype, device)
    if bool((temps < 0).any()) or not bool(torch.isfinite(temps).all()):
        raise MDInputError(f"temperature targets must be finite and >= 0 K, got {temps.tolist()}")
    press = _per_walker(pressure, n, "pressure", dtype, device)
    vel, mass = [], []
    for k, atoms in enumerate(structures):
        m = np.array([atomic_masses[atomic_numbers[s]] for s in atoms.get_chemical_symbols()])
        if atoms.has("masses"):
            m = atoms.get_masses()
        mass.append(m)
        if velocities == "maxwell":
            vel.append(maxwell_boltzmann(m, float(temps[k]), [seed, k]))
        elif velocities == "atoms":
            vel.append(np.asarray(atoms.get_velocities(), dtype=np.float64))
        else:
            vel.append(np.zeros((len(atoms), 3)))
    natoms = batch.natoms.to(dtype)
    return MDState(batch=batch, velocities=torch.tensor(np.concatenate(vel), dtype=dtype, device=device),
                   masses=torch.tensor(np.concatenate(mass), dtype=dtype, device=device),
                   walker=torch.arange(n, device=device), temperature=temps, pressure=press,
                   dof=torch.where(natoms > 1, 3.0 * natoms - 3.0, 3.0 * natoms),
                   forces=torch.zeros_like(batch.positions), energy=torch.zeros(n, dtype=dtype, device=device),
                   virial=torch.zeros(n, 3, 3, dtype=dtype, device=device))
