"""Build Python objects from import paths given in configuration files."""

from __future__ import annotations

import importlib
from typing import Any

from pesgen.label.errors import LabelerConfigError


def import_object(path: str, key: str = "calculator") -> Any:
    """Import ``"package.module.Name"`` or ``"package.module:Name"``; errors name ``key``."""
    if not isinstance(path, str) or not path.strip():
        raise LabelerConfigError(f"{key!r} must be an import path like "
                                 f"'ase.calculators.emt.EMT'; got {path!r}")
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise LabelerConfigError(f"{key!r}: {path!r} is not an import path 'module.Name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise LabelerConfigError(f"{key!r}: cannot import module {module_name!r} "
                                 f"({err})") from err
    try:
        return getattr(module, attr)
    except AttributeError as err:
        raise LabelerConfigError(f"{key!r}: module {module_name!r} has no {attr!r}") from err


def build_value(value: Any, key: str) -> Any:
    """Recursively turn ``{"__class__": "mod.Name", "args": [...], "kwargs": {...}}`` entries
    into objects (e.g. ``gpaw.PW(350)`` or an ASE calculator profile); other values pass
    through (lists and dicts are walked). ``key`` names the place for error messages."""
    if isinstance(value, dict):
        if "__class__" in value:
            extra = set(value) - {"__class__", "args", "kwargs"}
            if extra:
                raise LabelerConfigError(f"{key!r}: unknown entries {sorted(extra)} beside "
                                         "'__class__' (allowed: 'args', 'kwargs')")
            cls = import_object(value["__class__"], f"{key}.__class__")
            args = [build_value(v, f"{key}.args[{i}]") for i, v in enumerate(value.get("args", []))]
            kwargs = {k: build_value(v, f"{key}.{k}") for k, v in value.get("kwargs", {}).items()}
            try:
                return cls(*args, **kwargs)
            except Exception as err:
                raise LabelerConfigError(f"{key!r}: {value['__class__']}(...) failed: "
                                         f"{type(err).__name__}: {err}") from err
        return {k: build_value(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(build_value(v, f"{key}[{i}]") for i, v in enumerate(value))
    return value
