"""The Al–Mg/MEAM held-out test set (issue 12), labelled by the oracle of examples/almg-meam: the
MEAM of Jelinek et al. 2012 through LAMMPS, built by pesgen's own ``make_labeler`` from that
config's ``[label]`` table.

Categories, none of them from a pesgen run (format and cache: ``heldout.py``); each has an RNG of
its own; cells of at most 108 atoms; MD is ASE's, driven by the MEAM labeler, 2 fs steps, frames
100 fs apart after equilibration:

* ``eos-<El>-<lattice>``: fcc, hcp, bcc, sc, diamond of Al and Mg, 8 volumes 0.88-1.12 x the
  oracle's E(V) minimum (to 1 %; ideal positions and c/a; 2x2x2 cells, diamond 1x1x1);
* ``alloy-<prototype>``: L1_2 Al3Mg and AlMg3, L1_0 AlMg, B2 AlMg, D0_19 Al3Mg and AlMg3 at the
  mean reference volume, 8 volumes 0.94-1.06 x, rattled by 0.03 Å;
* ``random-<fcc|hcp>-Mg<25|50|75>``: random solid solutions (32 sites, a new arrangement per
  frame) at the composition's mean reference volume, rattled by 0.05 Å, 8 frames;
* ``vacancy-Al-fcc`` (107 atoms) and ``vacancy-Mg-hcp`` (95 atoms): MD at 600 K, 8 frames;
* ``surface-Al-fcc111`` and ``surface-Mg-hcp0001``: 6-layer slabs, 10 Å of vacuum, MD at 300 K;
* ``solid-Al-fcc-300K`` (108 atoms), ``solid-Mg-hcp-300K`` (96 atoms): MD, 12 frames;
* ``liquid-Al-943K``, ``liquid-AlMg-1200K``, ``liquid-AlMg-2000K`` (108 atoms, Al50Mg50 for the
  alloys): melted at 2500 K, Berendsen NPT at 1 bar, then NVT; 12 frames.

``heldout_set(seed)`` returns ``{category: [Atoms], ...}``; ``python bench/heldout_almg.py``
builds the cache file and prints its path, categories and the liquids' MSD.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import fcc111, hcp0001

sys.path.insert(0, str(Path(__file__).parent))
from heldout import HeldoutSet, category_rng, labelled, load_set, main, md_frames, rattled, scaled  # noqa: E402
from pesgen.label import make_labeler  # noqa: E402
from pesgen.structures.alloys import build_prototype  # noqa: E402
from pesgen.structures.crystals import crystal, reference_volume  # noqa: E402
from pesgen.structures.crystals import crystal_at_volume as build_crystal  # noqa: E402
from pesgen.validate.calculators import LabelerCalculator  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "almg-meam" / "config.toml"
VERSION = 1
ALLOYS = {"L1_2-Al3Mg": "L1_2-A3B", "L1_2-AlMg3": "L1_2-AB3", "L1_0-AlMg": "L1_0-AB", "B2-AlMg": "B2-AB",
          "D0_19-Al3Mg": "D0_19-A3B", "D0_19-AlMg3": "D0_19-AB3"}
SUPERCELL = {"L1_2": (2, 2, 2), "L1_0": (2, 2, 2), "B2": (3, 3, 3), "D0_19": (2, 2, 1)}


def meam_calculator() -> LabelerCalculator:
    """The labeler of examples/almg-meam/config.toml as an ASE calculator."""
    return LabelerCalculator(make_labeler(tomllib.loads(CONFIG.read_text())["label"]))


def _at_minimum(ref: Atoms, calc: LabelerCalculator) -> Atoms:
    """``ref`` scaled to the oracle's lowest energy over 0.70-1.50 x its volume, in steps of 0.01."""
    factors = np.linspace(0.70, 1.50, 81)
    energies = [labelled(scaled(ref, f), calc).get_potential_energy() for f in factors]
    return scaled(ref, factors[int(np.argmin(energies))])


def _solid_solution(lattice: str, x_mg: float, rng: np.random.Generator) -> Atoms:
    v = (1 - x_mg) * reference_volume("Al") + x_mg * reference_volume("Mg")
    host = build_crystal("Al", lattice, v, cubic=True).repeat(2)
    n_mg = round(x_mg * len(host))
    host.numbers = rng.permutation([12] * n_mg + [13] * (len(host) - n_mg))
    return rattled(host, 0.05, rng)


