"""``pesgen init | run | status | check | export``: typer functions, registered in :mod:`pesgen.cli`.

Lines are printed with ``soft_wrap``: rich never breaks them, so a log file or a Slurm output
holds each iteration line and each suggested command whole (a terminal wraps them itself)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()

#: exit status of ``pesgen run`` when the run finished without converging (1: error, 2: usage)
NOT_CONVERGED = 3


def init(
    example: str = typer.Argument(..., help="Template to start from: al-emt, almg-meam or al-gpaw."),
    out: Path = typer.Option(None, "--out", "-o", help="Where to write the config (default: EXAMPLE.toml)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented run config to start from."""
    from pesgen.errors import PesgenError
    from pesgen.loop.templates import TEMPLATES, template_text

    if example not in TEMPLATES:
        raise PesgenError(f"unknown example {example!r}; choose one of {', '.join(TEMPLATES)}")
    out = out or Path(f"{example}.toml")
    if out.exists() and not force:
        raise PesgenError(f"{out} exists (use --force to overwrite)")
    out.write_text(template_text(example))
    console.print(f"wrote {out}; edit it, then: pesgen run {out}", highlight=False, soft_wrap=True)


def run(
    config: Path = typer.Argument(..., help="A run config (TOML), or a run directory to resume."),
    dir: Path = typer.Option(None, "--dir", "-d", help="Run directory (default: ./run-NAME)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    from_run: Path = typer.Option(None, "--from", help="Start a new run from this run's labels and latest "
                                  "ensemble (more stages, systems or elements; docs/dpgen.md)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Label again the failed labels (by default "
                                      "only those that failed under other [label] or [label_policy] settings)."),
) -> None:
    """Run the active-learning loop (train, explore, audit, select, label) until converged.

    The same command resumes a stopped or killed run where it stopped. Exit status: 0 converged,
    3 finished without converging, 1 error."""
    from pesgen.loop.runner import run_loop

    result = run_loop(config, dir, console=console, quiet=quiet, from_run=from_run,
                      retry_failed=retry_failed)
    console.print(f"run directory: {result.run_dir}", highlight=False, soft_wrap=True)
    if result.model is not None:
        console.print(f"model (latest ensemble): {result.model}", highlight=False, soft_wrap=True)
    console.print(f"status: pesgen status {result.run_dir}    report: pesgen report {result.run_dir}",
                  highlight=False, soft_wrap=True)
    if not result.converged:
        console.print(f"exit status {NOT_CONVERGED}: the run finished without converging", highlight=False,
                      soft_wrap=True)
        raise typer.Exit(code=NOT_CONVERGED)


def status(run_dir: Path = typer.Argument(..., help="A run directory."),
           wide: bool = typer.Option(False, "--wide", "-w", help="All columns: train RMSEs, energies, "
                                     "explored frames, the time of each step."),
           as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON: the run's state and "
                                        "one row per iteration (audit errors per system included).")) -> None:
    """Print the per-iteration table of a run (80 columns; --wide for all of them)."""
    from pesgen.loop.status import status_json, status_table

    if as_json:
        import json

        from pesgen.loop.rundir import json_default

        typer.echo(json.dumps(status_json(run_dir), indent=1, default=json_default, allow_nan=False))
        return

    view = status_table(run_dir, wide=wide)
    out = line_console(console, wide)
    out.print(view.table)
    out.print(view.legend, highlight=False, soft_wrap=not console.is_terminal)
    out.print(view.where, highlight=False, soft_wrap=not console.is_terminal)


def line_console(console: Console, wide: bool = False) -> Console:
    """The console to print a table on: ``console`` on a terminal; elsewhere (a file, a Slurm log)
    or for a ``wide`` table one that never cuts or wraps a line, so each row stays one line."""
    if console.is_terminal and not wide:
        return console
    return Console(width=100_000, file=console.file, force_terminal=console.is_terminal,
                   no_color=not console.is_terminal, highlight=False)


def check(run_dir: Path = typer.Argument(..., help="A run directory.")) -> None:
    """Check a run directory: the store's integrity (SQLite integrity_check), every file of the steps
    done, and the state against them. Exit status 1 and one line per damaged file when not whole;
    `pesgen run` performs the same check before it resumes."""
    from pesgen.loop.check import require_whole
    from pesgen.loop.rundir import RunDir

    run = RunDir(run_dir)
    require_whole(run)
    state = run.load_state()
    console.print(f"{run.path}: whole (store, state.json and the files of {len(state.done)} steps done)",
                  highlight=False)


def export(
    source: Path = typer.Argument(..., help="A run directory, or a pesgen model file."),
    out: Path = typer.Option(None, "--out", "-o", help="What to write: the model file (--format pesgen) or the "
                             "folder (--format deepmd)."),
    iteration: int = typer.Option(None, "--iteration", help="Export this iteration's ensemble instead."),
    fmt: str = typer.Option("pesgen", "--format", "-f", help="pesgen (one model file) or deepmd "
                            "(DeePMD-kit 3.x frozen models graph.000.pth ... and a README)."),
    compress: bool = typer.Option(False, "--compress", help="--format deepmd: also write "
                                  "graph.NNN.compressed.pth (dp --pt compress)."),
    min_nbor_dist: float = typer.Option(None, "--min-nbor-dist", help="--format deepmd: the shortest interatomic "
                                        "distance of the training data, Å (default: from the run's store; "
                                        "compression needs it)."),
    model: Path = typer.Option(None, "--model", "-m", hidden=True, help="The old name of --out (--format pesgen)."),
) -> None:
    """Write a run's latest (or a given iteration's) ensemble, or a model file's, to a pesgen model file
    or to DeePMD-kit models (docs/interop.md)."""
    from pesgen.errors import PesgenError
    from pesgen.loop.export import FORMATS, export_deepmd, export_source

    if fmt not in FORMATS:
        raise PesgenError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if model is not None:
        if out is not None or fmt != "pesgen":
            raise PesgenError("--model is the old name of --out (--format pesgen); give --out alone")
        out = model
    if out is None:
        raise PesgenError(f"--format {fmt} needs --out {'FILE' if fmt == 'pesgen' else 'DIR'}")
    if not out.parent.is_dir():  # a typo in the path must not grow a tree of folders
        raise PesgenError(f"{out}: folder {out.parent} does not exist; create it first or choose another --out")
    src = export_source(source, iteration)
    if fmt == "pesgen":
        src.model.save(out)
        console.print(f"wrote {out} ({src.model!r}, from {src.path})", highlight=False, soft_wrap=True)
        return
    result = export_deepmd(src, out, compress=compress, min_nbor_dist=min_nbor_dist)
    files = [p.name for p in result.models + result.compressed]
    console.print(f"wrote {out}: {' '.join(files)} and README.md (DeePMD-kit, from {src.path})", highlight=False,
                  soft_wrap=True)
    if result.removed:
        console.print(f"removed {len(result.removed)} stale model files of an earlier export: "
                      f"{' '.join(p.name for p in result.removed)}", highlight=False, soft_wrap=True)
