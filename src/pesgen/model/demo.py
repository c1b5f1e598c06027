"""The model demo behind ``pesgen demo``: a 4-member ensemble on EMT aluminium.

It labels a few perturbed fcc Al cells with ASE's EMT, sets the ensemble's statistics from
them, evaluates energies, forces and model deviations on fresh frames, checks forces against a
finite difference, times the evaluation and saves the ensemble. (When the DP-GEN loop exists,
``pesgen demo`` becomes its quick example.)
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT
from rich.console import Console
from rich.table import Table

from pesgen.model.deeppot import DeepPot
from pesgen.model.ensemble import Ensemble
from pesgen.version import __version__


def _frames(n: int, seed: int, rattle: float = 0.1, scale: float = 0.02):
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat(2)
        atoms.set_cell(atoms.cell.array * (1 + rng.uniform(-scale, scale)), scale_atoms=True)
        atoms.positions += rng.normal(scale=rattle, size=atoms.positions.shape)
        atoms.calc = EMT()
        atoms.get_potential_energy()
        frames.append(atoms)
    return frames


def run_demo(out: Path, console: Console) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]pesgen {__version__}[/bold] model demo: a 4-member DeepPot-SE ensemble on EMT Al")
    t0 = time.perf_counter()
    data = _frames(8, seed=0)
    ensemble = Ensemble([DeepPot(type_map=["Al"], rcut=6.0, seed=s) for s in range(4)])
    ensemble.compute_statistics(data, auto_sel=True)
    console.print(f"statistics from {len(data)} EMT frames of 32 atoms, sel = {ensemble.hyperparameters['sel']}, "
                  f"energy bias {ensemble.energy_bias()[0, 0]:.4f} eV/atom ({time.perf_counter() - t0:.1f} s)")

    test = _frames(4, seed=1, rattle=0.2)
    out_ens = ensemble.evaluate(test)
    table = Table(title="untrained ensemble on fresh frames (random weights: deviations are large)")
    for col in ("frame", "E_EMT (eV)", "<E> (eV)", "max devi f (eV/Å)", "avg devi f (eV/Å)", "devi e (eV/atom)"):
        table.add_column(col, justify="right")
    for k, atoms in enumerate(test):
        table.add_row(str(k), f"{atoms.get_potential_energy():.3f}", f"{out_ens['energy'][k].item():.3f}",
                      f"{out_ens['max_devi_f'][k].item():.4f}", f"{out_ens['avg_devi_f'][k].item():.4f}",
                      f"{out_ens['devi_e'][k].item():.5f}")
    console.print(table)

    member = ensemble.members[0]
    atoms = test[0].copy()
    force = member.evaluate(atoms)["forces"][3, 0].item()
    h = 1e-5
    atoms.positions[3, 0] += h
    e_plus = member.evaluate(atoms)["energy"].item()
    atoms.positions[3, 0] -= 2 * h
    e_minus = member.evaluate(atoms)["energy"].item()
    numeric = -(e_plus - e_minus) / (2 * h)
    console.print(f"force check: autograd {force:+.8f} eV/Å, finite difference {numeric:+.8f} eV/Å")

    for n_rep, label in ((2, "32 atoms"), (4, "256 atoms")):
        frame = bulk("Al", "fcc", a=4.05, cubic=True).repeat(n_rep)
        ensemble.evaluate(frame)
        t = time.perf_counter()
        for _ in range(3):
            ensemble.evaluate(frame)
        console.print(f"ensemble of 4 with deviations, {label}: {(time.perf_counter() - t) / 3 * 1e3:.1f} ms per frame")
    path = ensemble.save(out / "ensemble.pt")
    console.print(f"saved the ensemble to [bold]{path}[/bold]; inspect it with `pesgen model info {path}`")
    return path
