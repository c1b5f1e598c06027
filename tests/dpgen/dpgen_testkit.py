"""A scratch tree for DP-GEN's example files: every init_data_sys becomes a DeePMD npy system of
labeled frames and every sys_configs glob gets a POSCAR that matches it, under one root folder
(the files' absolute paths are redirected there with ``--replace /=ROOT/``)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.io import write

from pesgen.data.deepmd_format import write_deepmd_systems

DATA = Path(__file__).resolve().parents[1] / "data" / "dpgen"
EMT_ELEMENTS = {"H", "C", "N", "O", "Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au"}


def structure(elements: list[str]) -> Atoms:
    """A small periodic structure holding every element of ``elements``."""
    if set(elements) == {"H", "C"}:
        atoms = molecule("CH4")
        atoms.set_cell([8.0, 8.0, 8.0])
        atoms.center()
        atoms.pbc = True
        return atoms
    atoms = bulk("Al", "fcc", a=4.05, cubic=True)
    symbols = [elements[k % len(elements)] for k in range(len(atoms))]
    atoms.set_chemical_symbols(symbols)
    return atoms


def labeled(elements: list[str], n: int, seed: int) -> list[Atoms]:
    """``n`` rattled copies labeled by EMT (or Lennard-Jones for elements EMT lacks)."""
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        atoms = structure(elements)
        atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
        atoms.calc = EMT() if set(elements) <= EMT_ELEMENTS else LennardJones(sigma=2.5, rc=6.0)
        e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, stress=s)
        out.append(atoms)
    return out


def literal(pattern: str) -> str:
    """A path that the glob ``pattern`` matches: [..] -> its first character, ? -> 0, * -> ''."""
    pattern = re.sub(r"\[!?([^\]])[^\]]*\]", r"\1", pattern)
    return pattern.replace("?", "0").replace("*", "")


def redirected(path: str, root: Path, base: Path) -> Path:
    return Path(str(root) + path) if os.path.isabs(path) else (base / path)


def scratch_tree(param: dict, root: Path, base: Path, frames: int = 3) -> None:
    """Write the files ``param`` names, its absolute paths under ``root`` (relative: under ``base``)."""
    elements = param["type_map"]
    prefix = param.get("init_data_prefix") or ""
    for k, name in enumerate(param["init_data_sys"]):
        folder = redirected(os.path.join(prefix, name), root, base)
        write_deepmd_systems(labeled(elements, frames, k), folder, type_map=elements)
    sprefix = param.get("sys_configs_prefix") or ""
    for k, patterns in enumerate(param["sys_configs"]):
        for pattern in patterns:
            path = redirected(literal(os.path.join(sprefix, pattern)), root, base)
            path.parent.mkdir(parents=True, exist_ok=True)
            atoms = structure(elements)
            atoms.rattle(0.02, seed=k)
            write(path, atoms, format="vasp")
    for key in ("fp_incar", "external_input_path"):
        if key in param:
            src = DATA / Path(param[key]).name
            dst = redirected(param[key], root, base)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(src.read_text() if src.is_file() else "")


def load_example(name: str) -> dict:
    return json.loads((DATA / name).read_text())
