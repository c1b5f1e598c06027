"""A fixed Al–Mg/MEAM *training* pool for the training-budget study (``train_budget.py``).

It covers the kinds of structure the held-out set (``heldout_almg.py``) tests, so that the study
measures what a training budget can reach when the data are there, but it shares no frame with
it: every category draws from its own RNG of the pool's seed (default 1; the held-out set uses 0)
and the crystals are sampled differently:

* ``eos-<El>-<lattice>``: fcc, hcp, bcc, sc, diamond of Al and Mg at 6 volumes drawn uniformly
  in 0.86-1.14 x the oracle's E(V) minimum, rattled by 0.02 Å (the held-out EOS: 8 ideal
  crystals on a regular 0.88-1.12 grid);
* ``alloy-<prototype>``: the six ordered alloys at 6 volumes drawn in 0.92-1.08 x, rattled 0.05 Å;
* ``random-<fcc|hcp>-Mg<25|50|75>``: 6 new random solid solutions each;
* the MD categories of the held-out set (vacancies 600 K, surfaces 300 K, solids 300 K, liquid Al
  943 K, liquid Al–Mg 1200 and 2000 K) from trajectories of the pool's seed, same frame counts.

Every periodic frame carries the oracle's stress, so the pool has virial labels. 220 frames.
``python bench/pool_almg.py`` builds the cache file ``bench/.cache/pool-almg-seed1-v1.extxyz``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from heldout import HeldoutSet, category_rng, labelled, load_set, main, rattled, scaled  # noqa: E402
from heldout_almg import ALLOYS, SUPERCELL, _at_minimum, meam_calculator, solutions_and_md  # noqa: E402
from pesgen.structures.alloys import build_prototype  # noqa: E402
from pesgen.structures.crystals import crystal  # noqa: E402

VERSION = 1
N_PER_CRYSTAL = 6


def build(seed: int, verbose: bool = True) -> HeldoutSet:
    calc = meam_calculator()
    out: HeldoutSet = {}
    for element in ("Al", "Mg"):
        for lattice in ("fcc", "hcp", "bcc", "sc", "diamond"):
            category = f"eos-{element}-{lattice}"
            rng = category_rng(seed, category)
            ref = _at_minimum(crystal(element, lattice, (1, 1, 1) if lattice == "diamond" else (2, 2, 2)), calc)
            out[category] = [labelled(rattled(scaled(ref, v), 0.02, rng), calc)
                             for v in rng.uniform(0.86, 1.14, N_PER_CRYSTAL)]
    for name, prototype in ALLOYS.items():
        category = f"alloy-{name}"
        rng = category_rng(seed, category)
        cell = build_prototype(prototype, "Al", "Mg").repeat(SUPERCELL[name.split("-")[0]])
        out[category] = [labelled(rattled(scaled(cell, v), 0.05, rng), calc)
                         for v in rng.uniform(0.92, 1.08, N_PER_CRYSTAL)]
    out.update(solutions_and_md(seed, calc, N_PER_CRYSTAL, "pool" if verbose else None))
    return out


def training_pool(seed: int = 1, verbose: bool = True, cache: Path | None = None) -> HeldoutSet:
    """The Al–Mg/MEAM training pool of ``seed`` (built on first use, then read from the cache)."""
    if seed == 0:
        raise ValueError("seed 0 is the held-out set's; the training pool must use another seed")
    return load_set("almg", seed, VERSION, build, verbose, cache, kind="pool")


if __name__ == "__main__":
    main("almg", VERSION, build, __doc__.splitlines()[0], kind="pool", seed=1)
