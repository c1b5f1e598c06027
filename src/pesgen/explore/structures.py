"""Initial structures of the exploration, declared as plain data (Fig. 1(a.1) of the paper).

The declaration is a pydantic model (:class:`InitialStructureSpec`, one model per generator, each
with ``build()``); the run config holds it as ``[initial.structures]``, and
:meth:`InitialStructureSpec.from_dict` parses a table alone. The pipeline follows the paper:

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

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from ase import Atoms
from pydantic import BeforeValidator, Field, model_validator

from pesgen.schema import ConfigPath, StrictModel, parse
from pesgen.structures.alloys import composition_counts, random_alloy
from pesgen.structures.crystals import CELL_KINDS, LATTICES, crystal, lattice_constants
from pesgen.structures.displace import DISPLACEMENT_MODES, displaced_crystals, displacement_values
from pesgen.structures.errors import StructureSpecError
from pesgen.structures.orient import oriented_crystal, parse_plane
from pesgen.structures.perturb import alpha_values, scaled_and_perturbed
from pesgen.structures.surfaces import slab


def _as_list(value: Any) -> Any:
    """A single string or table stands for a list of one."""
    return [value] if isinstance(value, str | Mapping) else value


Lattice = Literal[LATTICES]  # type: ignore[valid-type]
Positive = Annotated[int, Field(ge=1)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Planes = Annotated[list[str], BeforeValidator(_as_list)]


def _constant_for(value: float | Mapping[str, float] | None, lattice: str) -> float | None:
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    return None if lattice not in value else float(value[lattice])


def _check_planes(planes: list[str], lattice: str) -> None:
    for p in planes:
        parse_plane(p, lattice)


class CrystalSpec(StrictModel):
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
    lattices: Annotated[list[Lattice], BeforeValidator(_as_list)]
    size: list[Positive] = Field([2, 2, 2], min_length=3, max_length=3)
    a: float | dict[str, float] | None = None
    c: float | dict[str, float] | None = None
    cell: Literal[CELL_KINDS] = "conventional"  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _constants(self) -> CrystalSpec:
        for lat in self.lattices:  # fail early on bad elements or missing reference data
            lattice_constants(self.element, lat, _constant_for(self.a, lat), _constant_for(self.c, lat))
        return self

    def build(self) -> list[Atoms]:
        """The perfect supercells, one per lattice."""
        return [
            crystal(self.element, lat, tuple(self.size), a=_constant_for(self.a, lat),
                    c=_constant_for(self.c, lat), cell=self.cell)
            for lat in self.lattices
        ]


class DisplaceSpec(StrictModel):
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
    lattice: Lattice
    planes: Planes
    d_min: float = 0.2
    d_max: float = 10.0
    n: int = 5
    d_values: list[Annotated[Finite, Field(ge=0)]] | None = None
    layers: int = 6
    size: list[Positive] = Field([2, 2], min_length=2, max_length=2)
    mode: Literal[DISPLACEMENT_MODES] = "separate"  # type: ignore[valid-type]
    direction: list[float] = [1.0, 0.0]
    a: float | None = None
    c: float | None = None

    @model_validator(mode="after")
    def _derive(self) -> DisplaceSpec:
        _check_planes(self.planes, self.lattice)
        if self.d_values is None:
            self.d_values = displacement_values(self.d_min, self.d_max, self.n).tolist()
        lattice_constants(self.element, self.lattice, self.a, self.c)
        return self

    def build(self) -> list[Atoms]:
        """One displaced crystal per plane and displacement."""
        return displaced_crystals(
            self.element, self.lattice, self.planes, self.d_values,  # type: ignore[arg-type]
            layers=self.layers, size=tuple(self.size), mode=self.mode,  # type: ignore[arg-type]
            direction=tuple(self.direction), a=self.a, c=self.c,
        )


class SurfaceSpec(StrictModel):
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
    lattice: Lattice
    planes: Planes
    layers: int = 4
    vacuum: Finite = Field(10.0, gt=0)
    size: list[Positive] = Field([1, 1], min_length=2, max_length=2)
    a: float | None = None
    c: float | None = None

    @model_validator(mode="after")
    def _planes(self) -> SurfaceSpec:
        _check_planes(self.planes, self.lattice)
        return self

    def build(self) -> list[Atoms]:
        """One slab per plane."""
        return [
            slab(oriented_crystal(self.element, self.lattice, p, layers=self.layers,
                                  size=tuple(self.size), a=self.a, c=self.c),  # type: ignore[arg-type]
                 vacuum=self.vacuum)
            for p in self.planes
        ]


class AlloySpec(StrictModel):
    """Random alloys made from every base structure.

    Attributes:
        compositions: list of species -> fraction tables, e.g. [{"Al": 0.5, "Mg": 0.5}].
        n: random realisations per base structure and composition.
        keep_pure: keep the pure base structures as well (default True).
    """

    compositions: Annotated[list[dict[str, float]], BeforeValidator(_as_list)] = Field(min_length=1)
    n: Positive = 1
    keep_pure: bool = True

    @model_validator(mode="after")
    def _counts(self) -> AlloySpec:
        for comp in self.compositions:
            composition_counts(1, comp)
        return self


class ScaleSpec(StrictModel):
    """Uniform compression/dilation: lengths scaled by alpha (volume by alpha^3).

    Attributes:
        alpha_min, alpha_max, n: n values evenly spaced in [alpha_min, alpha_max] (paper:
            0.96-1.04).
        values: explicit alphas (instead of the range).
    """

    alpha_min: float = 0.96
    alpha_max: float = 1.04
    n: int = 5
    values: list[Annotated[Finite, Field(gt=0)]] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _derive(self) -> ScaleSpec:
        if self.values is None:
            self.values = alpha_values(self.alpha_min, self.alpha_max, self.n).tolist()
        return self


class PerturbSpec(StrictModel):
    """Random perturbation (see :mod:`pesgen.structures.perturb`).

    Attributes:
        n: perturbed copies of each (structure, alpha).
        sigma_a: rms atomic displacement, Å (paper 0.01).
        sigma_c: rms relative change of each cell vector (paper 0.03).
        keep_unperturbed: also keep the unperturbed structure.
    """

    n: int = Field(1, ge=0)
    sigma_a: Finite = Field(0.01, ge=0)
    sigma_c: Finite = Field(0.03, ge=0)
    keep_unperturbed: bool = False

    @model_validator(mode="after")
    def _something_left(self) -> PerturbSpec:
        if self.n == 0 and not self.keep_unperturbed:
            raise StructureSpecError("'n' = 0 with keep_unperturbed = false leaves no structure")
        return self


class FilesSpec(StrictModel):
    """Structures read from files (POSCAR, extxyz, anything ``ase.io.read`` knows), one system.

    DP-GEN's ``sys_configs`` entries map onto these: each is a list of glob patterns whose sorted
    matches are the starting configurations of one system. They are taken as they are (no scale,
    perturbation or alloying: DP-GEN's configurations are already scaled and perturbed).

    Attributes:
        system: the system id every structure gets (``info["system"]``), e.g. "sys000".
        paths: files or glob patterns (relative ones against the config's folder).
        format: ``ase.io.read`` format; None: ASE guesses (POSCAR/CONTCAR names are VASP).
    """

    system: str = Field(..., min_length=1)
    paths: Annotated[list[ConfigPath], BeforeValidator(_as_list)] = Field(..., min_length=1)
    format: str | None = None

    @model_validator(mode="after")
    def _matches(self) -> FilesSpec:
        for pattern in self.paths:
            if not _glob(pattern):
                raise StructureSpecError(f"system {self.system!r}: {pattern} matches no file")
        return self

    def files(self) -> list[str]:
        """The matched files: each pattern's sorted matches, in pattern order, without repeats."""
        return list(dict.fromkeys(f for pattern in self.paths for f in _glob(pattern)))

    def build(self) -> list[Atoms]:
        """Every structure of every matched file (all frames of a trajectory)."""
        from ase.io import read

        out = []
        for path in self.files():
            try:
                images = read(path, index=":", format=self.format)
            except Exception as err:  # ase raises many types on unreadable files
                raise StructureSpecError(f"system {self.system!r}: cannot read {path}: "
                                         f"{type(err).__name__}: {err}") from err
            for atoms in images if isinstance(images, list) else [images]:
                bare = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
                bare.info["system"] = self.system
                bare.info["source"] = path
                out.append(bare)
        return out


def _glob(pattern: str) -> list[str]:
    import glob

    return sorted(p for p in glob.glob(pattern) if Path(p).is_file())


def _listed(cls: type) -> Any:
    return Annotated[list[cls], BeforeValidator(_as_list)]  # type: ignore[valid-type]


class InitialStructureSpec(StrictModel):
    """The full declaration of the initial structures.

    Attributes:
        crystals: perfect crystals.
        displacements: rigidly displaced crystals.
        surfaces: slabs.
        files: structures read from files, one system each, taken as they are.
        alloys: random alloys of all base structures (None: pure only).
        scale: scale factors (None: alpha = 1 only).
        perturb: perturbations (None: no perturbation).
        seed: seed of the numpy generator.
    """

    crystals: _listed(CrystalSpec) = []  # type: ignore[valid-type]
    displacements: _listed(DisplaceSpec) = []  # type: ignore[valid-type]
    surfaces: _listed(SurfaceSpec) = []  # type: ignore[valid-type]
    files: _listed(FilesSpec) = []  # type: ignore[valid-type]
    alloys: AlloySpec | None = None
    scale: ScaleSpec | None = None
    perturb: PerturbSpec | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _something(self) -> InitialStructureSpec:
        if not (self.crystals or self.displacements or self.surfaces or self.files):
            raise StructureSpecError("declares no structures; give 'crystals', 'displacements', 'surfaces' "
                                     "or 'files'")
        return self

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "initial_structures") -> InitialStructureSpec:
        """Parse a config table; errors name the offending key, e.g. ``crystals[1].size``."""
        return parse(cls, data, where, StructureSpecError)

    def build(self, rng: np.random.Generator | None = None) -> list[Atoms]:
        """The structures (see :func:`generate_initial_structures`)."""
        return generate_initial_structures(self, rng)


def generate_initial_structures(spec: InitialStructureSpec | Mapping[str, Any],
                                rng: np.random.Generator | None = None) -> list[Atoms]:
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
                for _ in range(spec.alloys.n):
                    with_alloys.append(random_alloy(base, comp, rng))
    from_files = [a for item in spec.files for a in item.build()]
    if not with_alloys:
        return from_files
    alphas = spec.scale.values if spec.scale is not None else [1.0]
    if spec.perturb is None:
        return scaled_and_perturbed(with_alloys, rng, alphas, n_perturbed=0, sigma_a=0.0,
                                    sigma_c=0.0, keep_unperturbed=True) + from_files
    return scaled_and_perturbed(
        with_alloys, rng, alphas, n_perturbed=spec.perturb.n, sigma_a=spec.perturb.sigma_a,
        sigma_c=spec.perturb.sigma_c, keep_unperturbed=spec.perturb.keep_unperturbed,
    ) + from_files
