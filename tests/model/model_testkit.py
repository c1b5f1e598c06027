"""Helpers of the model tests: small Al-Cu structures labelled by EMT, and models whose environment
statistics and energy bias come from them (random weights, non-trivial outputs)."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

import pesgen


def alcu_cell(seed: int = 0, repeat: int = 2, rattle: float = 0.08) -> Atoms:
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(repeat)
    rng = np.random.default_rng(seed)
    symbols = np.array(atoms.get_chemical_symbols())
    symbols[rng.choice(len(atoms), size=len(atoms) // 4, replace=False)] = "Cu"
    atoms.set_chemical_symbols(symbols.tolist())
    atoms.positions += rng.normal(scale=rattle, size=atoms.positions.shape)
    return atoms


def emt_frames(n: int = 6) -> list[Atoms]:
    frames = []
    for s in range(n):
        atoms = alcu_cell(seed=s)
        atoms.calc = EMT()
        atoms.get_potential_energy()
        frames.append(atoms)
    return frames


def make_model(frames, seed: int = 0, **hyper) -> pesgen.DeepPot:
    hyper.setdefault("neuron", [8, 16, 32])
    hyper.setdefault("axis_neuron", 4)
    hyper.setdefault("fitting_neuron", [32, 32, 32])
    model = pesgen.DeepPot(type_map=["Al", "Cu"], rcut=5.0, rcut_smth=1.0, seed=seed, **hyper)
    model.compute_statistics(frames, auto_sel=True)
    return model
