"""Structures shared by the labeling tests (a uniquely named helper module)."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk


def almg_cell(n_mg: int = 6, seed: int = 0, rattle: float = 0.08) -> Atoms:
    """A 32-atom fcc Al cell (a = 4.05 Å) with ``n_mg`` Mg atoms, rattled by ``rattle`` Å."""
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 2, 2))
    rng = np.random.default_rng(seed)
    atoms.symbols[rng.choice(len(atoms), n_mg, replace=False)] = "Mg"
    atoms.rattle(rattle, seed=seed)
    return atoms
