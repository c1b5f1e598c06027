"""``pesgen test MODEL --reference REF [--config FILE] [--full] [--out DIR]``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console(width=None if Console().is_terminal else 110)


def test_command(
    model: Path = typer.Argument(..., help="A model or ensemble file written by pesgen, or a run directory "
                                 "(its latest ensemble; results then go to RUN/validation and into `pesgen report`)."),
    reference: str = typer.Option("emt", "--reference", "-r",
                                  help="emt, meam, eam-al, eam-mg, eam-al-zhou, a JSON labeler config "
                                       "('{\"kind\": \"lammps\", \"preset\": ...}') or another model file."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML file of the test settings."),
    full: bool = typer.Option(False, "--full", help="All properties (liquid MD, alloys, Miller indices up to 3)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder for results.json and the PNG plots "
                                    "(default: RUN/validation for a run directory, else pesgen-test)."),
    elements: str | None = typer.Option(None, "--elements", help="Comma-separated elements (default: the "
                                        "config's, else the model's type map)."),
) -> None:
    """Materials-property tests of MODEL against a reference, side by side (the paper's Table I, Figs. 2-6)."""
    from pesgen.validate.calculators import (
        load_model_calculator,
        make_reference_calculator,
        parse_reference,
        reference_name,
    )
    from pesgen.validate.config import load_config
    from pesgen.validate.errors import ValidationError
    from pesgen.validate.plots import save_plots
    from pesgen.validate.runner import run_validation
    from pesgen.validate.table import print_results, write_json

    try:
        settings = load_config(config)
        model_calc = load_model_calculator(model)
        names = [e.strip() for e in elements.split(",")] if elements else (
            settings.elements or list(model_calc.model.type_map))
        spec = parse_reference(reference, names)
        ref_calc = make_reference_calculator(spec)
    except ValidationError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(code=2) from err
    with console.status("running") as status:
        results = run_validation(model_calc, ref_calc, settings, elements=names, full=full,
                                 model_name=model.name, reference_name=reference_name(spec),
                                 progress=lambda group: status.update(f"{group} ..."))
    print_results(results, console)
    if out is None:
        from pesgen.loop.rundir import VALIDATION_DIR

        out = model / VALIDATION_DIR if model.is_dir() else Path("pesgen-test")
    path = write_json(results, out / "results.json")
    plots = save_plots(results, out)
    console.print(f"wrote {path} and {len(plots)} plots in {out}/")
