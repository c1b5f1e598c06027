"""The `pesgen` command: --version and `model info`, with a clear error for a bad file."""

from __future__ import annotations

from typer.testing import CliRunner

import pesgen
from pesgen.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert pesgen.__version__ in result.output


def test_model_info(tmp_path):
    path = pesgen.Ensemble([pesgen.DeepPot(type_map=["Al"], rcut=5.0, seed=s) for s in range(2)]).save(
        tmp_path / "ens.pt")
    result = runner.invoke(app, ["model", "info", str(path)])
    assert result.exit_code == 0, result.output
    assert "Ensemble with 2 member(s)" in result.output and "['Al']" in result.output


def test_model_info_bad_file(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_text("hello")
    result = runner.invoke(app, ["model", "info", str(bad)])
    assert result.exit_code == 1
    assert "broken.pt" in result.output
