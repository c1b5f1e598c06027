"""``make_labeler(config)``: build a labeler from a configuration dict (the loop's TOML)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pesgen.label.ase_calculator import AseCalculatorLabeler
from pesgen.label.base import Labeler
from pesgen.label.emt import EMTLabeler
from pesgen.label.errors import LabelerConfigError
from pesgen.label.faults import FaultInjectingLabeler
from pesgen.label.gpaw import GpawLabeler
from pesgen.label.lammps import LammpsLabeler


def _fault_injection(inner: dict[str, Any], delay: float = 0.0,
                     hang_seconds: float = 3600.0) -> FaultInjectingLabeler:
    return FaultInjectingLabeler(make_labeler(inner), delay=delay, hang_seconds=hang_seconds)


LABELER_KINDS: dict[str, Callable[..., Labeler]] = {
    "emt": EMTLabeler,
    "lammps": LammpsLabeler,
    "gpaw": GpawLabeler,
    "ase": AseCalculatorLabeler,
    "fault-injection": _fault_injection,
}


def make_labeler(config: dict[str, Any]) -> Labeler:
    """Build a labeler from ``{"kind": ..., <keyword arguments of that labeler>}``.

    Kinds: ``"emt"`` (:class:`EMTLabeler`), ``"lammps"`` (:class:`LammpsLabeler`),
    ``"gpaw"`` (:class:`GpawLabeler`), ``"ase"`` (:class:`AseCalculatorLabeler`),
    ``"fault-injection"`` (:class:`FaultInjectingLabeler`, ``inner`` is a labeler config).
    Unknown kinds and keys raise :class:`LabelerConfigError` naming them and what is allowed.
    """
    if not isinstance(config, dict):
        raise LabelerConfigError(f"labeler config must be a table/dict, "
                                 f"got {type(config).__name__}")
    kind = config.get("kind")
    if kind not in LABELER_KINDS:
        raise LabelerConfigError(f"labeler 'kind' is {kind!r}; choose one of "
                                 f"{sorted(LABELER_KINDS)}")
    builder = LABELER_KINDS[kind]
    kwargs = {k: v for k, v in config.items() if k != "kind"}
    params = inspect.signature(builder).parameters
    allowed = [p for p in params if p != "self"]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise LabelerConfigError(f"labeler kind {kind!r}: unknown key(s) {unknown}; "
                                 f"allowed: {allowed}")
    missing = [name for name, p in params.items()
               if p.default is inspect.Parameter.empty and name not in kwargs
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if missing:
        raise LabelerConfigError(f"labeler kind {kind!r}: missing key(s) {missing}")
    return builder(**kwargs)
