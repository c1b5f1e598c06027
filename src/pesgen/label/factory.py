"""The ``[label]`` table: one model per labeler kind, joined by ``kind``; ``make_labeler(config)``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from pesgen.label.ase_calculator import AseCalculatorSettings
from pesgen.label.base import Labeler
from pesgen.label.emt import EMTSettings
from pesgen.label.errors import LabelerConfigError
from pesgen.label.faults import FaultInjectionSettings
from pesgen.label.gpaw import GpawSettings
from pesgen.label.lammps import LammpsSettings
from pesgen.schema import parse

#: Settings of any labeler, chosen by ``kind``: "emt", "lammps", "gpaw", "ase" or "fault-injection"
#: (whose ``inner`` is another labeler table).
LabelerConfig = Annotated[EMTSettings | LammpsSettings | GpawSettings | AseCalculatorSettings
                          | FaultInjectionSettings, Field(discriminator="kind")]
FaultInjectionSettings.model_rebuild(_types_namespace={"LabelerConfig": LabelerConfig})


def make_labeler(config: dict[str, Any]) -> Labeler:
    """Build a labeler from ``{"kind": ..., <keyword arguments of that labeler>}``.

    Kinds: ``"emt"`` (:class:`EMTLabeler`), ``"lammps"`` (:class:`LammpsLabeler`),
    ``"gpaw"`` (:class:`GpawLabeler`), ``"ase"`` (:class:`AseCalculatorLabeler`),
    ``"fault-injection"`` (:class:`FaultInjectingLabeler`, ``inner`` is a labeler config).
    Unknown kinds and keys raise :class:`LabelerConfigError` naming them and what is allowed.
    """
    return parse(LabelerConfig, config, "label", LabelerConfigError).build()
