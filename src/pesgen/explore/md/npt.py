"""Isothermal-isobaric dynamics: stochastic cell rescaling (Bernetti & Bussi, JCP 153, 114107
(2020)) with BAOAB Langevin particles; isotropic or fully flexible (symmetric-strain) cells.

Isotropic: the log-volume ε = ln V of each walker obeys the overdamped Langevin equation
``dε = (β_T V / (V₀ τ_p)) (P_int - P₀ + kB T / V) dt + sqrt(2 kB T β_T / (V₀ τ_p)) dW``
and positions/cell scale by ``μ = exp(Δε/3)``, velocities by ``1/μ``. ``P_int`` is the
instantaneous pressure (kinetic + virial). Using a constant diffusion (``V₀`` = the walker's initial
volume, rather than the current V in the paper) makes the Itô and Stratonovich readings coincide,
and in the continuous-time limit the stationary distribution is exactly ∝ exp(-β(E + P₀V)) in
(x, p, V); the relaxation time of
the volume is ``τ_p V₀ / V`` ≈ ``τ_p``.

Flexible: the symmetric strain increment Δε (3×3) has drift
``(β_T V / (3 V₀ τ_p)) (P_int - P₀ I + kB T / V I) Δt`` and symmetric Gaussian noise of variance
``2 kB T β_T Δt / (3 V₀ τ_p)`` on the diagonal (half that off the diagonal); the cell and positions are
multiplied by ``exp(Δε)`` (rows), velocities by ``exp(-Δε)``. Its trace is the isotropic update,
so the volume is sampled as above; the shape is sampled with a flat measure in the strain (other
flexible-cell conventions differ by O(kB T / V)). No rotation is applied (Δε is symmetric).

Step order: B, barostat, A, O, A, force, B, so every force is used at the positions where it was
computed. Walkers must be periodic in all three directions. ``extras["volume0"]`` holds V₀.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from ase import units

from pesgen.explore.md.errors import MDInputError
from pesgen.explore.md.integrator import Compute, check_timestep, drift, internal_time, kick
from pesgen.explore.md.langevin import ornstein_uhlenbeck
from pesgen.explore.md.observables import from_bar, kinetic_tensor, volume
from pesgen.explore.md.state import MDState


def cell_rescale(state: MDState, dt: float, tau_p: float, compressibility: torch.Tensor, flexible: bool,
                 generator: torch.Generator | None) -> MDState:
    """One stochastic-cell-rescaling update over ``dt`` (ASE time); ``compressibility`` (F,) Å³/eV."""
    f = state.n_walkers
    vol = volume(state.batch.cell)
    v0 = state.extras["volume0"]
    kt = units.kB * state.temperature
    p0 = from_bar(state.pressure)
    ptens = (state.virial + kinetic_tensor(state.velocities, state.masses, state.batch.frame, f)) / vol[:, None, None]
    ptens = 0.5 * (ptens + ptens.transpose(-1, -2))
    rate = compressibility / (v0 * tau_p)
    eye = torch.eye(3, dtype=state.batch.dtype, device=state.batch.device)
    if flexible:
        drive = ptens - (p0 - kt / vol)[:, None, None] * eye
        g = torch.randn((f, 3, 3), generator=generator, dtype=state.batch.dtype, device=state.batch.device)
        noise = 0.5 * (g + g.transpose(-1, -2))
        amp = torch.sqrt(2.0 * kt * rate * dt / 3.0)
        strain = (rate * vol / 3.0 * dt)[:, None, None] * drive + amp[:, None, None] * noise
    else:
        p_int = ptens.diagonal(dim1=-2, dim2=-1).mean(-1)
        xi = torch.randn(f, generator=generator, dtype=state.batch.dtype, device=state.batch.device)
        d_eps = rate * vol * (p_int - p0 + kt / vol) * dt + torch.sqrt(2.0 * kt * rate * dt) * xi
        strain = (d_eps / 3.0)[:, None, None] * eye
    grow = torch.linalg.matrix_exp(strain)
    shrink = torch.linalg.matrix_exp(-strain)
    fr = state.batch.frame
    return replace(
        state,
        batch=state.batch.with_positions(torch.einsum("nk,nkl->nl", state.batch.positions, grow[fr]),
                                         state.batch.cell @ grow),
        velocities=torch.einsum("nk,nkl->nl", state.velocities, shrink[fr]),
    )


@dataclass(frozen=True)
class StochasticCellRescaling:
    """NPT: BAOAB Langevin particles + stochastic cell rescaling.

    Args:
        timestep: fs.
        friction: Langevin γ of the particles, 1/fs.
        tau_p: barostat relaxation time, fs.
        compressibility: β_T, 1/bar (only sets the volume relaxation rate; the sampled
            distribution does not depend on it). 1e-6/bar suits metals (Al: 1.3e-6).
        flexible: False: isotropic; True: fully flexible symmetric-strain cell.
    """

    timestep: float = 1.0
    friction: float = 0.01
    tau_p: float = 1000.0
    compressibility: float = 1e-6
    flexible: bool = False
    needs_pressure: bool = True

    def __post_init__(self) -> None:
        check_timestep(self.timestep, "StochasticCellRescaling")
        if not (self.friction >= 0 and self.tau_p > 0 and self.compressibility > 0):
            raise MDInputError("StochasticCellRescaling: need friction >= 0 1/fs, tau_p > 0 fs, compressibility > 0 "
                               f"1/bar; got {self.friction}, {self.tau_p}, {self.compressibility}")

    def init(self, state: MDState, generator: torch.Generator | None = None) -> MDState:
        not_periodic = ~state.batch.pbc.all(-1)
        if bool(not_periodic.any()):
            raise MDInputError(f"constant pressure needs walkers periodic in 3 directions; walkers "
                               f"{state.walker[not_periodic].tolist()} are not")
        bad = ~torch.isfinite(state.pressure)
        if bool(bad.any()):
            raise MDInputError(f"constant pressure: walkers {state.walker[bad].tolist()} have no pressure target")
        return replace(state, dof=3.0 * state.batch.natoms.to(state.batch.dtype),
                       extras={**state.extras, "volume0": volume(state.batch.cell)})

    def step(self, state: MDState, compute: Compute, generator: torch.Generator | None = None) -> MDState:
        dt = internal_time(self.timestep)
        c1 = math.exp(-self.friction * self.timestep)
        beta = state.batch.positions.new_full((state.n_walkers,), self.compressibility / units.bar)
        state = kick(state, 0.5 * dt)
        state = cell_rescale(state, dt, internal_time(self.tau_p), beta, self.flexible, generator)
        state = drift(state, 0.5 * dt)
        state = drift(ornstein_uhlenbeck(state, c1, generator), 0.5 * dt)
        state = kick(compute(state), 0.5 * dt)
        return replace(state, step=state.step + 1)
