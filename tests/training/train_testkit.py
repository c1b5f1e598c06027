"""Helpers of the training tests: EMT-labelled Al frames and a small, fast architecture."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

SMALL_MODEL = {"rcut": 5.0, "rcut_smth": 1.0, "neuron": [8, 16, 32], "axis_neuron": 4, "fitting_neuron": [32, 32, 32]}


def emt_al_frames(n: int, seed: int = 0, rattle: float = 0.1, strain: float = 0.03, repeat: int = 2) -> list[Atoms]:
    """n fcc Al cells, uniformly strained by up to ``strain`` and rattled by ``rattle`` Å, labelled by EMT."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(repeat)
        atoms.set_cell(atoms.cell.array * (1 + rng.uniform(-strain, strain)), scale_atoms=True)
        atoms.positions += rng.normal(scale=rattle, size=atoms.positions.shape)
        atoms.calc = EMT()
        atoms.get_potential_energy()
        atoms.get_stress()
        frames.append(atoms)
    return frames
