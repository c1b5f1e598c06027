"""Equilibrium energy per atom (eV/atom) and volume per atom (Å^3/atom) of relaxed crystals."""

from __future__ import annotations

from pesgen.validate.side import Side


def equilibrium(side: Side, element: str, structures: list[str]) -> dict[str, dict[str, float]]:
    """For each structure: ``energy`` (eV/atom), ``volume`` (Å^3/atom) and, for hexagonal
    cells, ``c_over_a``, of the crystal relaxed in cell and positions."""
    out: dict[str, dict[str, float]] = {}
    for name in structures:
        atoms = side.crystal(element, name)
        row = {"energy": float(atoms.get_potential_energy()) / len(atoms),
               "volume": float(atoms.get_volume()) / len(atoms)}
        if name in ("hcp", "dhcp"):
            lengths = atoms.cell.lengths()
            row["c_over_a"] = float(lengths[2] / lengths[0] / (2 if name == "dhcp" else 1))
        out[name] = row
    return out
