"""Surface formation energies E_sf(hkl) = (E_s - N_s E_0) / (2A), unrelaxed and relaxed, J/m^2.

The symmetrically distinct Miller indices up to a maximum index of the relaxed conventional cell
(:func:`pesgen.structures.surfaces.distinct_miller_indices`) are cut into slabs thick enough
(``min_thickness`` Å) with ``vacuum`` Å of vacuum on each side
(:func:`pesgen.structures.surfaces.make_slab`). The relaxation moves positions only (cell fixed).
"""

from __future__ import annotations

from ase import Atoms

from pesgen.structures.crystals import crystal_at_volume
from pesgen.structures.surfaces import distinct_miller_indices, make_slab, slab_area
from pesgen.validate.errors import ValidationInputError
from pesgen.validate.relax import RelaxSettings, relax
from pesgen.validate.side import Side
from pesgen.validate.stacking import EV_PER_A2_IN_J_PER_M2


def conventional_cell(side: Side, element: str, lattice: str) -> Atoms:
    """The relaxed crystal in its conventional cell (cubic fcc/bcc, hexagonal hcp)."""
    crystal = side.crystal(element, lattice)
    v = crystal.get_volume() / len(crystal)
    if lattice == "hcp":
        lengths = crystal.cell.lengths()
        return crystal_at_volume(element, "hcp", v, c_over_a=float(lengths[2] / lengths[0]))
    return crystal_at_volume(element, lattice, v, cubic=True)


def surface_energies(side: Side, element: str, lattice: str, max_index: int, min_thickness: float = 10.0,
                     vacuum: float = 8.0, relaxed: bool = True) -> dict[str, dict[str, float]]:
    """For each distinct surface ``"hkl"``: ``unrelaxed`` and (if ``relaxed``) ``relaxed`` E_sf
    in J/m^2, and the slab's ``atoms``."""
    conv = conventional_cell(side, element, lattice)
    e0 = side.energy_per_atom(element, lattice)
    if max_index < 1:
        raise ValidationInputError(f"miller_max must be >= 1, got {max_index}")
    out: dict[str, dict[str, float]] = {}
    for hkl in distinct_miller_indices(conv, max_index):
        slab = make_slab(conv, hkl, min_thickness, vacuum)
        area = slab_area(slab)
        slab.calc = side.calc
        n = len(slab)
        row = {"atoms": n, "unrelaxed": (slab.get_potential_energy() - n * e0) / (2 * area) * EV_PER_A2_IN_J_PER_M2}
        if relaxed:
            settings = RelaxSettings(fmax=max(side.relax_settings.fmax, 5e-3), steps=side.relax_settings.steps,
                                     keep_symmetry=False)
            done = relax(slab, side.calc, cell=False, settings=settings, name=f"{element} {hkl} slab ({side.name})")
            row["relaxed"] = (done.get_potential_energy() - n * e0) / (2 * area) * EV_PER_A2_IN_J_PER_M2
        out["".join(str(x) for x in hkl)] = {k: float(v) for k, v in row.items()}
    return out
