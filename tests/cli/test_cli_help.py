"""`pesgen --help` and each command's help: workflow order, flags without a type, paragraphs that
flow (no line break in the middle of a sentence), the exit codes."""

from __future__ import annotations

import inspect

import typer.main
from typer.testing import CliRunner

from pesgen.cli import app

runner = CliRunner()


def _commands(command, path=("pesgen",)):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_commands_are_listed_in_workflow_order():
    out = runner.invoke(app, ["--help"], env={"COLUMNS": "100"}).output
    listed = [line.split()[1] for line in out.splitlines() if line.startswith("│ ") and len(line.split()) > 2
              and not line.split()[1].startswith("-") and line[2] != " "]
    workflow = ["init", "run", "status", "report", "test", "export", "data", "model", "train"]
    assert [name for name in listed if name in workflow] == workflow
    text = " ".join(out.split())
    assert "Exit status: 0 done (for run: converged), 1 error, 2 bad command line, 3 run finished" in text


def test_no_bool_metavar_and_paragraphs_flow_in_every_help():
    root = typer.main.get_command(app)
    for path, command in _commands(root):
        out = runner.invoke(app, [*path[1:], "--help"], env={"COLUMNS": "100"})
        assert out.exit_code == 0, (path, out.output)
        assert "<bool>" not in out.output, path
        wide = runner.invoke(app, [*path[1:], "--help"], env={"COLUMNS": "400"}).output
        for paragraph in inspect.cleandoc(command.help or "").split("\n\n"):   # each on one line when it fits
            assert " ".join(paragraph.split()) in wide, (path, paragraph)
