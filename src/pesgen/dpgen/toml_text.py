"""A commented TOML document built table by table (what ``pesgen import-dpgen`` writes).

Values are TOML's: strings, integers, floats, booleans, lists and tables (written inline inside
lists and values). Each key may carry a comment after it and each table comment lines above it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def key_text(key: str) -> str:
    """A key, quoted unless bare."""
    return key if _BARE_KEY.match(key) else json.dumps(key)


def value_text(value: Any) -> str:
    """A TOML value (inline tables for mappings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key_text(str(k))} = {value_text(v)}" for k, v in value.items()) + " }" \
            if value else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}: {value!r}")


@dataclass
class Table:
    """One ``[name]`` (or ``[[name]]``) table: comment lines, then ``key = value  # comment`` lines."""

    name: str
    comments: list[str] = field(default_factory=list)
    items: list[tuple[str, Any, str]] = field(default_factory=list)
    array: bool = False

    def set(self, key: str, value: Any, comment: str = "") -> Table:
        if value is not None:
            self.items.append((key, value, comment))
        return self

    def note(self, line: str) -> Table:
        """A comment line inside the table, after its keys so far."""
        self.items.append(("", None, line))
        return self

    def text(self) -> str:
        lines = [f"# {c}" if c else "#" for c in self.comments]
        if self.name:
            lines.append(f"[[{self.name}]]" if self.array else f"[{self.name}]")
        for key, value, comment in self.items:
            if not key:
                lines.append(f"# {comment}")
                continue
            line = f"{key_text(key)} = {value_text(value)}"
            lines.append(f"{line}  # {comment}" if comment else line)
        return "\n".join(lines)


@dataclass
class Document:
    """Tables in the order they were added; the first (name "") holds the top-level keys."""

    header: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=lambda: [Table("")])

    @property
    def top(self) -> Table:
        return self.tables[0]

    def table(self, name: str, *comments: str, array: bool = False) -> Table:
        table = Table(name, list(comments), array=array)
        self.tables.append(table)
        return table

    def text(self) -> str:
        parts = ["\n".join(f"# {h}" if h else "#" for h in self.header)] if self.header else []
        parts += [t.text() for t in self.tables if t.items or t.comments or t.name]
        return "\n\n".join(p for p in parts if p) + "\n"
