"""The ``pesgen test --config FILE`` settings (TOML, pydantic, unknown keys rejected).

Example::

    elements = ["Al"]
    properties = ["equilibrium", "eos", "elastic", "defects", "stacking", "surfaces", "phonons"]
    [defects]
    supercell = 7
    [surfaces]
    miller_max = 3
    [liquid]
    temperature = 943.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from pesgen.schema import StrictModel, parse, read_toml
from pesgen.structures.alloys import PROTOTYPES
from pesgen.validate.errors import ValidationConfigError

PropertyName = Literal["equilibrium", "eos", "elastic", "defects", "stacking", "surfaces", "phonons",
                       "liquid", "alloys", "melting"]
#: What ``pesgen test`` runs without ``--full`` (minutes on 2 cores with an oracle).
DEFAULT_PROPERTIES: tuple[str, ...] = ("equilibrium", "eos", "elastic", "defects", "stacking", "surfaces",
                                       "phonons")
#: What ``--full`` runs.
ALL_PROPERTIES: tuple[str, ...] = DEFAULT_PROPERTIES + ("liquid", "alloys", "melting")

Lattice = Literal["fcc", "hcp", "bcc"]
#: The crystals of the equilibrium and equation-of-state tests (the paper's Fig. 4 set).
CRYSTALS = ("fcc", "hcp", "bcc", "sc", "diamond", "dhcp")


class RelaxConfig(StrictModel):
    fmax: float = Field(1e-3, gt=0, description="force criterion, eV/Å")
    steps: int = Field(400, ge=1)


class EosConfig(StrictModel):
    structures: list[str] | None = Field(None, description="default: the top-level structures")
    v_min: float = Field(0.7, gt=0, description="smallest volume, times V0")
    v_max: float = Field(1.6, gt=0, description="largest volume, times V0")
    points: int = Field(19, ge=3)


class ElasticConfig(StrictModel):
    structures: list[str] | None = Field(None, description="default: the element's lattice")
    strain: float = Field(0.005, gt=0, lt=0.05)


class DefectsConfig(StrictModel):
    supercell: int = Field(4, ge=2, le=12, description="primitive cells per edge (paper: 7)")


class StackingConfig(StrictModel):
    layers: int = Field(12, ge=6, le=60)
    gsf_points: int = Field(11, ge=3)


class SurfacesConfig(StrictModel):
    miller_max: int | dict[str, int] | None = Field(
        None, description="largest Miller index (or per element); default 1, with --full 3 (cubic) / 2 (hcp)")
    min_thickness: float = Field(10.0, gt=0, description="Å")
    vacuum: float = Field(8.0, gt=0, description="Å on each side")
    relaxed: bool = True


class PhononsConfig(StrictModel):
    supercell: int = Field(3, ge=1, le=8)
    path: str | None = Field(None, description="ASE band path, e.g. 'GXKGL'; default ASE's standard path")
    npoints: int = Field(120, ge=10)


class LiquidConfig(StrictModel):
    temperature: float = Field(1000.0, gt=0, description="K")
    supercell: int = Field(3, ge=2, description="cubic fcc cells per edge (4 atoms each)")
    timestep: float = Field(2.0, gt=0, description="fs")
    melt_steps: int = Field(500, ge=0)
    equilibration_steps: int = Field(1000, ge=0)
    production_steps: int = Field(2000, ge=20)
    sample_every: int = Field(10, ge=1)
    reference: bool = Field(True, description="also run the reference's MD (cheap for oracles)")


class MeltingConfig(StrictModel):
    t_low: float = Field(600.0, gt=0, description="K; the solid must grow here")
    t_high: float = Field(1300.0, gt=0, description="K; the solid must melt here")
    supercell: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [3, 3, 8], min_length=3, max_length=3,
        description="conventional cells (x, y, z); the interfaces are normal to z")
    timestep: float = Field(2.0, gt=0, description="fs")
    solid_steps: int = Field(1000, ge=0)
    melt_steps: int = Field(1000, ge=1)
    trial_steps: int = Field(2000, ge=20)
    bisections: int = Field(5, ge=1)
    enthalpy_steps: int = Field(1000, ge=20)
    reference: bool = Field(True, description="also run the reference (cheap for oracles)")


class AlloysConfig(StrictModel):
    elements: list[str] | None = Field(None, description="A and B of the built-in prototypes; default the "
                                       "first two elements")
    prototypes: list[Literal[PROTOTYPES]] = Field(default_factory=lambda: list(PROTOTYPES))  # type: ignore[valid-type]
    files: list[Annotated[Path, Field(strict=False)]] = Field(
        default_factory=list, description="CIF/POSCAR/extxyz files of ordered structures")
    vacancies: bool = True
    min_atoms: int = Field(32, ge=2)


class ValidateConfig(StrictModel):
    """All settings of ``pesgen test``; every section is optional."""

    elements: list[str] | None = Field(None, description="default: the model's type map")
    properties: list[PropertyName] | None = Field(None, description="default: the fast set; --full: all")
    structures: list[Literal[CRYSTALS]] = Field(default_factory=lambda: list(CRYSTALS))  # type: ignore[valid-type]
    lattice: dict[str, Lattice] = Field(default_factory=dict, description="element -> its lattice; "
                                        "default ASE's reference state")
    relax: RelaxConfig = Field(default_factory=RelaxConfig)
    eos: EosConfig = Field(default_factory=EosConfig)
    elastic: ElasticConfig = Field(default_factory=ElasticConfig)
    defects: DefectsConfig = Field(default_factory=DefectsConfig)
    stacking: StackingConfig = Field(default_factory=StackingConfig)
    surfaces: SurfacesConfig = Field(default_factory=SurfacesConfig)
    phonons: PhononsConfig = Field(default_factory=PhononsConfig)
    liquid: LiquidConfig = Field(default_factory=LiquidConfig)
    alloys: AlloysConfig = Field(default_factory=AlloysConfig)
    melting: MeltingConfig = Field(default_factory=MeltingConfig)


def parse_config(data: dict, source: str = "config") -> ValidateConfig:
    """Validate a dict; :class:`ValidationConfigError` names the file and each bad key."""
    return parse(ValidateConfig, data, source, ValidationConfigError)


def load_config(path: str | Path | None) -> ValidateConfig:
    """Read and validate a TOML file (``None``: all defaults)."""
    if path is None:
        return ValidateConfig()
    _, data = read_toml(path, ValidationConfigError)
    return parse_config(data, str(path))
