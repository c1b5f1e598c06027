"""Provenance of a labeled frame: where it came from and who labeled it.

The store keeps provenance as ase.db key-value pairs, so users can query it with ``ase db``
(e.g. ``ase db store.db iteration=3,origin=explored``). ase.db refuses text values that look
like numbers or booleans ("12", "1e5", "True"); such strings are stored behind the marker
``str:`` and restored exactly when read back.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, fields
from typing import Any

from ase.db.core import convert_str_to_int_float_bool_or_str

ORIGINS = ("initial", "explored", "audit", "imported")
STRING_MARKER = "str:"


@dataclass(frozen=True)
class Provenance:
    """Where a labeled frame came from.

    Attributes:
        iteration: active-learning iteration that produced the frame (0 for initial data).
        origin: "initial" (initial data set), "explored" (selected by exploration), "audit"
            (a random explored frame labeled to measure the error) or "imported" (from files).
        system: system / structure id, e.g. "fcc-Al-2x2x2".
        temperature: walker temperature in K, if any.
        pressure: walker pressure in bar, if any.
        walker: walker index, if any.
        step: MD step of the walker at which the frame was recorded, if any.
        deviation: maximal force model deviation at selection, eV/Å.
        labeler: labeler name, e.g. "emt", "lammps-meam", "gpaw".
        labeler_hash: hash of the labeler's settings.
        wall_time: wall time spent labeling, s.
        task_id: stable id of the label task (exactly-once labeling, resume).
        label_settings: of a failed label, a hash of the labeler's settings and the label policy
            (time limit, retries, force bound) it failed under; a resumed run retries the failures
            whose settings have changed since.
    """

    iteration: int = 0
    origin: str = "initial"
    system: str = ""
    temperature: float | None = None
    pressure: float | None = None
    walker: int | None = None
    step: int | None = None
    deviation: float | None = None
    labeler: str = ""
    labeler_hash: str = ""
    wall_time: float | None = None
    task_id: str | None = None
    label_settings: str = ""

    def replace(self, **changes: Any) -> Provenance:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


_INT_FIELDS = ("iteration", "walker", "step")
_FLOAT_FIELDS = ("temperature", "pressure", "deviation", "wall_time")
_STR_FIELDS = ("origin", "system", "labeler", "labeler_hash", "task_id", "label_settings")
FIELD_NAMES = tuple(f.name for f in fields(Provenance))


def for_source(template: Provenance | None, name: str) -> Provenance:
    """Provenance of frames read from a file or folder named ``name``: ``template`` (default
    ``Provenance(origin="imported")``) with ``system`` set to ``name`` if it is empty."""
    prov = template if template is not None else Provenance(origin="imported")
    return prov if prov.system else prov.replace(system=name)


def check_provenance(prov: Provenance, where: str, error: type[Exception] = ValueError) -> None:
    """Raise ``error`` naming ``where`` if a field has the wrong type or a non-finite value."""
    if not isinstance(prov, Provenance):
        raise error(f"{where}: provenance must be a Provenance, got {type(prov).__name__}")
    for name in _INT_FIELDS:
        value = getattr(prov, name)
        if value is None and name != "iteration":
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != int(value):
            raise error(f"{where}: provenance.{name} must be an integer, got {value!r}")
    for name in _FLOAT_FIELDS:
        value = getattr(prov, name)
        if value is None:
            continue
        bad = isinstance(value, bool) or not isinstance(value, numbers.Real)
        if bad or not math.isfinite(value):
            raise error(f"{where}: provenance.{name} must be a finite number, got {value!r}")
    for name in _STR_FIELDS:
        value = getattr(prov, name)
        if value is None and name == "task_id":
            continue
        if not isinstance(value, str):
            raise error(f"{where}: provenance.{name} must be a string, got {value!r}")


def encode_text(value: str) -> str:
    """Encode a string so that ase.db accepts it as a text key-value pair (reversible)."""
    if value.startswith(STRING_MARKER) or value == "" or not isinstance(
        convert_str_to_int_float_bool_or_str(value), str
    ):
        return STRING_MARKER + value
    return value


def decode_text(value: str) -> str:
    """Inverse of :func:`encode_text`."""
    if value.startswith(STRING_MARKER):
        return value[len(STRING_MARKER):]
    return value


def to_key_value_pairs(prov: Provenance) -> dict[str, int | float | str]:
    """Provenance as ase.db key-value pairs (``None`` fields and empty default strings left out)."""
    kvp: dict[str, int | float | str] = {}
    for name in _INT_FIELDS:
        value = getattr(prov, name)
        if value is not None:
            kvp[name] = int(value)
    for name in _FLOAT_FIELDS:
        value = getattr(prov, name)
        if value is not None:
            kvp[name] = float(value)
    for name in _STR_FIELDS:
        value = getattr(prov, name)
        if value is None or (value == "" and name != "task_id"):
            continue
        kvp[name] = encode_text(value)
    return kvp


def from_key_value_pairs(kvp: dict[str, Any]) -> Provenance:
    """Rebuild a :class:`Provenance` from key-value pairs written by :func:`to_key_value_pairs`."""
    values: dict[str, Any] = {}
    for name in _INT_FIELDS:
        if name in kvp:
            values[name] = int(kvp[name])
    for name in _FLOAT_FIELDS:
        if name in kvp:
            values[name] = float(kvp[name])
    for name in _STR_FIELDS:
        if name in kvp:
            values[name] = decode_text(str(kvp[name]))
    return Provenance(**values)


def to_plain_dict(prov: Provenance) -> dict[str, Any]:
    """All fields as a JSON-friendly dict (``None`` kept)."""
    return dataclasses.asdict(prov)


def from_plain_dict(dct: dict[str, Any], where: str) -> Provenance:
    """Inverse of :func:`to_plain_dict`; unknown keys raise ``ValueError`` naming ``where``."""
    unknown = set(dct) - set(FIELD_NAMES)
    if unknown:
        raise ValueError(f"{where}: unknown provenance keys {sorted(unknown)}")
    prov = Provenance(**dct)
    check_provenance(prov, where)
    return prov
