"""DeePMD-kit's energy loss and the root-mean-square errors reported in learning curves."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Prefactors:
    energy: float
    force: float
    virial: float


def member_losses(pred: dict[str, torch.Tensor], label: dict[str, torch.Tensor], natoms: torch.Tensor,
                  pref: Prefactors) -> torch.Tensor:
    """Loss of each member, (n_members,).

    pred: "energy" (M, F), "forces" (M, N, 3), "virial" (M, F, 3, 3); label: "energy" (F,), "forces" (N, 3),
    "virial" (F, 3, 3) and "has_virial" (F,) bool — or with a leading member axis, one batch per member.
    Energy and virial errors are normalised per atom.
    """
    nat = natoms.to(pred["energy"].dtype)
    loss = pred["energy"].new_zeros(pred["energy"].shape[0])
    if pref.energy:
        de = pred["energy"] - label["energy"]
        loss = loss + pref.energy * (de.square() / nat).mean(-1)
    if pref.force:
        df = pred["forces"] - label["forces"]
        loss = loss + pref.force * df.square().mean(dim=(-1, -2))
    if pref.virial and bool(label["has_virial"].any()):
        mask = label["has_virial"]
        dv = (pred["virial"] - label["virial"])[:, mask].reshape(pred["virial"].shape[0], -1, 9)
        loss = loss + pref.virial * (dv.square().mean(-1) / nat[mask]).mean(-1)
    return loss


def member_rmse(pred: dict[str, torch.Tensor], label: dict[str, torch.Tensor],
                natoms: torch.Tensor) -> dict[str, torch.Tensor]:
    """RMSE per member: energy per atom (eV/atom), force components (eV/Å), virial per atom (eV/atom)."""
    nat = natoms.to(pred["energy"].dtype)
    out = {
        "rmse_e": ((pred["energy"] - label["energy"]) / nat).square().mean(-1).sqrt(),
        "rmse_f": (pred["forces"] - label["forces"]).square().mean(dim=(-1, -2)).sqrt(),
    }
    mask = label["has_virial"]
    if bool(mask.any()):
        dv = (pred["virial"] - label["virial"])[:, mask] / nat[mask][None, :, None, None]
        out["rmse_v"] = dv.square().mean(dim=(-1, -2, -3)).sqrt()
    return out