def md_systems() -> dict[str, tuple[Atoms, float, int, bool]]:
    """The MD categories: ``{category: (start structure, temperature K, frames, liquid)}``."""
    return {
        "vacancy-Al-fcc": (build_crystal("Al", "fcc", cubic=True).repeat(3)[1:], 600.0, 8, False),
        "vacancy-Mg-hcp": (build_crystal("Mg", "hcp").repeat((4, 4, 3))[1:], 600.0, 8, False),
        "surface-Al-fcc111": (fcc111("Al", (3, 3, 6), a=4.05, vacuum=5.0, periodic=True), 300.0, 8, False),
        "surface-Mg-hcp0001": (hcp0001("Mg", (3, 3, 6), a=3.21, c=5.21, vacuum=5.0, periodic=True), 300.0, 8,
                               False),
        "solid-Al-fcc-300K": (build_crystal("Al", "fcc", cubic=True).repeat(3), 300.0, 12, False),
        "solid-Mg-hcp-300K": (build_crystal("Mg", "hcp", cubic=True).repeat((4, 2, 3)), 300.0, 12, False),
        "liquid-Al-943K": (build_crystal("Al", "fcc", cubic=True).repeat(3), 943.0, 12, True),
        "liquid-AlMg-1200K": (_alloy_fcc108(), 1200.0, 12, True),
        "liquid-AlMg-2000K": (_alloy_fcc108(), 2000.0, 12, True),
    }


def build(seed: int, verbose: bool = True) -> HeldoutSet:
    calc = meam_calculator()
    out: HeldoutSet = {}
    for element in ("Al", "Mg"):
        for lattice in ("fcc", "hcp", "bcc", "sc", "diamond"):
            ref = _at_minimum(crystal(element, lattice, (1, 1, 1) if lattice == "diamond" else (2, 2, 2)), calc)
            out[f"eos-{element}-{lattice}"] = [labelled(scaled(ref, v), calc) for v in np.linspace(0.88, 1.12, 8)]
    for name, prototype in ALLOYS.items():
        rng = category_rng(seed, f"alloy-{name}")
        cell = build_prototype(prototype, "Al", "Mg").repeat(SUPERCELL[name.split("-")[0]])
        out[f"alloy-{name}"] = [labelled(rattled(scaled(cell, v), 0.03, rng), calc) for v in np.linspace(0.94, 1.06, 8)]
    out.update(solutions_and_md(seed, calc, 8, "held-out" if verbose else None))
    return out


def solutions_and_md(seed: int, calc: LabelerCalculator, n_solutions: int, log: str | None) -> HeldoutSet:
    """The random solid solutions (``n_solutions`` per composition) and the MD categories of
    :func:`md_systems`, each from its own RNG of ``seed``; ``log`` prefixes an MSD line per MD
    category (None: quiet). Shared by the held-out set and the training pool (pool_almg.py)."""
    out: HeldoutSet = {}
    for lattice in ("fcc", "hcp"):
        for x_mg in (0.25, 0.50, 0.75):
            category = f"random-{lattice}-Mg{100 * x_mg:.0f}"
            rng = category_rng(seed, category)
            out[category] = [labelled(_solid_solution(lattice, x_mg, rng), calc) for _ in range(n_solutions)]
    for category, (atoms, temperature, n_frames, liquid) in md_systems().items():
        melt = {"melt_at": 2500.0, "melt_steps": 1000, "npt_steps": 1000} if liquid else {}
        out[category], msd = md_frames(atoms, calc, temperature, n_frames, category_rng(seed, category),
                                       timestep=2.0, equilibrate=500, **melt)
        if log is not None:
            print(f"{log}: {category}, MSD over {n_frames * 100} fs sampling {msd:.2f} Å^2")
    return out


def _alloy_fcc108() -> Atoms:
    """Al54Mg54 on 108 fcc sites at the mean reference volume (the start of the alloy liquids)."""
    atoms = build_crystal("Al", "fcc", 0.5 * (reference_volume("Al") + reference_volume("Mg")), cubic=True).repeat(3)
    atoms.numbers[1::2] = 12
    return atoms


def heldout_set(seed: int = 0, verbose: bool = True, cache: Path | None = None) -> HeldoutSet:
    """The Al–Mg/MEAM held-out set of ``seed`` (built on first use, then read from the cache)."""
    return load_set("almg", seed, VERSION, build, verbose, cache)


if __name__ == "__main__":
    main("almg", VERSION, build, __doc__.splitlines()[0])
