"""Relaxations of positions, and of cell and positions, with any ASE calculator.

The cell is relaxed with ASE's ``FrechetCellFilter`` (stress target zero pressure) and, unless
``keep_symmetry`` is off, a ``FixSymmetry`` constraint that keeps the space group of the start
(so bcc, sc or diamond stay what they are even where the potential makes them unstable, and a
tetrahedral interstitial stays tetrahedral). Forces in eV/Å.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.constraints import FixSymmetry
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS, FIRE

from pesgen.validate.errors import RelaxationError


@dataclass
class RelaxSettings:
    """fmax: force (eV/Å) and, with the cell, stress x volume criterion; steps: optimiser steps."""

    fmax: float = 1e-3
    steps: int = 400
    keep_symmetry: bool = True
    symprec: float = 1e-3


def _constrain(atoms: Atoms, settings: RelaxSettings, extra=()) -> None:
    constraints = list(extra)
    if settings.keep_symmetry:
        constraints.append(FixSymmetry(atoms, symprec=settings.symprec))
    atoms.set_constraint(constraints or None)


def relax(atoms: Atoms, calc: Calculator, *, cell: bool, settings: RelaxSettings | None = None,
          name: str = "structure", constraints=()) -> Atoms:
    """Return a relaxed copy of ``atoms`` (positions, and the cell when ``cell``).

    The returned atoms carry ``calc`` and no constraints. Raises :class:`RelaxationError` when the
    energy stops being finite. A relaxation that uses all its steps is kept (its residual force is
    in ``atoms.info["fmax"]``).
    """
    settings = settings or RelaxSettings()
    work = atoms.copy()
    work.calc = calc
    _constrain(work, settings, constraints)
    if len(work) == 1 and not cell:
        work.get_potential_energy()
        work.info["fmax"] = 0.0
        work.set_constraint()
        return work
    target = FrechetCellFilter(work) if cell else work
    opt = BFGS(target, logfile=None, maxstep=0.1) if len(work) < 40 else FIRE(target, logfile=None)
    try:
        opt.run(fmax=settings.fmax, steps=settings.steps)
    except (ValueError, np.linalg.LinAlgError) as err:
        raise RelaxationError(f"relaxation of {name} failed: {err}") from err
    energy = work.get_potential_energy()
    if not np.isfinite(energy):
        raise RelaxationError(f"relaxation of {name}: energy is {energy}")
    forces = target.get_forces()
    work.info["fmax"] = float(np.sqrt((forces**2).sum(axis=1).max())) if len(forces) else 0.0
    work.info["relax_steps"] = int(opt.nsteps)
    work.set_constraint()
    return work

