"""Initial structures of the exploration, declared as plain data (Fig. 1(a.1) of the paper).

A config layer passes a dict (parsed from TOML) to :meth:`InitialStructureSpec.from_dict`, then
calls :func:`generate_initial_structures`. The pipeline follows the paper:

1. base structures: perfect crystals (fcc, hcp, dhcp, bcc, sc, diamond supercells;
   :mod:`pesgen.structures.crystals`), crystals with two halves rigidly displaced
   (:mod:`pesgen.structures.displace`) and optional slabs (:mod:`pesgen.structures.surfaces`);
2. random alloys: each base structure is also occupied at random with every composition
   (:mod:`pesgen.structures.alloys`), ``n`` realisations each; the pure base is kept;
3. each structure is scaled by every alpha and perturbed ``n`` times by sigma_a, sigma_c
   (:mod:`pesgen.structures.perturb`).

Example (the paper's Al-Mg setup, small)::

    spec = InitialStructureSpec.from_dict({
        "seed": 1,
        "crystals": [{"element": "Al", "lattices": ["fcc", "hcp", "sc", "diamond"],
                      "size": [2, 2, 2]},
                     {"element": "Mg", "lattices": ["fcc", "hcp", "sc", "diamond"],
                      "size": [2, 2, 2]}],
        "displacements": [{"element": "Al", "lattice": "fcc", "planes": ["100", "110", "111"],
                           "d_min": 0.2, "d_max": 10.0, "n": 5}],
        "alloys": {"compositions": [{"Al": 0.5, "Mg": 0.5}], "n": 1},
        "scale": {"alpha_min": 0.96, "alpha_max": 1.04, "n": 3},
        "perturb": {"n": 2, "sigma_a": 0.01, "sigma_c": 0.03},
    })
    structures = generate_initial_structures(spec)

Every returned ``ase.Atoms`` has ``info["system"]``, a readable id such as
``"Al-fcc-2x2x2:Al16Mg16:alpha=0.9600"``; perturbed copies of one (structure, alpha) share it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms

from pesgen.structures.alloys import composition_counts, random_alloy
from pesgen.structures.crystals import CELL_KINDS, LATTICES, crystal, lattice_constants
from pesgen.structures.displace import DISPLACEMENT_MODES, displaced_crystals, displacement_values
from pesgen.structures.errors import StructureSpecError
from pesgen.structures.orient import oriented_crystal, parse_plane
from pesgen.structures.perturb import alpha_values, scaled_and_perturbed
from pesgen.structures.surfaces import slab


def _from_mapping(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, naming ``where`` and the key in every error."""
    if not isinstance(data, Mapping):
        raise StructureSpecError(f"{where}: expected a table/dict, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise StructureSpecError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
            f"{', '.join(sorted(names))}"
        )
    required = [
        f.name for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [k for k in required if k not in data]
    if missing:
        raise StructureSpecError(f"{where}: missing required key(s) {', '.join(missing)}")
    try:
        return cls(**dict(data))
    except StructureSpecError as exc:
        raise StructureSpecError(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise StructureSpecError(f"{where}: {exc}") from None


def _triple(value: Any, name: str) -> tuple[int, int, int]:
    try:
        t = tuple(int(x) for x in value)
    except (TypeError, ValueError):
        t = ()
    if len(t) != 3 or min(t) < 1 or any(float(x) != y for x, y in zip(t, value, strict=True)):
        raise StructureSpecError(f"'{name}' = {value!r} must be three positive integers")
    return t  # type: ignore[return-value]


def _pair(value: Any, name: str) -> tuple[int, int]:
    try:
        t = tuple(int(x) for x in value)
    except (TypeError, ValueError):
        t = ()
    if len(t) != 2 or min(t) < 1:
        raise StructureSpecError(f"'{name}' = {value!r} must be two positive integers")
    return t  # type: ignore[return-value]


def _constant_for(value: float | Mapping[str, float] | None, lattice: str) -> float | None:
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    return None if lattice not in value else float(value[lattice])


@dataclass
class CrystalSpec:
    """Perfect crystals of one element.

    Attributes:
        element: chemical symbol.
        lattices: any of fcc, hcp, dhcp, bcc, sc, diamond.
        size: supercell repetitions of the unit cell (three integers).
        a: lattice constant in Å, one for all lattices or a table lattice -> a; derived from
            ASE's reference data where absent (see :mod:`pesgen.structures.crystals`).
        c: hexagonal c in Å (a number or a table lattice -> c).
        cell: "conventional" (default), "primitive" or "orthogonal".
    """

    element: str
    lattices: list[str]
    size: Sequence[int] = (2, 2, 2)
    a: float | dict[str, float] | None = None
    c: float | dict[str, float] | None = None
    cell: str = "conventional"

    def __post_init__(self) -> None:
        if isinstance(self.lattices, str):
            self.lattices = [self.lattices]
        for lat in self.lattices:
            if lat not in LATTICES:
                raise StructureSpecError(f"'lattices': unknown lattice {lat!r}; choose {LATTICES}")
        if self.cell not in CELL_KINDS:
            raise StructureSpecError(f"'cell' = {self.cell!r}; choose one of {CELL_KINDS}")
        self.size = _triple(self.size, "size")
        for lat in self.lattices:  # fail early on bad elements or missing reference data
            lattice_constants(self.element, lat, _constant_for(self.a, lat),
                              _constant_for(self.c, lat))

    def build(self) -> list[Atoms]:
        """The perfect supercells, one per lattice."""
        return [
            crystal(self.element, lat, self.size, a=_constant_for(self.a, lat),
                    c=_constant_for(self.c, lat), cell=self.cell)
            for lat in self.lattices
        ]


@dataclass
class DisplaceSpec:
    """Crystals whose two halves are rigidly displaced (see :mod:`pesgen.structures.displace`).

    Attributes:
        element, lattice: the crystal.
        planes: e.g. ["100", "110", "111"] (fcc) or ["0001", "10-10", "11-20"] (hcp).
        d_min, d_max, n: n displacements evenly spaced in [d_min, d_max], Å (paper 0.2-10).
        d_values: explicit displacements in Å (instead of the range).
        layers: oriented unit cells stacked along the plane normal.
        size: in-plane repetitions (two integers).
        mode: "separate" (normal to the plane, default) or "slide" (in the plane).
        direction: slide direction (i, j) in the in-plane unit-cell vectors.
        a, c: lattice constants in Å (derived when absent).
    """

    element: str
    lattice: str
    planes: list[str]
    d_min: float = 0.2
    d_max: float = 10.0
    n: int = 5
    d_values: list[float] | None = None
    layers: int = 6
    size: Sequence[int] = (2, 2)
    mode: str = "separate"
    direction: Sequence[float] = (1.0, 0.0)
    a: float | None = None
    c: float | None = None

    def __post_init__(self) -> None:
        if self.lattice not in LATTICES:
            raise StructureSpecError(f"'lattice': unknown lattice {self.lattice!r}")
        if self.mode not in DISPLACEMENT_MODES:
            raise StructureSpecError(f"'mode' = {self.mode!r}; choose {DISPLACEMENT_MODES}")
        if isinstance(self.planes, str):
            self.planes = [self.planes]
        for p in self.planes:
            parse_plane(p, self.lattice)
        self.size = _pair(self.size, "size")
        if self.d_values is None:
            self.d_values = displacement_values(self.d_min, self.d_max, int(self.n)).tolist()
        else:
            if any(not (np.isfinite(d) and d >= 0) for d in self.d_values):
                raise StructureSpecError(f"'d_values' = {self.d_values!r} must be >= 0 Å")
        lattice_constants(self.element, self.lattice, self.a, self.c)

    def build(self) -> list[Atoms]:
        """One displaced crystal per plane and displacement."""
        return displaced_crystals(
            self.element, self.lattice, self.planes, self.d_values,  # type: ignore[arg-type]
            layers=self.layers, size=self.size, mode=self.mode,  # type: ignore[arg-type]
            direction=self.direction, a=self.a, c=self.c,
        )


@dataclass
class SurfaceSpec:
    """Slabs with vacuum (see :mod:`pesgen.structures.surfaces`).

    Attributes:
        element, lattice: the crystal.
        planes: Miller (or Miller-Bravais) indices of the exposed planes.
        layers: oriented unit cells in the slab.
        vacuum: vacuum gap, Å.
        size: in-plane repetitions.
        a, c: lattice constants in Å (derived when absent).
    """

    element: str
    lattice: str
    planes: list[str]
    layers: int = 4
    vacuum: float = 10.0
    size: Sequence[int] = (1, 1)
    a: float | None = None
    c: float | None = None

    def __post_init__(self) -> None:
        if self.lattice not in LATTICES:
            raise StructureSpecError(f"'lattice': unknown lattice {self.lattice!r}")
        if isinstance(self.planes, str):
            self.planes = [self.planes]
        for p in self.planes:
            parse_plane(p, self.lattice)
        self.size = _pair(self.size, "size")
        if not (np.isfinite(self.vacuum) and self.vacuum > 0):
            raise StructureSpecError(f"'vacuum' = {self.vacuum!r} Å must be positive")

    def build(self) -> list[Atoms]:
        """One slab per plane."""
        return [
            slab(oriented_crystal(self.element, self.lattice, p, layers=self.layers,
                                  size=self.size, a=self.a, c=self.c),  # type: ignore[arg-type]
                 vacuum=self.vacuum)
            for p in self.planes
        ]


@dataclass
class AlloySpec:
    """Random alloys made from every base structure.

    Attributes:
        compositions: list of species -> fraction tables, e.g. [{"Al": 0.5, "Mg": 0.5}].
        n: random realisations per base structure and composition.
        keep_pure: keep the pure base structures as well (default True).
    """

    compositions: list[dict[str, float]]
    n: int = 1
    keep_pure: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.compositions, Mapping):
            self.compositions = [dict(self.compositions)]
        if not self.compositions:
            raise StructureSpecError("'compositions' is empty")
        for comp in self.compositions:
            if not isinstance(comp, Mapping):
                raise StructureSpecError(
                    f"'compositions': {comp!r} is not a species -> fraction table"
                )
            composition_counts(1, comp)
        if int(self.n) != self.n or self.n < 1:
            raise StructureSpecError(f"'n' = {self.n!r} must be a positive integer")


@dataclass
class ScaleSpec:
    """Uniform compression/dilation: lengths scaled by alpha (volume by alpha^3).

    Attributes:
        alpha_min, alpha_max, n: n values evenly spaced in [alpha_min, alpha_max] (paper:
            0.96-1.04).
        values: explicit alphas (instead of the range).
    """

    alpha_min: float = 0.96
    alpha_max: float = 1.04
    n: int = 5
    values: list[float] | None = None

    def __post_init__(self) -> None:
        if self.values is None:
            self.values = alpha_values(self.alpha_min, self.alpha_max, int(self.n)).tolist()
        elif any(not (np.isfinite(x) and x > 0) for x in self.values) or not self.values:
            raise StructureSpecError(f"'values' = {self.values!r} must be positive numbers")


@dataclass
class PerturbSpec:
    """Random perturbation (see :mod:`pesgen.structures.perturb`).

    Attributes:
        n: perturbed copies of each (structure, alpha).
        sigma_a: rms atomic displacement, Å (paper 0.01).
        sigma_c: rms relative change of each cell vector (paper 0.03).
        keep_unperturbed: also keep the unperturbed structure.
    """

    n: int = 1
    sigma_a: float = 0.01
    sigma_c: float = 0.03
    keep_unperturbed: bool = False

    def __post_init__(self) -> None:
        if int(self.n) != self.n or self.n < 0:
            raise StructureSpecError(f"'n' = {self.n!r} must be a non-negative integer")
        for name in ("sigma_a", "sigma_c"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise StructureSpecError(f"'{name}' = {v!r} must be >= 0")
        if self.n == 0 and not self.keep_unperturbed:
            raise StructureSpecError("'n' = 0 with keep_unperturbed = false leaves no structure")


@dataclass
class InitialStructureSpec:
    """The full declaration of the initial structures.

    Attributes:
        crystals: perfect crystals.
        displacements: rigidly displaced crystals.
        surfaces: slabs.
        alloys: random alloys of all base structures (None: pure only).
        scale: scale factors (None: alpha = 1 only).
        perturb: perturbations (None: no perturbation).
        seed: seed of the numpy generator.
    """

    crystals: list[CrystalSpec] = field(default_factory=list)
    displacements: list[DisplaceSpec] = field(default_factory=list)
    surfaces: list[SurfaceSpec] = field(default_factory=list)
    alloys: AlloySpec | None = None
    scale: ScaleSpec | None = None
    perturb: PerturbSpec | None = None
    seed: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "initial_structures"
                  ) -> InitialStructureSpec:
        """Parse a config table; errors name the offending key, e.g. ``crystals[1].size``."""
        if not isinstance(data, Mapping):
            raise StructureSpecError(f"{where}: expected a table/dict")
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise StructureSpecError(
                f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
                f"{', '.join(sorted(allowed))}"
            )
        kwargs: dict[str, Any] = {}
        for key, sub in (("crystals", CrystalSpec), ("displacements", DisplaceSpec),
                         ("surfaces", SurfaceSpec)):
            items = data.get(key, [])
            if isinstance(items, Mapping):
                items = [items]
            kwargs[key] = [_from_mapping(sub, item, f"{where}.{key}[{i}]")
                           for i, item in enumerate(items)]
        for key, sub in (("alloys", AlloySpec), ("scale", ScaleSpec), ("perturb", PerturbSpec)):
            if data.get(key) is not None:
                kwargs[key] = _from_mapping(sub, data[key], f"{where}.{key}")
        if "seed" in data:
            if not isinstance(data["seed"], int) or isinstance(data["seed"], bool):
                raise StructureSpecError(f"{where}.seed = {data['seed']!r} must be an integer")
            kwargs["seed"] = data["seed"]
        spec = cls(**kwargs)
        if not (spec.crystals or spec.displacements or spec.surfaces):
            raise StructureSpecError(
                f"{where}: declares no structures; give 'crystals', 'displacements' or 'surfaces'"
            )
        return spec


def generate_initial_structures(
    spec: InitialStructureSpec | Mapping[str, Any],
    rng: np.random.Generator | None = None,
) -> list[Atoms]:
    """All initial structures of ``spec`` (a spec object or its dict form).

    Args:
        spec: the declaration.
        rng: numpy generator; ``np.random.default_rng(spec.seed)`` when None.

    Returns:
        ``list[ase.Atoms]``, each with ``info["system"]``; order: crystals, displaced, slabs, each
        followed by its alloys, each of those by its alphas and perturbations.
    """
    if not isinstance(spec, InitialStructureSpec):
        spec = InitialStructureSpec.from_dict(spec)
    if rng is None:
        rng = np.random.default_rng(spec.seed)
    bases: list[Atoms] = []
    for group in (spec.crystals, spec.displacements, spec.surfaces):
        for item in group:
            bases.extend(item.build())
    with_alloys: list[Atoms] = []
    for base in bases:
        if spec.alloys is None or spec.alloys.keep_pure:
            with_alloys.append(base)
        if spec.alloys is not None:
            for comp in spec.alloys.compositions:
                for _ in range(int(spec.alloys.n)):
                    with_alloys.append(random_alloy(base, comp, rng))
    alphas = spec.scale.values if spec.scale is not None else [1.0]
    if spec.perturb is None:
        return scaled_and_perturbed(with_alloys, rng, alphas, n_perturbed=0, sigma_a=0.0,
                                    sigma_c=0.0, keep_unperturbed=True)
    return scaled_and_perturbed(
        with_alloys, rng, alphas, n_perturbed=int(spec.perturb.n), sigma_a=spec.perturb.sigma_a,
        sigma_c=spec.perturb.sigma_c, keep_unperturbed=spec.perturb.keep_unperturbed,
    )
