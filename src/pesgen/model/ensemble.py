"""``Ensemble``: N Deep Potentials of one architecture evaluated together, with model deviations."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pesgen.model.deeppot import DeepPot
from pesgen.model.deviation import deviations
from pesgen.model.neighbors import Neighbors
from pesgen.model.potential import FramesLike, StackedPotential
from pesgen.model.stacked_model import StackedDeepPot


class Ensemble(StackedPotential):
    """An ensemble of DeepPots (same data, different seeds) evaluated in one call.

    The members' weights are stacked (copied) at construction; ``members`` gives copies back.
    """

    kind = "Ensemble"

    def __init__(self, members: Sequence[DeepPot]) -> None:
        members = list(members)
        if not members:
            raise ValueError("an Ensemble needs at least one DeepPot")
        for k, m in enumerate(members):
            if not isinstance(m, StackedPotential):
                raise TypeError(f"member {k} is a {type(m).__name__}, not a DeepPot")
        module = StackedDeepPot.stack([m.module for m in members])
        super().__init__(module, {"seeds": [m.metadata.get("seed") for m in members]})

    def __len__(self) -> int:
        return self.n_members

    @property
    def members(self) -> list[DeepPot]:
        return [DeepPot.from_module(self.module.member(k)) for k in range(self.n_members)]

    def evaluate(self, frames: FramesLike, neighbors: Neighbors | None = None, *, relative: float | None = None,
                 relative_v: float | None = None) -> dict[str, torch.Tensor]:
        """Members' predictions, their means and the model deviations.

        Keys: "energy" (F,), "forces" (N, 3), "virial" (F, 3, 3) — ensemble means;
        "energy_members" (M, F), "forces_members" (M, N, 3), "virial_members" (M, F, 3, 3);
        "devi_f" (N,) per-atom force deviation; "max_devi_f", "min_devi_f", "avg_devi_f" (F,) eV/Å;
        "devi_e" (F,) eV/atom; "max_devi_v", "min_devi_v", "avg_devi_v" (F,) eV/atom.
        ``relative`` (eV/Å) switches the force deviations to dev / (|<f>| + relative).
        """
        batch, out = self.evaluate_members(frames, neighbors)
        e, f, v = out["energy"].detach(), out["forces"].detach(), out["virial"].detach()
        result = {
            "energy": e.mean(0), "forces": f.mean(0), "virial": v.mean(0),
            "atom_energy": out["atom_energy"].detach().mean(0),
            "energy_members": e, "forces_members": f, "virial_members": v,
        }
        result.update(deviations(e, f, v, batch.frame, batch.natoms, relative, relative_v))
        return result

    def __repr__(self) -> str:
        h = self.module.hyper
        return f"Ensemble({self.n_members} x DeepPot(type_map={h.type_map}, rcut={h.rcut}, sel={h.sel}))"
