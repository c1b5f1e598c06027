"""Canonical dynamics with a Nosé-Hoover chain (Martyna, Klein & Tuckerman 1992), deterministic.

Each walker has its own chain of length M with masses ``Q₁ = dof kB T τ²``, ``Q_k = kB T τ²``.
The chain is propagated for half a step (Suzuki-Yoshida factorisation: ``n_sy`` = 3 weights,
fourth order, or 1) on each side of a velocity-Verlet step (Martyna et al., Mol. Phys. 87, 1117 (1996)).
``extras``: ``nhc_x`` (F, M) chain positions, ``nhc_v`` (F, M) chain velocities (1/ASE time),
``nhc_q`` (F, M) masses (eV·ASE time²). The conserved quantity is
``E + sum Q v²/2 + dof kT x₁ + kT sum_{k>1} x_k`` (see :func:`nhc_energy`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from ase import units

from pesgen.explore.md.errors import MDInputError
from pesgen.explore.md.integrator import Compute, check_timestep, internal_time, velocity_verlet
from pesgen.explore.md.observables import kinetic_energy
from pesgen.explore.md.state import MDState

_SY_WEIGHTS = {
    1: (1.0,),
    3: (1.0 / (2.0 - 2.0 ** (1.0 / 3.0)), 1.0 - 2.0 / (2.0 - 2.0 ** (1.0 / 3.0)), 1.0 / (2.0 - 2.0 ** (1.0 / 3.0))),
}


def nhc_energy(state: MDState) -> torch.Tensor:
    """(F,) energy stored in the chains, eV (add to kinetic + potential for the conserved quantity)."""
    x, v, q = state.extras["nhc_x"], state.extras["nhc_v"], state.extras["nhc_q"]
    kt = units.kB * state.temperature
    return 0.5 * (q * v * v).sum(-1) + state.dof * kt * x[:, 0] + kt * x[:, 1:].sum(-1)


def chain_half_step(state: MDState, dt: float, n_sy: int) -> MDState:
    """Propagate every walker's chain and scale its velocities over ``dt`` (ASE time)."""
    x, v, q = state.extras["nhc_x"].clone(), state.extras["nhc_v"].clone(), state.extras["nhc_q"]
    m = v.shape[1]
    kt = units.kB * state.temperature
    kin2 = 2.0 * kinetic_energy(state.velocities, state.masses, state.batch.frame, state.n_walkers)
    scale = torch.ones_like(kin2)
    for w in _SY_WEIGHTS[n_sy]:
        d = w * dt
        g = [None] * m
        g[0] = (kin2 - state.dof * kt) / q[:, 0]
        for k in range(1, m):
            g[k] = (q[:, k - 1] * v[:, k - 1] ** 2 - kt) / q[:, k]
        v[:, m - 1] = v[:, m - 1] + 0.5 * d * g[m - 1]
        for k in range(m - 2, -1, -1):
            e = torch.exp(-0.25 * d * v[:, k + 1])
            v[:, k] = (v[:, k] * e + 0.5 * d * g[k]) * e
        s = torch.exp(-d * v[:, 0])
        scale = scale * s
        kin2 = kin2 * s * s
        x = x + d * v
        g[0] = (kin2 - state.dof * kt) / q[:, 0]
        for k in range(m - 1):
            e = torch.exp(-0.25 * d * v[:, k + 1])
            v[:, k] = (v[:, k] * e + 0.5 * d * g[k]) * e
            g[k + 1] = (q[:, k] * v[:, k] ** 2 - kt) / q[:, k + 1]
        v[:, m - 1] = v[:, m - 1] + 0.5 * d * g[m - 1]
    return replace(state, velocities=state.velocities * scale[state.batch.frame][:, None],
                   extras={**state.extras, "nhc_x": x, "nhc_v": v})


@dataclass(frozen=True)
class NoseHooverChain:
    """Velocity Verlet inside Nosé-Hoover chain half-steps. ``timestep``, ``tau`` in fs."""

    timestep: float = 1.0
    tau: float = 100.0
    chain: int = 3
    n_sy: int = 3
    needs_pressure: bool = False

    def __post_init__(self) -> None:
        check_timestep(self.timestep, "NoseHooverChain")
        if not self.tau > 0 or self.chain < 1 or self.n_sy not in _SY_WEIGHTS:
            raise MDInputError(f"NoseHooverChain: need tau > 0 fs, chain >= 1, n_sy in {sorted(_SY_WEIGHTS)}; "
                               f"got tau={self.tau}, chain={self.chain}, n_sy={self.n_sy}")

    def init(self, state: MDState, generator: torch.Generator | None = None) -> MDState:
        if bool((state.temperature <= 0).any()):
            bad = state.walker[state.temperature <= 0].tolist()
            raise MDInputError(f"NoseHooverChain: walkers {bad} have a target temperature <= 0 K")
        f, m = state.n_walkers, self.chain
        kt = units.kB * state.temperature
        tau = internal_time(self.tau)
        q = (kt * tau * tau)[:, None].expand(f, m).clone()
        q[:, 0] = q[:, 0] * state.dof
        zero = torch.zeros(f, m, dtype=state.batch.dtype, device=state.batch.device)
        return replace(state, extras={**state.extras, "nhc_x": zero, "nhc_v": zero.clone(), "nhc_q": q})

    def step(self, state: MDState, compute: Compute, generator: torch.Generator | None = None) -> MDState:
        dt = internal_time(self.timestep)
        state = chain_half_step(state, 0.5 * dt, self.n_sy)
        state = velocity_verlet(state, compute, dt)
        state = chain_half_step(state, 0.5 * dt, self.n_sy)
        return replace(state, step=state.step + 1)
