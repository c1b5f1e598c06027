"""Canonical dynamics with stochastic velocity rescaling (Bussi, Donadio & Parrinello 2007).

Each walker's kinetic energy K is resampled as in the paper's eq. (A7): with ``c = exp(-Δt/τ)``,
``K̄ = dof kB T / 2``, ``R₁`` a standard normal and ``S`` a χ² variable with dof - 1 degrees,
``K' = cK + (1-c)K̄(R₁² + S)/dof + 2R₁ sqrt(c(1-c)K K̄/dof)``; velocities are scaled by
``sqrt(K'/K)``. Half a thermostat step sits on each side of a velocity-Verlet step. Total
momentum is conserved (dof = 3N - 3). ``extras["thermostat_energy"]`` accumulates the energy the
thermostat removed, so ``E_total + thermostat_energy`` is conserved up to integration error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from ase import units

from pesgen.explore.md.errors import MDInputError
from pesgen.explore.md.integrator import Compute, check_timestep, internal_time, velocity_verlet
from pesgen.explore.md.observables import kinetic_energy
from pesgen.explore.md.state import MDState


def chi_squared(dof: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """(F,) χ² variates with ``dof`` (F,) integer degrees of freedom (sum of squared normals)."""
    n = dof.to(torch.int64)
    width = max(int(n.max()), 1)
    g = torch.randn((n.shape[0], width), generator=generator, dtype=dof.dtype, device=dof.device)
    mask = torch.arange(width, device=dof.device)[None, :] < n[:, None]
    return torch.where(mask, g * g, 0.0).sum(-1)


def rescale(state: MDState, dt: float, tau: float, generator: torch.Generator | None) -> MDState:
    """One stochastic-rescaling update over ``dt`` with coupling time ``tau`` (same time unit)."""
    f = state.n_walkers
    kin = kinetic_energy(state.velocities, state.masses, state.batch.frame, f)
    target = 0.5 * state.dof * units.kB * state.temperature
    c = math.exp(-dt / tau) if tau > 0 else 0.0
    r1 = torch.randn(f, generator=generator, dtype=state.batch.dtype, device=state.batch.device)
    s = chi_squared(state.dof - 1.0, generator)
    safe_k = torch.where(kin > 0, kin, torch.ones_like(kin))
    new_k = (
        c * kin
        + (1.0 - c) * target * (r1 * r1 + s) / state.dof
        + 2.0 * r1 * torch.sqrt(c * (1.0 - c) * kin * target / state.dof)
    )
    alpha = torch.sqrt(torch.clamp(new_k, min=0.0) / safe_k)
    alpha = torch.where(kin > 0, alpha, torch.ones_like(alpha))
    removed = state.extras.get("thermostat_energy", torch.zeros_like(kin)) + kin * (1 - alpha * alpha)
    return replace(state, velocities=state.velocities * alpha[state.batch.frame][:, None],
                   extras={**state.extras, "thermostat_energy": removed})


@dataclass(frozen=True)
class Bussi:
    """Velocity-Verlet with stochastic velocity rescaling. ``timestep`` and ``tau`` in fs."""

    timestep: float = 1.0
    tau: float = 100.0
    needs_pressure: bool = False

    def __post_init__(self) -> None:
        check_timestep(self.timestep, "Bussi")
        if not self.tau >= 0:
            raise MDInputError(f"Bussi: tau must be >= 0 fs, got {self.tau}")

    def init(self, state: MDState, generator: torch.Generator | None = None) -> MDState:
        zero = torch.zeros(state.n_walkers, dtype=state.batch.dtype, device=state.batch.device)
        return replace(state, extras={**state.extras, "thermostat_energy": zero})

    def step(self, state: MDState, compute: Compute, generator: torch.Generator | None = None) -> MDState:
        dt = internal_time(self.timestep)
        tau = internal_time(self.tau)
        state = rescale(state, 0.5 * dt, tau, generator)
        state = velocity_verlet(state, compute, dt)
        state = rescale(state, 0.5 * dt, tau, generator)
        return replace(state, step=state.step + 1)
