"""Crystal structures of one element: the exploration's stable crystals (Fig. 1(a.1)(I) of the
DP-GEN paper) and the validation's prototypes (Fig. 4) at a given volume per atom.

Lattices: fcc, hcp, dhcp (ABAC stacking), bcc, sc (simple cubic), diamond. Lattice constants are
given by the caller or derived from ASE's reference data (``ase.data.reference_states``):

* the reference state gives an atomic volume ``V_ref`` (Å^3/atom) and a nearest-neighbour
  distance ``d_ref`` (Å);
* a *close-packed-like* target (fcc, hcp, dhcp, bcc) from a close-packed-like reference keeps the
  atomic volume: these lattices differ in volume by only a few percent in DFT;
* any other pair (sc or diamond target, or a diamond/sc reference) keeps Pauling's bond-valence
  rule for a fixed valence shared over ``Z`` bonds, ``d_T = d_ref + 0.60 Å · log10(Z_T / Z_ref)``
  with coordinations Z = 12 (fcc, hcp, dhcp), 8 (bcc), 6 (sc), 4 (diamond). Open lattices have
  longer bonds per volume but shorter bonds than close packing; equal volume would put diamond Al
  at 2.2 Å nearest neighbours (fcc: 2.86 Å), while this rule gives 2.57 Å (a = 5.94 Å; DFT-PBE
  relaxes diamond Al near a = 6.0 Å) and sc Al at a = 2.68 Å (PBE about 2.7 Å).
* hcp/dhcp use the reference c/a when the reference is hcp, the ideal sqrt(8/3) otherwise
  (dhcp's c is twice that of hcp).

The derived constants are a starting guess only (the exploration scales them by alpha and runs
MD, possibly at constant pressure); give ``a`` (and ``c``) explicitly where they are known.
The validation builds its prototypes at one volume per atom instead (:func:`crystal_at_volume`,
from :func:`reference_volume` before it relaxes them), so all start at the same density.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.build import bulk, make_supercell
from ase.data import atomic_numbers, covalent_radii, reference_states

from pesgen.structures.errors import StructureSpecError

#: The lattices this module builds.
LATTICES: tuple[str, ...] = ("fcc", "hcp", "dhcp", "bcc", "sc", "diamond")

#: Nearest-neighbour coordination of each lattice (used by Pauling's rule).
COORDINATION: dict[str, int] = {"fcc": 12, "hcp": 12, "dhcp": 12, "bcc": 8, "sc": 6, "diamond": 4}

_CLOSE_PACKED_LIKE = frozenset({"fcc", "hcp", "dhcp", "bcc"})
_HEXAGONAL = frozenset({"hcp", "dhcp"})
#: Ideal hexagonal c/a of close-packed spheres, sqrt(8/3).
IDEAL_C_OVER_A = math.sqrt(8.0 / 3.0)
#: Pauling's bond-length / bond-order constant, Å (L. Pauling, JACS 69, 542 (1947)).
PAULING_CONSTANT = 0.60

#: Cell kinds: conventional (cubic cell for cubic lattices, hexagonal for hcp/dhcp), primitive,
#: orthogonal (cubic cell, or the orthorhombic a x a*sqrt(3) x c cell of hcp/dhcp).
CELL_KINDS: tuple[str, ...] = ("conventional", "primitive", "orthogonal")


@dataclass(frozen=True)
class LatticeConstants:
    """Lattice constants of one element in one lattice.

    Attributes:
        element: chemical symbol.
        lattice: one of :data:`LATTICES`.
        a: lattice constant a, Å (cubic edge for cubic lattices, in-plane constant for hcp/dhcp).
        c: c of the hexagonal cell, Å (hcp: two layers, dhcp: four layers); None for cubic.
        source: "given", "reference" (ASE data, same lattice), "equal-volume" or "pauling".
    """

    element: str
    lattice: str
    a: float
    c: float | None
    source: str

    @property
    def atomic_volume(self) -> float:
        """Volume per atom, Å^3."""
        return _atomic_volume(self.lattice, self.a, self.c)

    @property
    def nearest_neighbour_distance(self) -> float:
        """Nearest-neighbour distance, Å."""
        return _nn_distance(self.lattice, self.a, self.c)


def _atoms_per_conventional_cell(lattice: str) -> int:
    return {"fcc": 4, "bcc": 2, "sc": 1, "diamond": 8, "hcp": 2, "dhcp": 4}[lattice]


def _atomic_volume(lattice: str, a: float, c: float | None) -> float:
    if lattice in _HEXAGONAL:
        assert c is not None
        return math.sqrt(3.0) / 2.0 * a * a * c / _atoms_per_conventional_cell(lattice)
    return a**3 / _atoms_per_conventional_cell(lattice)


def _nn_factor(lattice: str, c_over_a_hcp: float | None = None) -> float:
    """Nearest-neighbour distance divided by a (hcp/dhcp: c_over_a_hcp is c/a per two layers)."""
    if lattice in _HEXAGONAL:
        assert c_over_a_hcp is not None
        return min(1.0, math.sqrt(1.0 / 3.0 + c_over_a_hcp**2 / 4.0))
    return {"fcc": 1.0 / math.sqrt(2.0), "bcc": math.sqrt(3.0) / 2.0, "sc": 1.0,
            "diamond": math.sqrt(3.0) / 4.0}[lattice]


def _hcp_c_over_a(lattice: str, a: float, c: float | None) -> float | None:
    """c/a per two close-packed layers (the hcp convention) of a hexagonal lattice."""
    if lattice not in _HEXAGONAL or c is None:
        return None
    return c / a / (2.0 if lattice == "dhcp" else 1.0)


def _nn_distance(lattice: str, a: float, c: float | None) -> float:
    return a * _nn_factor(lattice, _hcp_c_over_a(lattice, a, c))


def _check_element(element: str) -> int:
    if element not in atomic_numbers:
        raise StructureSpecError(f"unknown chemical element {element!r}")
    return atomic_numbers[element]


def _check_lattice(lattice: str) -> None:
    if lattice not in LATTICES:
        raise StructureSpecError(f"unknown lattice {lattice!r}; choose one of {', '.join(LATTICES)}")


def _reference(element: str) -> LatticeConstants:
    """The reference-state lattice of ``element`` from ASE's data."""
    z = _check_element(element)
    ref = reference_states[z]
    symmetry = None if ref is None else ref.get("symmetry")
    if symmetry not in ("fcc", "bcc", "sc", "diamond", "hcp"):
        raise StructureSpecError(f"ASE has no usable reference lattice for {element} (its reference state is "
                                 f"{symmetry!r}); give the lattice constant 'a' (and 'c' for hcp/dhcp) explicitly")
    a = float(ref["a"])
    c = float(ref.get("c/a", IDEAL_C_OVER_A)) * a if symmetry == "hcp" else None
    return LatticeConstants(element, symmetry, a, c, "reference")


