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
    from pesgen.loop.errors import LoopError
    from pesgen.report.html import write_report

    try:
        page = write_report(run_dir, out)
    except LoopError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False)
        raise typer.Exit(code=1) from err
    console.print(f"report: {page}", highlight=False)
