"""Per-walker stop checks: a walker that explodes stops alone, with its reason recorded."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pesgen.explore.md.errors import MDInputError
from pesgen.explore.md.observables import kinetic_energy, per_frame_sum, temperature, volume
from pesgen.explore.md.state import MDState
from pesgen.model.neighbors import neighbor_list

RUNNING = 0
STOP_REASONS = {
    0: "running",
    1: "not_finite",  # NaN or inf in positions, velocities, forces or energy
    2: "too_close",  # two atoms closer than min_distance
    3: "deviation",  # max force deviation above max_devi_f
    4: "cell",  # volume left [min_volume_ratio, max_volume_ratio] × initial, or cell too skewed
    5: "too_hot",  # instantaneous temperature above max_temperature_ratio × target
}
"""Stop codes (the ``stop_code`` column) and their names."""


@dataclass(frozen=True)
class StopCriteria:
    """When a walker stops.

    Attributes:
        min_distance: Å; a pair closer than this stops the walker (must not exceed the potential's
            cutoff). None disables the check.
        max_devi_f: eV/Å; ``max_devi_f`` above this stops the walker (needs an ensemble). None
            disables it.
        min_volume_ratio, max_volume_ratio: bounds of V / V_initial (periodic walkers).
        min_height_ratio: the smallest distance between opposite cell faces over V^(1/3) below this
            means a collapsing (over-sheared) cell.
        max_temperature_ratio: instantaneous T above this × target (for target > 0) stops it.
    """

    min_distance: float | None = 0.5
    max_devi_f: float | None = None
    min_volume_ratio: float = 0.3
    max_volume_ratio: float = 3.0
    min_height_ratio: float = 0.2
    max_temperature_ratio: float | None = 10.0

    def __post_init__(self) -> None:
        if self.min_distance is not None and self.min_distance < 0:
            raise MDInputError(f"StopCriteria.min_distance must be >= 0 Å, got {self.min_distance}")
        if not 0 <= self.min_volume_ratio < 1 < self.max_volume_ratio:
            raise MDInputError("StopCriteria: need 0 <= min_volume_ratio < 1 < max_volume_ratio, got "
                               f"{self.min_volume_ratio}, {self.max_volume_ratio}")


def min_pair_distance(state: MDState, cutoff: float) -> torch.Tensor:
    """(F,) shortest interatomic distance in each walker, Å (inf when no pair within ``cutoff``).

    Uses the state's Verlet list when there is one (valid for distances up to the potential's
    cutoff), else builds a list with ``cutoff``.
    """
    f = state.n_walkers
    if state.neighbors is not None:
        nbrs = state.neighbors.neighbors
    else:
        finite = torch.isfinite(state.batch.positions).all(-1)
        pos = torch.where(finite[:, None], state.batch.positions, 0.0)
        nbrs = neighbor_list(state.batch.with_positions(pos), cutoff)
    out = torch.full((f,), float("inf"), dtype=state.batch.dtype, device=state.batch.device)
    if nbrs.n_edges == 0:
        return out
    dist = nbrs.vectors(state.batch.positions, state.batch.cell, state.batch.frame).norm(dim=-1)
    dist = torch.where(torch.isnan(dist), torch.zeros_like(dist), dist)
    return out.scatter_reduce(0, state.batch.frame[nbrs.i], dist, reduce="amin", include_self=True)


def cell_heights(cell: torch.Tensor) -> torch.Tensor:
    """(F, 3) distances between opposite faces, Å."""
    vol = volume(cell)
    a, b, c = cell[:, 0], cell[:, 1], cell[:, 2]
    areas = torch.stack([torch.linalg.cross(u, v).norm(dim=-1) for u, v in ((b, c), (c, a), (a, b))], -1)
    return vol[:, None] / areas


def check_walkers(state: MDState, criteria: StopCriteria) -> torch.Tensor:
    """(F,) int64 stop code of each walker (0: keeps running); the first failing check wins."""
    f = state.n_walkers
    code = torch.zeros(f, dtype=torch.int64, device=state.batch.device)

    def flag(mask: torch.Tensor, value: int) -> None:
        code.copy_(torch.where((code == RUNNING) & mask, value, code))

    finite = [torch.isfinite(x).all(-1) for x in (state.batch.positions, state.velocities, state.forces)]
    atom_bad = ~(finite[0] & finite[1] & finite[2])
    bad = per_frame_sum(atom_bad.to(state.batch.dtype), state.batch.frame, f) > 0
    bad = bad | ~torch.isfinite(state.energy) | ~torch.isfinite(state.batch.cell).all(-1).all(-1)
    flag(bad, 1)
    if criteria.min_distance is not None and criteria.min_distance > 0:
        flag(min_pair_distance(state, criteria.min_distance) < criteria.min_distance, 2)
    if criteria.max_devi_f is not None and "max_devi_f" in state.outputs:
        flag(state.outputs["max_devi_f"] > criteria.max_devi_f, 3)
    periodic = state.batch.pbc.all(-1)
    if bool(periodic.any()):
        vol = volume(state.batch.cell)
        v0 = state.extras.get("volume0", vol)
        ratio = vol / v0
        heights = cell_heights(state.batch.cell).min(-1).values / vol.clamp(min=1e-30) ** (1.0 / 3.0)
        collapse = (ratio < criteria.min_volume_ratio) | (ratio > criteria.max_volume_ratio)
        collapse = collapse | (heights < criteria.min_height_ratio) | ~torch.isfinite(ratio)
        flag(periodic & collapse, 4)
    if criteria.max_temperature_ratio is not None:
        temp = temperature(kinetic_energy(state.velocities, state.masses, state.batch.frame, f), state.dof)
        hot = (state.temperature > 0) & (temp > criteria.max_temperature_ratio * state.temperature)
        flag(hot, 5)
    return code
