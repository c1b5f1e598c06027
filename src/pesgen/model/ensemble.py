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
        distances = [m.metadata.get("min_neighbor_distance") for m in members]
        if None not in distances:  # the range a compression tabulates (pesgen.model.tabulate)
            self.metadata["min_neighbor_distance"] = min(distances)

    def __len__(self) -> int:
        return self.n_members

    @property
    def members(self) -> list[DeepPot]:
        return [DeepPot.from_module(self.module.member(k)) for k in range(self.n_members)]

    def evaluate(self, frames: FramesLike, neighbors: Neighbors | None = None, *, relative: float | None = None,
                 relative_v: float | None = None) -> dict[str, torch.Tensor]:
        """Members' predictions, their means and the model deviations, for F frames of N atoms in
        all (the frames' atoms one after the other, in order) and M members.

        Args:
            frames: an ``ase.Atoms``, a list of them, or a :class:`~pesgen.model.batch.Batch`.
            neighbors: a neighbour list (None: built here).
            relative: if set (eV/Å), the force deviations become dev / (|<f>| + relative)
                (DeePMD-kit's relative model deviation); ``relative_v`` the same for the virial.

        Returns:
            torch tensors (detached), ensemble means first:

            =================== ============ ========= ==================================
            key                 shape        unit      meaning
            =================== ============ ========= ==================================
            ``energy``          (F,)         eV        mean total energy
            ``forces``          (N, 3)       eV/Å      mean forces
            ``virial``          (F, 3, 3)    eV        mean virial (ASE stress = -W/V)
            ``atom_energy``     (N,)         eV        mean per-atom energies (sum: energy)
            ``energy_members``  (M, F)       eV        each member's energy
            ``forces_members``  (M, N, 3)    eV/Å      each member's forces
            ``virial_members``  (M, F, 3, 3) eV        each member's virial
            ``devi_f``          (N,)         eV/Å      per-atom force deviation
            ``max_devi_f``      (F,)         eV/Å      eq. 1 of the paper: max over atoms
            ``min_devi_f``,     (F,)         eV/Å      min and mean over the frame's atoms
            ``avg_devi_f``
            ``devi_e``          (F,)         eV/atom   std of the members' energy per atom
            ``max_devi_v``, ... (F,)         eV/atom   virial deviation per atom (max, min, avg)
            =================== ============ ========= ==================================

            :meth:`evaluate_frames` gives the same as one dict of numpy arrays per frame.
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
