"""The integrator contract and the half-steps every ensemble shares.

An integrator is a frozen dataclass of settings with two pure functions over a batched
:class:`~pesgen.explore.md.state.MDState` (the torch-sim style):

* ``init(state, generator) -> state``: sets the kinetic degrees of freedom and the integrator's
  per-walker variables (in ``state.extras``);
* ``step(state, compute, generator) -> state``: one time step; ``compute(state) -> state``
  evaluates the potential (once per step, all walkers together).

Time steps are in fs; the integrators convert them with ``ase.units.fs``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

import torch
from ase import units

from pesgen.explore.md.state import MDState

Compute = Callable[[MDState], MDState]


class Integrator(Protocol):
    """An ensemble's integrator: settings plus ``init``/``step``."""

    timestep: float
    """Time step, fs."""
    needs_pressure: bool
    """Whether walkers need a pressure target (and the potential a virial)."""

    def init(self, state: MDState, generator: torch.Generator | None = None) -> MDState: ...

    def step(self, state: MDState, compute: Compute, generator: torch.Generator | None = None) -> MDState: ...


def internal_time(dt_fs: float) -> float:
    """fs to ASE's internal time unit."""
    return float(dt_fs) * units.fs


def kick(state: MDState, dt: float) -> MDState:
    """Velocities advanced by the forces over ``dt`` (ASE time)."""
    return replace(state, velocities=state.velocities + (dt * state.forces) / state.masses[:, None])


def drift(state: MDState, dt: float) -> MDState:
    """Positions advanced by the velocities over ``dt`` (ASE time)."""
    return replace(state, batch=state.batch.with_positions(state.batch.positions + dt * state.velocities))


def velocity_verlet(state: MDState, compute: Compute, dt: float) -> MDState:
    """One velocity-Verlet step of ``dt`` (ASE time); forces must be current on entry."""
    state = drift(kick(state, 0.5 * dt), dt)
    return kick(compute(state), 0.5 * dt)


def check_timestep(dt_fs: float, name: str) -> None:
    if not dt_fs > 0:
        from pesgen.explore.md.errors import MDInputError

        raise MDInputError(f"{name}: timestep must be > 0 fs, got {dt_fs}")