def lattice_constants(element: str, lattice: str, a: float | None = None, c: float | None = None) -> LatticeConstants:
    """Lattice constants of ``element`` in ``lattice``, given or derived (see module docstring).

    Args:
        element: chemical symbol, e.g. "Al".
        lattice: one of :data:`LATTICES`.
        a: lattice constant a in Å; derived from ASE's reference data when None.
        c: hexagonal c in Å (hcp: two layers; dhcp: four layers); from the reference c/a (hcp
            reference) or the ideal sqrt(8/3) per two layers when None. Ignored for cubic lattices.

    Raises:
        StructureSpecError: unknown element or lattice, non-positive constants, or no reference.
    """
    _check_element(element)
    _check_lattice(lattice)
    for name, value in (("a", a), ("c", c)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise StructureSpecError(f"lattice constant {name}={value!r} for {element} {lattice} must be positive (Å)")
    hexagonal = lattice in _HEXAGONAL
    layers_factor = 2.0 if lattice == "dhcp" else 1.0
    if a is not None:
        if hexagonal and c is None:
            c_over_a = IDEAL_C_OVER_A
            try:
                ref = _reference(element)
                if ref.lattice == "hcp":
                    c_over_a = ref.c / ref.a  # type: ignore[operator]
            except StructureSpecError:
                pass
            c = c_over_a * a * layers_factor
        return LatticeConstants(element, lattice, float(a), float(c) if hexagonal else None,
                                "given")

    ref = _reference(element)
    # c/a per two layers for a hexagonal target
    c_over_a = None
    if hexagonal:
        c_over_a = (c / layers_factor) if c is not None else None  # absolute c given: solve below
        if c is None:
            c_over_a = ref.c / ref.a if ref.lattice == "hcp" else IDEAL_C_OVER_A  # type: ignore
    if ref.lattice == lattice or (ref.lattice == "hcp" and lattice == "dhcp"):
        a_t = ref.a
        c_t = None
        if hexagonal:
            c_t = c if c is not None else c_over_a * a_t * layers_factor  # type: ignore[operator]
        return LatticeConstants(element, lattice, a_t, c_t, "reference")

    if ref.lattice in _CLOSE_PACKED_LIKE and lattice in _CLOSE_PACKED_LIKE:
        v = ref.atomic_volume
        if hexagonal and c is not None:  # V = sqrt(3)/4 a^2 c_hcp  with c_hcp = c / layers_factor
            a_t = math.sqrt(4.0 * v / (math.sqrt(3.0) * c / layers_factor))
            return LatticeConstants(element, lattice, a_t, float(c), "equal-volume")
        return constants_at_volume(element, lattice, v, c_over_a if hexagonal else IDEAL_C_OVER_A, "equal-volume")

    ratio = COORDINATION[lattice] / COORDINATION[ref.lattice]
    d_t = ref.nearest_neighbour_distance + PAULING_CONSTANT * math.log10(ratio)
    if hexagonal:
        if c is not None:
            # nn distance depends on a and c; solve a by bisection-free fixed point (monotone in a)
            a_t = d_t
            for _ in range(50):
                a_t = d_t / _nn_factor(lattice, c / layers_factor / a_t)
            return LatticeConstants(element, lattice, a_t, float(c), "pauling")
        a_t = d_t / _nn_factor(lattice, c_over_a)
        return LatticeConstants(element, lattice, a_t, c_over_a * a_t * layers_factor, "pauling")
    a_t = d_t / _nn_factor(lattice)
    return LatticeConstants(element, lattice, a_t, None, "pauling")


def constants_at_volume(element: str, lattice: str, volume_per_atom: float,
                        c_over_a: float = IDEAL_C_OVER_A, source: str = "volume") -> LatticeConstants:
    """The constants of ``lattice`` at ``volume_per_atom`` Å^3 (hcp/dhcp: c/a per two layers)."""
    v = volume_per_atom
    if lattice in _HEXAGONAL:
        a = (4.0 * v / (math.sqrt(3.0) * c_over_a)) ** (1.0 / 3.0)
        return LatticeConstants(element, lattice, a, c_over_a * a * (2.0 if lattice == "dhcp" else 1.0),
                                source)
    return LatticeConstants(element, lattice, (v * _atoms_per_conventional_cell(lattice)) ** (1.0 / 3.0),
                            None, source)


def reference_volume(element: str) -> float:
    """A starting volume per atom (Å^3): that of ASE's reference fcc, hcp, bcc or diamond crystal
    of the element, else that of close-packed spheres (packing 0.74) of its covalent radius."""
    z = _check_element(element)
    state = reference_states[z] or {}
    if state.get("symmetry") in ("fcc", "hcp", "bcc", "diamond") and state.get("a"):
        return _reference(element).atomic_volume
    return 4 / 3 * np.pi * covalent_radii[z] ** 3 / 0.74


def ground_lattice(element: str) -> str:
    """``"fcc"``, ``"hcp"`` or ``"bcc"``: ASE's reference crystal of the element (fcc otherwise)."""
    state = reference_states[atomic_numbers[element]] or {}
    sym = state.get("symmetry")
    return sym if sym in ("fcc", "hcp", "bcc") else "fcc"


def _dhcp_cell(element: str, a: float, c: float) -> Atoms:
    """Four-atom hexagonal dhcp cell, stacking A B A C along c."""
    cell = [[a, 0.0, 0.0], [-a / 2.0, a * math.sqrt(3.0) / 2.0, 0.0], [0.0, 0.0, c]]
    frac = [[0.0, 0.0, 0.0], [1 / 3, 2 / 3, 0.25], [0.0, 0.0, 0.5], [2 / 3, 1 / 3, 0.75]]
    return Atoms([element] * 4, scaled_positions=frac,
                 cell=cell, pbc=True)


def unit_cell(element: str, lattice: str, constants: LatticeConstants, cell: str) -> Atoms:
    """The unit cell of ``lattice`` for ``element`` with the given constants and cell kind."""
    if cell not in CELL_KINDS:
        raise StructureSpecError(f"unknown cell kind {cell!r}; choose one of {CELL_KINDS}")
    a, c = constants.a, constants.c
    if lattice in _HEXAGONAL:
        assert c is not None
        atoms = bulk(element, "hcp", a=a, c=c) if lattice == "hcp" else _dhcp_cell(element, a, c)
        if cell == "orthogonal":
            atoms = make_supercell(atoms, [[1, 0, 0], [1, 2, 0], [0, 0, 1]])
        return atoms
    return bulk(element, lattice, a=a, cubic=cell in ("conventional", "orthogonal"))


def crystal_at_volume(element: str, lattice: str, volume_per_atom: float | None = None, *,
                      c_over_a: float = IDEAL_C_OVER_A, cubic: bool = False) -> Atoms:
    """The unit cell of ``lattice`` at ``volume_per_atom`` Å^3 (default :func:`reference_volume`).

    Primitive cells unless ``cubic`` (the conventional cubic cell of fcc/bcc/diamond, ASE's
    orthorhombic hcp cell: the mirror image of :func:`unit_cell`'s "orthogonal" one). hcp/dhcp
    take ``c_over_a`` per two layers (dhcp: c = 2 (c/a) a).
    """
    _check_lattice(lattice)
    v = reference_volume(element) if volume_per_atom is None else float(volume_per_atom)
    if v <= 0:
        raise StructureSpecError(f"volume per atom must be positive, got {v}")
    constants = constants_at_volume(element, lattice, v, c_over_a)
    if cubic and lattice == "hcp":
        return bulk(element, "hcp", a=constants.a, c=constants.c, orthorhombic=True)
    return unit_cell(element, lattice, constants, "conventional" if cubic else "primitive")


def _check_size(size: object, what: str) -> tuple[int, int, int]:
    try:
        n = tuple(int(x) for x in size)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise StructureSpecError(f"{what}: size {size!r} must be three positive integers") from exc
    if len(n) != 3 or any(x < 1 for x in n) or any(float(x) != y
                                                   for x, y in zip(n, size, strict=True)):  # type: ignore[call-overload]
        raise StructureSpecError(f"{what}: size {size!r} must be three positive integers")
    return n  # type: ignore[return-value]


def crystal(element: str, lattice: str, size: tuple[int, int, int] | list[int] = (1, 1, 1), a: float | None = None,
            c: float | None = None, cell: str = "conventional") -> Atoms:
    """A periodic supercell of a perfect crystal of one element.

    Args:
        element: chemical symbol.
        lattice: one of :data:`LATTICES`.
        size: repetitions of the unit cell along its three cell vectors.
        a: lattice constant, Å (derived when None, see :func:`lattice_constants`).
        c: hexagonal c, Å (hcp/dhcp only).
        cell: "conventional", "primitive" or "orthogonal" (see :data:`CELL_KINDS`).

    Returns:
        ``ase.Atoms`` with pbc, ``info["system"] = "<El>-<lattice>-<n1>x<n2>x<n3>"`` (with
        ``-prim``/``-orth`` appended for non-conventional cells), and ``info`` keys "lattice",
        "a", "c", "lattice_source", "size".
    """
    _check_lattice(lattice)
    n = _check_size(size, f"{element} {lattice}")
    constants = lattice_constants(element, lattice, a, c)
    atoms = unit_cell(element, lattice, constants, cell).repeat(n)
    kind = cell
    if (lattice in _HEXAGONAL and cell == "primitive") or (lattice not in _HEXAGONAL and cell == "orthogonal"):
        kind = "conventional"  # the same cell: keep one system id for one structure
    suffix = {"conventional": "", "primitive": "-prim", "orthogonal": "-orth"}[kind]
    atoms.info["system"] = f"{element}-{lattice}-{n[0]}x{n[1]}x{n[2]}{suffix}"
    atoms.info["lattice"] = lattice
    atoms.info["a"] = constants.a
    atoms.info["c"] = constants.c
    atoms.info["lattice_source"] = constants.source
    atoms.info["size"] = list(n)
    return atoms
