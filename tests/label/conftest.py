"""Fixtures for the labeling tests."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk


@pytest.fixture
def al32() -> Atoms:
    """32-atom rattled fcc Al, slightly strained so the stress is not isotropic."""
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 2, 2))
    atoms.set_cell(atoms.cell.array @ np.array([[1.01, 0.01, 0], [0, 0.99, 0], [0, 0, 1.0]]),
                   scale_atoms=True)
    atoms.rattle(0.08, seed=3)
    return atoms
