"""Real labeled frames for the data tests: rattled, strained Al/Cu cells labeled by ASE's EMT."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from pesgen.data.labeled_frame import LabeledFrame
from pesgen.data.provenance import Provenance


def emt_label(atoms: Atoms, with_stress: bool = True) -> tuple[float, np.ndarray, np.ndarray | None]:
    """EMT energy (eV), forces (eV/Å) and stress (eV/Å^3, Voigt) of ``atoms``."""
    atoms = atoms.copy()
    atoms.calc = EMT()
    stress = atoms.get_stress() if with_stress else None
    return atoms.get_potential_energy(), atoms.get_forces(), stress


def emt_frames(n: int, seed: int = 0, iteration: int = 0) -> list[LabeledFrame]:
    """``n`` labeled frames of several sizes and compositions (4- and 8-atom Al/Cu cells, and a
    non-periodic 4-atom cluster without stress every fifth frame), with varied provenance."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        kind = i % 5
        if kind == 4:
            atoms = Atoms("Al3Cu", positions=[[0, 0, 0], [2.6, 0, 0], [0, 2.6, 0], [0, 0, 2.6]],
                          cell=[12.0, 12.0, 12.0], pbc=False)
        else:
            atoms = bulk("Al", "fcc", a=4.05, cubic=True)
            if kind >= 2:
                atoms = atoms.repeat((2, 1, 1))
            if kind in (1, 3):
                atoms.numbers[rng.choice(len(atoms), size=1 + kind // 2, replace=False)] = 29
            strain = np.eye(3) + rng.normal(0.0, 0.02, (3, 3))
            atoms.set_cell(atoms.cell @ strain, scale_atoms=True)
        atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
        energy, forces, stress = emt_label(atoms, with_stress=kind != 4)
        prov = Provenance(iteration=iteration, origin="explored" if i % 2 else "initial",
                          system=f"sys{kind}", temperature=300.0 + 10 * i, pressure=1.0,
                          walker=i, step=100 * i, deviation=0.05 + 0.001 * i, labeler="emt",
                          labeler_hash="abc123", wall_time=0.01 * i, task_id=f"t{seed}-{i}")
        frames.append(LabeledFrame(atoms, energy, forces, stress, prov))
    return frames
