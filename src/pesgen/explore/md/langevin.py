"""Canonical dynamics with a Langevin thermostat in BAOAB form (Leimkuhler & Matthews 2013)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from ase import units

from pesgen.explore.md.errors import MDInputError
from pesgen.explore.md.integrator import Compute, check_timestep, drift, internal_time, kick
from pesgen.explore.md.state import MDState


def ornstein_uhlenbeck(state: MDState, c1: float, generator: torch.Generator | None) -> MDState:
    """Exact O step: v <- c1 v + sqrt((1 - c1²) kB T / m) ξ, T the walker's target."""
    kt = units.kB * state.temperature[state.batch.frame]
    sigma = torch.sqrt((1.0 - c1 * c1) * kt / state.masses)
    noise = torch.randn(state.velocities.shape, generator=generator, dtype=state.batch.dtype, device=state.batch.device)
    return replace(state, velocities=c1 * state.velocities + sigma[:, None] * noise)


@dataclass(frozen=True)
class Langevin:
    """BAOAB Langevin dynamics.

    Args:
        timestep: fs.
        friction: γ, 1/fs (0.01/fs = a 100 fs velocity relaxation time).

    Total momentum is not conserved: dof = 3N.
    """

    timestep: float = 1.0
    friction: float = 0.01
    needs_pressure: bool = False

    def __post_init__(self) -> None:
        check_timestep(self.timestep, "Langevin")
        if not self.friction >= 0:
            raise MDInputError(f"Langevin: friction must be >= 0 1/fs, got {self.friction}")

    def init(self, state: MDState, generator: torch.Generator | None = None) -> MDState:
        return replace(state, dof=3.0 * state.batch.natoms.to(state.batch.dtype))

    def step(self, state: MDState, compute: Compute, generator: torch.Generator | None = None) -> MDState:
        dt = internal_time(self.timestep)
        c1 = math.exp(-self.friction * self.timestep)
        state = drift(kick(state, 0.5 * dt), 0.5 * dt)
        state = drift(ornstein_uhlenbeck(state, c1, generator), 0.5 * dt)
        state = kick(compute(state), 0.5 * dt)
        return replace(state, step=state.step + 1)
