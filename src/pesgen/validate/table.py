"""The terminal table (rich, like the paper's Table I) and the JSON file of a validation."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table


def _fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if unit == "eV/atom" or unit == "J/m^2" or unit == "eV":
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.3f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.3f}"


def results_table(results: dict) -> Table:
    """A rich Table: group, element, quantity, unit, model, reference, model - reference."""
    table = Table(title=f"pesgen test: {results['model']} vs {results['reference']}", box=box.SIMPLE_HEAD)
    for col, justify in (("group", "left"), ("el.", "left"), ("quantity", "left"), ("unit", "left"),
                         ("model", "right"), ("reference", "right"), ("model − ref.", "right")):
        table.add_column(col, justify=justify, no_wrap=col in ("quantity", "unit"))
    last = None
    for row in results["rows"]:
        group = row["group"] if row["group"] != last else ""
        if row["group"] != last and last is not None:
            table.add_section()
        last = row["group"]
        table.add_row(group, row["element"], row["quantity"], row["unit"], _fmt(row["model"], row["unit"]),
                      _fmt(row["reference"], row["unit"]), _fmt(row["difference"], row["unit"]))
    return table


def print_results(results: dict, console: Console | None = None) -> None:
    """Print the table, then any per-side errors and the time spent per group."""
    console = console or Console()
    console.print(results_table(results))
    for err in results.get("errors", []):
        console.print(f"[red]error[/red] {err['group']} {err['element']} ({err['side']}): {err['message']}")
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in results.get("timings", {}).items())
    if timings:
        console.print(f"time: {timings}")


def write_json(results: dict, path: str | Path) -> Path:
    """Write every number (rows, curves, errors, timings, config) as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=float))
    return path
