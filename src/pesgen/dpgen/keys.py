"""Reading a DP-GEN JSON file key by key: typed access with one-line errors, and the record of
every key that was not mapped (with the reason), so nothing is dropped silently.

DP-GEN's ``_comment...`` keys are comments and are left out (the written config says so).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pesgen.errors import ConfigError

_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
          dict: "a table (JSON object)"}


def read_json_file(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; a clear one-line error when it is missing, not JSON or not an object."""
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(path, [("", f"cannot read: {err.strerror or err}")]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(path, [("", f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}")]) \
            from None
    if not isinstance(data, dict):
        raise ConfigError(path, [("", f"expected a JSON object of DP-GEN parameters, got {type(data).__name__}")])
    return data


def absolute_path(path: str, base: Path, replace: Sequence[tuple[str, str]] = ()) -> str:
    """A path of a DP-GEN file: the first matching (old, new) prefix of ``replace`` rewritten,
    then made absolute against ``base`` (the file's folder)."""
    for old, new in replace:
        if path.startswith(old):
            path = new + path[len(old):]
            break
    return path if os.path.isabs(path) else os.path.normpath(str(base / path))


def joined(prefix: str | None, path: str) -> str:
    """DP-GEN's prefix + path (an absolute path ignores the prefix)."""
    return os.path.join(prefix, path) if prefix else path


def _is(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


@dataclass
class Unmapped:
    """The keys not carried into the pesgen config: (dotted key, reason)."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, key: str, reason: str) -> None:
        self.items.append((key, reason))


class Keys:
    """One JSON object of a DP-GEN file; ``get`` marks a key used, ``unmapped`` lists the rest."""

    def __init__(self, data: dict[str, Any], path: Path, unmapped: Unmapped, prefix: str = "") -> None:
        self.data, self.path, self.unmapped, self.prefix = data, path, unmapped, prefix
        self.used: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.path, [(self.where(key), message)])

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None, required: bool = False) -> Any:
        """The value of ``key`` checked against ``kind`` (a type or a tuple of allowed types)."""
        if key not in self.data:
            if required:
                raise self.error(key, "missing (is this DP-GEN's run param.json?)")
            return default
        self.used.add(key)
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not any(_is(value, k) for k in kinds):
            want = " or ".join(_NAMES.get(k, k.__name__) for k in kinds)
            raise self.error(key, f"expected {want}, got {json.dumps(value)[:60]}")
        return value

    def numbers(self, key: str, required: bool = False, integer: bool = False) -> list | None:
        """A list of numbers (a scalar stands for a list of one)."""
        value = self.get(key, (list, float), required=required)
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        kind = int if integer else float
        bad = [v for v in items if not _is(v, kind)]
        if bad:
            raise self.error(key, f"expected a list of {'integers' if integer else 'numbers'}, got {bad[0]!r} in it")
        return items

    def strings(self, key: str, required: bool = False) -> list[str] | None:
        value = self.get(key, (list, str), required=required)
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in items):
            raise self.error(key, "expected a list of strings")
        return items

    def child(self, key: str, required: bool = False) -> Keys | None:
        """The nested object ``key`` as its own Keys (its unused keys are listed with dotted names)."""
        value = self.get(key, dict, required=required)
        return None if value is None else Keys(value, self.path, self.unmapped, f"{self.where(key)}.")

    def skip(self, key: str, reason: str) -> None:
        """A key pesgen knows and does not map: listed with ``reason``."""
        if key in self.data and key not in self.used:
            self.used.add(key)
            self.unmapped.add(self.where(key), reason)

    def finish(self, reason: str = "not known to pesgen's import") -> None:
        """List every key that was neither used nor skipped (comments excepted)."""
        for key in self.data:
            if key not in self.used and not key.startswith("_comment"):
                self.unmapped.add(self.where(key), reason)
