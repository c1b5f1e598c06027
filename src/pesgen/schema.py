"""The one strict base of every config model and the translation of pydantic errors.

Config models live next to what they configure (a labeler's settings in its module, a structure
generator's beside it, ...) and derive from :class:`StrictModel`: unknown keys are errors and
types are strict (a string is never a number, a float never an integer), except that an integer
is accepted where a float is expected (TOML's ``t_min = 50``). A model with a choice of
implementations has a ``kind`` literal and the choices are joined by discriminated unions.

:func:`read_toml` reads a config file; :func:`parse` validates a table against a model (or
union) and raises a :class:`~pesgen.errors.ConfigError` (or the subclass given) with one
``(key path, message)`` per problem, from :func:`problems`.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter, ValidationError, ValidationInfo

from pesgen.errors import ConfigError


class StrictModel(BaseModel):
    """Base of all config models: unknown keys rejected, strict types (int accepted as float)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _resolve(value: str, info: ValidationInfo) -> str:
    base = (info.context or {}).get("base")
    path = Path(value).expanduser()
    return value if base is None else str(path if path.is_absolute() else (Path(base) / path).resolve())


#: A path in a config file: relative ones are resolved against the folder given as the
#: ``base`` of the validation context (:func:`parse`), i.e. the config file's folder.
ConfigPath = Annotated[str, AfterValidator(_resolve)]


def _members(tp: Any) -> list[Any]:
    """The candidate types of an annotation (unions and Annotated unwrapped, None dropped)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _members(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _members(a)]
    return [] if tp is type(None) else [tp]


def _fields(tp: Any) -> dict[str, Any] | None:
    """Field name -> annotation of a model or dataclass; None for other types."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {k: f.annotation for k, f in tp.model_fields.items()}
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return {f.name: hints[f.name] for f in dataclasses.fields(tp)}
    return None


def _step(tp: Any, part: str | int) -> tuple[Any, bool]:
    """The type found at ``part`` below ``tp``, and whether ``part`` was a union's kind tag."""
    members = _members(tp)
    for cand in members if len(members) > 1 else ():
        kind = (_fields(cand) or {}).get("kind")
        if kind is not None and part in typing.get_args(kind):
            return cand, True
    for cand in members:
        fields = _fields(cand)
        if fields is not None and part in fields:
            return fields[part], False
        origin, args = typing.get_origin(cand), typing.get_args(cand)
        if isinstance(part, int) and origin in (list, tuple) and args:
            return args[0], False
        if isinstance(part, str) and origin is dict and len(args) == 2:
            return args[1], False
    return None, False


def _dotted(parts: list) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")


def _walk(root: Any, loc: tuple) -> tuple[str, str, Any]:
    """(key path, prefix, type) of ``loc``; inside a table chosen by its ``kind`` the key path stops
    at that table and the prefix names the kind and the rest of the path ("kind 'gpaw': ecut: ")."""
    outer: list = []
    inner: list = []
    tp, kind = root, None
    for part in loc:
        tp, is_tag = _step(tp, part)
        if is_tag and kind is None:
            kind = part
        else:
            (outer if kind is None else inner).append(part)
    prefix = "" if kind is None else f"kind {kind!r}: " + (f"{_dotted(inner)}: " if inner else "")
    return _dotted(outer), prefix, tp


_KEY_ERRORS = {"extra_forbidden": "unknown", "unexpected_keyword_argument": "unknown",
               "missing": "missing", "missing_keyword_argument": "missing"}


def _given(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problems(err: ValidationError, root: Any) -> list[tuple[str, str]]:
    """(key path, message) for every error pydantic found validating ``root``; unknown and
    missing keys of one table are reported together, unknown ones with the keys it allows."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    allowed: dict[tuple[str, str, str], list[str]] = {}
    plain: list[tuple[str, str]] = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        kind = e["type"]
        if kind in _KEY_ERRORS:
            key, inner, owner = _walk(root, loc[:-1])
            what = _KEY_ERRORS[kind]
            if what == "unknown" and not inner:  # in a plain table the key itself is the path
                key = key + ("." if key else "") + str(loc[-1])
            group = (key, inner, what)
            grouped.setdefault(group, []).append(str(loc[-1]))
            if what == "unknown":
                allowed[group] = [f for m in _members(owner) for f in (_fields(m) or {}) if f != "kind"]
            continue
        key, inner, _ = _walk(root, loc)
        msg = str(e["msg"])
        if kind == "value_error":
            text = msg.removeprefix("Value error, ")
        elif kind == "union_tag_invalid":
            text = f"unknown kind {e['ctx']['tag']!r}; choose one of {e['ctx']['expected_tags']}"
        elif kind == "union_tag_not_found":
            text = "missing key(s) ['kind']"
        else:
            expected = (msg[0].lower() + msg[1:]).removeprefix("input should be ")
            text = f"expected {expected}, got {_given(e['input'])}"
        plain.append((key, inner + text))
    keyed = [(key, f"{inner}{what} key(s) {names}"
                   + (f"; allowed: {', '.join(allowed[(key, inner, what)])}" if what == "unknown" else ""))
             for (key, inner, what), names in grouped.items()]
    return keyed + plain


def parse(schema: Any, data: Any, where: str = "", error: type[ConfigError] = ConfigError,
          context: dict[str, Any] | None = None) -> Any:
    """``data`` validated against ``schema`` (a model, dataclass or union); every problem goes
    into one ``error(where, problems)``. ``context`` reaches the validators (``base``: the folder
    relative paths are resolved against)."""
    try:
        return TypeAdapter(schema).validate_python(data, context=context)
    except ValidationError as err:
        raise error(where, problems(err, schema)) from None


def read_toml(path: str | Path, error: type[ConfigError] = ConfigError) -> tuple[str, dict[str, Any]]:
    """The text and parsed table of a TOML file; a missing file or bad syntax is an ``error``."""
    path = Path(path)
    if not path.is_file():
        raise error(path, [("", "config file does not exist")])
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise error(path, [("", f"not a TOML file (not UTF-8 text: {err.reason} at byte {err.start})")]) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise error(path, [("", f"not valid TOML: {err}")]) from None
