"""Write a LAMMPS data file of a random fcc Al–Mg alloy: 10 x 10 x 10 cubic cells = 4000 atoms.

    python make_data.py almg.data [--mg 0.1] [--a 4.07] [--repeat 10] [--seed 0]

Atom types follow the model's type map (1 = Al, 2 = Mg, as `pair_coeff * * Al Mg` says); units
metal (Å). The cell is orthorhombic, so LAMMPS and ASE positions and forces share axes.
"""

from __future__ import annotations

import argparse

import numpy as np
from ase.build import bulk
from ase.io import write

from pesgen.structures.alloys import random_alloy


def almg_cell(mg: float = 0.1, a: float = 4.07, repeat: int = 10, seed: int = 0):
    host = bulk("Al", "fcc", a=a, cubic=True).repeat(repeat)
    return random_alloy(host, {"Al": 1.0 - mg, "Mg": mg}, np.random.default_rng(seed), tag_system=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--mg", type=float, default=0.1, help="Mg fraction")
    parser.add_argument("--a", type=float, default=4.07, help="fcc lattice constant, Å")
    parser.add_argument("--repeat", type=int, default=10, help="cubic cells along each axis (4 atoms each)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    atoms = almg_cell(args.mg, args.a, args.repeat, args.seed)
    write(args.out, atoms, format="lammps-data", specorder=["Al", "Mg"], masses=True, atom_style="atomic")
    print(f"wrote {args.out}: {len(atoms)} atoms, {atoms.get_chemical_formula()}")


if __name__ == "__main__":
    main()
