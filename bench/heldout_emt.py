"""The Al/EMT held-out test set (issues 6 and 12), labelled by the EMT oracle (pure Al).

Categories, none of them drawn from pesgen's own exploration (format and cache: ``heldout.py``):

* ``eos-Al-<lattice>``: fcc, hcp, bcc, sc, diamond, dhcp, 8 volumes 0.80-1.25 x the reference
  (``crystal()``'s lattice constants; 2x2x2 cells, diamond 1x1x1, dhcp 2x2x1);
* ``md-Al-fcc-<T>K``: ASE Langevin MD with EMT of 32-atom fcc Al at 300, 900 and 1500 K, and
  ``liquid-Al-2000K`` (well above EMT Al's melting point), 20 frames 50 fs apart after 1 ps;
* ``solid-Al-fcc-600K`` (108 atoms) and ``liquid-Al-1000K`` (108 atoms melted at 2500 K, then
  Berendsen NPT at 1 bar and 1000 K), 12 frames each;
* ``vacancy-Al-fcc``: a 107-atom fcc cell with one vacancy, 5 rattled and 5 from MD at 600 K;
* ``surface-Al-fcc``: (111), (100) and (110) slabs with 10 Å of vacuum, rattled.

The categories of issue 6 (MD, EOS of five lattices, vacancy, surfaces) draw from one RNG in the
order they always did, so their frames are those bench_loop.py measured with; the others each
have an RNG of their own. ``heldout_set(seed)`` returns ``{category: [Atoms], ...}``;
``python bench/heldout_emt.py`` builds the cache file and prints its path and categories.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk, fcc100, fcc110, fcc111
from ase.calculators.emt import EMT

sys.path.insert(0, str(Path(__file__).parent))
from heldout import HeldoutSet, category_rng, labelled, load_set, main, md_frames, rattled, scaled  # noqa: E402
from pesgen.structures.crystals import crystal  # noqa: E402

A_FCC = 4.05  # Å, EMT Al is within 0.5 % of this
VERSION = 2


def emt_labelled(atoms: Atoms) -> Atoms:
    """A bare copy of ``atoms`` with EMT energy, forces and (periodic cells) stress as a single point."""
    return labelled(atoms, EMT())


def _eos(lattice: str) -> list[Atoms]:
    ref = crystal("Al", lattice, {"diamond": (1, 1, 1), "dhcp": (2, 2, 1)}.get(lattice, (2, 2, 2)))
    return [emt_labelled(scaled(ref, v)) for v in np.linspace(0.80, 1.25, 8)]


def build(seed: int, verbose: bool = True) -> HeldoutSet:
    rng = np.random.default_rng(seed)
    out: HeldoutSet = {}
    fcc32 = bulk("Al", "fcc", a=A_FCC, cubic=True).repeat(2)
    for temperature in (300.0, 900.0, 1500.0, 2000.0):
        frames, msd = md_frames(fcc32, EMT(), temperature, 20, rng)
        out["liquid-Al-2000K" if temperature == 2000 else f"md-Al-fcc-{temperature:.0f}K"] = frames
        if verbose:
            print(f"held-out: EMT MD {temperature:.0f} K, MSD over {20 * 50} fs sampling {msd:.2f} Å^2")
    for lattice in ("fcc", "hcp", "bcc", "sc", "diamond", "dhcp"):
        out[f"eos-Al-{lattice}"] = _eos(lattice)
    vac = bulk("Al", "fcc", a=A_FCC, cubic=True).repeat(3)
    del vac[0]
    out["vacancy-Al-fcc"] = [emt_labelled(rattled(vac, 0.05, rng)) for _ in range(5)]
    out["vacancy-Al-fcc"] += md_frames(vac, EMT(), 600.0, 5, rng, equilibrate=500)[0]
    slabs = [cut("Al", size=(2, 2, 5), a=A_FCC, vacuum=5.0, periodic=True) for cut in (fcc111, fcc100, fcc110)]
    out["surface-Al-fcc"] = [emt_labelled(rattled(slab, 0.05, rng)) for slab in slabs for _ in range(4)]
    fcc108 = bulk("Al", "fcc", a=A_FCC, cubic=True).repeat(3)
    out["solid-Al-fcc-600K"], _ = md_frames(fcc108, EMT(), 600.0, 12, category_rng(seed, "solid-Al-fcc-600K"))
    out["liquid-Al-1000K"], msd = md_frames(fcc108, EMT(), 1000.0, 12, category_rng(seed, "liquid-Al-1000K"),
                                            melt_at=2500.0, melt_steps=1000, npt_steps=1000)
    if verbose:
        print(f"held-out: EMT liquid 1000 K, MSD over {12 * 50} fs sampling {msd:.2f} Å^2")
    return out


def heldout_set(seed: int = 0, verbose: bool = True, cache: Path | None = None) -> HeldoutSet:
    """The Al/EMT held-out set of ``seed`` (built on first use, then read from the cache)."""
    return load_set("emt", seed, VERSION, build, verbose, cache)


if __name__ == "__main__":
    main("emt", VERSION, build, __doc__.splitlines()[0])
