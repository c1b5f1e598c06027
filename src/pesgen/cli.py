"""The ``pesgen`` command line (typer).

Sub-command groups live beside the code they drive (e.g. ``pesgen.data.commands``) and are
registered here, so this file only says which commands exist.

Exit status of every command: 0 when it did its work, 1 on a :class:`~pesgen.errors.PesgenError`
(printed here, one ``error:`` line per problem naming file and key), 2 for a command line typer
rejects; ``pesgen run`` exits 0 only when the run converged and 3 when it finished without
converging (deviation rule or audited-error targets not met; its last lines say why).
"""

from __future__ import annotations

import inspect
import os

# Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning. On a machine shared
# with other processes, spinning threads made batched MD 30x slower (measured, docs/loop.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pathlib import Path  # noqa: E402

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

import pesgen
from pesgen.data.commands import app as data_app
from pesgen.dpgen.commands import import_dpgen_command
from pesgen.errors import PesgenError
from pesgen.loop import commands as loop_commands
from pesgen.report.commands import report_command
from pesgen.training.commands import train_command
from pesgen.validate.commands import evaluate_command, test_command

console = Console()


#: the order ``pesgen --help`` lists the commands in: a run's workflow, then the tools; a command
#: not named here comes last
ORDER = ("init", "run", "status", "check", "report", "test", "evaluate", "export", "import-dpgen", "data", "model",
         "train", "demo")


class _Commands(TyperGroup):
    """The root group: the one handler of every command's errors (see the module docstring), the
    commands in workflow order, and tidy ``--help`` texts (:func:`_tidy_help`)."""

    def list_commands(self, ctx) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: k for k, name in enumerate(ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(ORDER)))

    def parse_args(self, ctx, args):
        _tidy_help(self, ctx)
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PesgenError as err:
            for line in str(err).splitlines():
                console.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from err


def _tidy_help(command: click.Command, ctx: click.Context) -> None:
    """Help that reads well, in this command and every sub-command: a flag takes no value, so no
    ``<bool>`` after it (typer shows one), the help option included; a docstring's paragraphs
    flow as one line each (typer keeps the source's line breaks; click's ``\\b`` keeps them)."""
    for param in [*command.params, command.get_help_option(ctx)]:
        if getattr(param, "is_flag", False):   # typer options are no click.Option
            param.metavar = ""
    if command.help:
        paragraphs = inspect.cleandoc(command.help).split("\n\n")
        command.help = "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)
    for sub in getattr(command, "commands", {}).values():
        _tidy_help(sub, ctx)


app = typer.Typer(help="pesgen: machine-learned interatomic potentials by active learning (DP-GEN).",
                  epilog="Exit status: 0 done (for run: converged), 1 error, 2 bad command line, 3 run finished "
                         "without converging.", no_args_is_help=True, add_completion=False, cls=_Commands)
model_app = typer.Typer(help="Inspect trained models.", no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(data_app, name="data")


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"pesgen {pesgen.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """pesgen command line."""


@model_app.command("info")
def model_info(
    path: Path = typer.Argument(..., help="A model file written by pesgen, or a run directory (its latest ensemble)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON instead."),
) -> None:
    """Print the hyperparameters, type map, statistics and size of a saved model or ensemble."""
    from pesgen.loop.rundir import model_file
    from pesgen.model.io import describe, model_facts

    path = model_file(path)
    if as_json:
        import json

        from pesgen.loop.rundir import json_default

        typer.echo(json.dumps(model_facts(path), indent=1, default=json_default))
        return
    console.print(describe(path), soft_wrap=True, highlight=False)


app.command("train")(train_command)
app.command("test")(test_command)
app.command("evaluate")(evaluate_command)
app.command("init")(loop_commands.init)
app.command("run")(loop_commands.run)
app.command("status")(loop_commands.status)
app.command("check")(loop_commands.check)
app.command("report")(report_command)
app.command("export")(loop_commands.export)
app.command("import-dpgen")(import_dpgen_command)


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("demo-out"), help="Folder for the demo's outputs."),
) -> None:
    """A short model demo: an ensemble of Deep Potentials on EMT aluminium."""
    from pesgen.model.demo import run_demo

    run_demo(out, console)
