"""Model deviation of an ensemble (eq. 1 of the DP-GEN paper), as DeePMD-kit computes it.

For M members predicting forces f_i^m:

    eps_f,i = sqrt( < |f_i^m - <f_i>|^2 >_m )                      (eV/Å; population average)

and per frame its max (the paper's indicator), min and mean over atoms. With ``relative`` = eps
(eV/Å), eps_f,i is divided by |<f_i>| + eps. The energy deviation is the standard deviation of
the members' total energies divided by the number of atoms (eV/atom); the virial deviation is the
standard deviation of each of the 9 virial components divided by the number of atoms (eV/atom),
reduced to its max, min and root mean square over components.
"""

from __future__ import annotations

import torch

FRAME_DEVIATIONS = ("max_devi_f", "min_devi_f", "avg_devi_f", "devi_e", "max_devi_v", "min_devi_v", "avg_devi_v")
"""Names of the per-frame deviations returned by :func:`deviations` (and ``Ensemble.evaluate``)."""


def force_deviation(forces: torch.Tensor, relative: float | None = None) -> torch.Tensor:
    """Per-atom force deviation (n_atoms,) from member forces (M, n_atoms, 3)."""
    mean = forces.mean(dim=0)
    dev = (forces - mean).square().sum(-1).mean(0).sqrt()
    if relative is not None:
        dev = dev / (torch.linalg.vector_norm(mean, dim=-1) + relative)
    return dev


def per_frame(values: torch.Tensor, frame: torch.Tensor, n_frames: int) -> dict[str, torch.Tensor]:
    """max, min and mean over the atoms of each frame of per-atom ``values``."""
    out = {}
    for name, reduce in (("max", "amax"), ("min", "amin"), ("avg", "mean")):
        init = values.new_zeros(n_frames)
        out[name] = init.scatter_reduce(0, frame, values, reduce=reduce, include_self=False)
    return out


def deviations(energy: torch.Tensor, forces: torch.Tensor, virial: torch.Tensor, frame: torch.Tensor,
               natoms: torch.Tensor, relative: float | None = None,
               relative_v: float | None = None) -> dict[str, torch.Tensor]:
    """All deviations of member predictions: energy (M, F), forces (M, N, 3), virial (M, F, 3, 3)."""
    n_frames = energy.shape[1]
    dev_f = force_deviation(forces, relative)
    f = per_frame(dev_f, frame, n_frames)
    nat = natoms.to(energy.dtype)
    dev_e = energy.std(dim=0, unbiased=False) / nat
    v = virial.reshape(virial.shape[0], n_frames, 9)
    dev_v = v.std(dim=0, unbiased=False) / nat[:, None]
    if relative_v is not None:
        dev_v = dev_v / (v.mean(0).abs() / nat[:, None] + relative_v)
    return {
        "devi_f": dev_f,
        "max_devi_f": f["max"], "min_devi_f": f["min"], "avg_devi_f": f["avg"],
        "devi_e": dev_e,
        "max_devi_v": dev_v.amax(-1), "min_devi_v": dev_v.amin(-1),
        "avg_devi_v": dev_v.square().mean(-1).sqrt(),
    }
