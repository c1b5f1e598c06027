"""``pesgen report RUN``: the HTML report of a run directory."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()


def report_command(
    run_dir: Path = typer.Argument(..., help="A run directory."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for index.html and the plots (default RUN/report)."),
) -> None:
    """Write an HTML report with plots: deviations, ratios, learning curves, parity, indicator calibration."""
    from pesgen.report.html import write_report

    page = write_report(run_dir, out)
    console.print(f"report: {page}", highlight=False)
