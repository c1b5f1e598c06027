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


class _NotAModel:
    """A Python object in a torch archive (a pickled class: what no pesgen model holds)."""


def test_model_info_on_other_files_is_one_line_without_torch_advice(tmp_path):
    import torch

    torch.save({"net": _NotAModel()}, tmp_path / "objects.pt")
    (tmp_path / "notes.txt").write_text("not a model\n")
    for name, why in (("objects.pt", "Python objects"), ("notes.txt", "not a torch archive")):
        result = runner.invoke(app, ["model", "info", str(tmp_path / name)])
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and name in lines[0] and why in lines[0], lines
        assert "weights_only" not in result.output
