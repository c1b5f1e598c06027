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
    compress: bool = typer.Option(True, "--compress/--no-compress",
                                  help="Evaluate MODEL compressed (tabulated embedding nets, the default) "
                                       "or with its exact nets."),
) -> None:
    """Materials-property tests of MODEL against a reference, side by side (the paper's Table I, Figs. 2-6)."""
    from pesgen.validate.calculators import (
        load_model_calculator,
        make_reference_calculator,
        parse_reference,
        reference_name,
    )
    from pesgen.validate.config import load_config
    from pesgen.validate.plots import save_plots
    from pesgen.validate.runner import run_validation
    from pesgen.validate.table import print_results, write_json

    settings = load_config(config)
    model_calc = load_model_calculator(model, compress=compress)
    names = [e.strip() for e in elements.split(",")] if elements else (
        settings.elements or list(model_calc.model.type_map))
    spec = parse_reference(reference, names)
    ref_calc = make_reference_calculator(spec)
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


def evaluate_command(
    model: Path = typer.Argument(..., help="A model or ensemble file written by pesgen, or a run directory "
                                 "(its latest ensemble)."),
    frames: list[Path] = typer.Argument(..., help="Labelled frames: extxyz or anything ase.io reads."),
    key: str = typer.Option("category", "--key", help="The info key that names a frame's category "
                            "(frames without it are grouped by file)."),
    force_target: float = typer.Option(0.05, help="Force RMSE goal, eV/Å (or 10 % of the category's "
                                       "force RMS where larger)."),
    energy_target: float = typer.Option(5.0, help="Energy RMSE goal, meV/atom."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON instead of a table."),
) -> None:
    """Energy, force and virial errors of MODEL on labelled FRAMES per category, worst first (`dp test`)."""
    import json

    from rich import box
    from rich.table import Table

    from pesgen.validate.calculators import load_model
    from pesgen.validate.evaluate import evaluate, read_frames

    groups = read_frames(frames, key)
    potential = load_model(model)
    rows = evaluate(potential, groups, force_target=force_target, energy_target=energy_target)
    if as_json:
        print(json.dumps([row.as_dict() for row in rows], indent=1))
        return
    table = Table(title=f"{model}: errors per category, worst first", box=box.SIMPLE_HEAD,
                  caption="E, W (virial): meV/atom; F: eV/Å. score = max(F RMSE / max(goal, 10 % of F RMS), "
                          "E RMSE / goal); above 1 misses the goal")
    table.add_column("category", no_wrap=True)
    for col in ("frames", "atoms", "E RMSE", "E MAE", "F RMSE", "F RMS", "max |ΔF|", "W RMSE", "score"):
        table.add_column(col, justify="right")
    for r in rows:
        virial = "-" if r.virial_rmse is None else f"{r.virial_rmse:.1f}"
        table.add_row(r.category, str(r.n_frames), str(r.n_atoms), f"{r.energy_rmse:.1f}", f"{r.energy_mae:.1f}",
                      f"{r.force_rmse:.3f}", f"{r.force_rms:.3f}", f"{r.force_max_error:.3f}", virial,
                      f"{r.score:.2f}")
    console.print(table)
