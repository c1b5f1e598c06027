"""``DeepPot``: one DeepPot-SE (se_e2_a) model, the public face of a one-member stacked module."""

from __future__ import annotations

from typing import Any

import torch

from pesgen.model.neighbors import Neighbors
from pesgen.model.potential import FramesLike, StackedPotential
from pesgen.model.stacked_model import Hyperparameters, StackedDeepPot


class DeepPot(StackedPotential):
    """A Deep Potential: E = sum_i E_i, forces = -dE/dx, virial from the same graph.

    ``DeepPot(type_map=["Al", "Mg"], rcut=6.0, seed=0)`` builds an untrained model with random
    weights; other hyperparameters (DeePMD-kit's names, see :class:`Hyperparameters`) have
    DeePMD-kit's defaults: rcut_smth 0.5 Å, embedding [25, 50, 100], axis_neuron 16, fitting
    [240, 240, 240], tanh, float64.
    """

    kind = "DeepPot"

    def __init__(self, type_map: list[str], rcut: float = 6.0, seed: int = 0, **hyper: Any) -> None:
        unknown = set(hyper) - set(Hyperparameters.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown DeepPot hyperparameters: {sorted(unknown)}; "
                            f"known: {sorted(Hyperparameters.__dataclass_fields__)}")
        module = StackedDeepPot(Hyperparameters(type_map=type_map, rcut=rcut, **hyper), 1, seed)
        super().__init__(module, {"seed": int(seed)})

    @classmethod
    def from_module(cls, module: StackedDeepPot, metadata: dict | None = None) -> DeepPot:
        if module.n_members != 1:
            raise ValueError(f"a DeepPot holds one member, this module has {module.n_members}")
        return super().from_module(module, metadata)

    def evaluate(self, frames: FramesLike, neighbors: Neighbors | None = None, *, relative: float | None = None,
                 relative_v: float | None = None) -> dict[str, torch.Tensor]:
        """Energy (F,) eV, forces (N, 3) eV/Å, virial (F, 3, 3) eV, atom_energy (N,) eV (see
        :mod:`pesgen.model.contract`). ``relative``, ``relative_v``: an Ensemble's, unused here."""
        _, out = self.evaluate_members(frames, neighbors)
        return {key: value[0].detach() for key, value in out.items()}

    def __repr__(self) -> str:
        h = self.module.hyper
        return (f"DeepPot(type_map={h.type_map}, rcut={h.rcut}, sel={h.sel}, neuron={h.neuron}, "
                f"fitting_neuron={h.fitting_neuron}, precision={h.precision})")
