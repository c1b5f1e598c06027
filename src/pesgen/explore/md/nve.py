"""Microcanonical dynamics: velocity Verlet."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from pesgen.explore.md.integrator import Compute, check_timestep, internal_time, velocity_verlet
from pesgen.explore.md.state import MDState


@dataclass(frozen=True)
class NVE:
    """Velocity Verlet. ``timestep`` in fs. Conserves total momentum (dof = 3N - 3)."""

    timestep: float = 1.0
    needs_pressure: bool = False

    def __post_init__(self) -> None:
        check_timestep(self.timestep, "NVE")

    def init(self, state: MDState, generator: torch.Generator | None = None) -> MDState:
        return state

    def step(self, state: MDState, compute: Compute, generator: torch.Generator | None = None) -> MDState:
        state = velocity_verlet(state, compute, internal_time(self.timestep))
        return replace(state, step=state.step + 1)
