"""`pesgen train` on labeled files: trains, saves, prints the curve; bad settings give a clear error."""

from __future__ import annotations

import sys
from pathlib import Path

from ase.io import write
from typer.testing import CliRunner

import pesgen
from pesgen.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from train_testkit import emt_al_frames  # noqa: E402

runner = CliRunner()

CONFIG = """
[train]
numb_steps = 30
disp_freq = 10
n_members = 2
[train.model]
rcut = 4.5
neuron = [4, 8]
axis_neuron = 2
fitting_neuron = [8, 8]
"""


def test_train_command(tmp_path):
    data = tmp_path / "al.extxyz"
    write(data, emt_al_frames(6))
    (tmp_path / "train.toml").write_text(CONFIG)
    out = tmp_path / "ens.pt"
    result = runner.invoke(app, ["train", str(data), "--config", str(tmp_path / "train.toml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "learning curve" in result.output
    ens = pesgen.load(out)
    assert len(ens) == 2 and len(ens.metadata["learning_curve"]) == 4
    info = runner.invoke(app, ["model", "info", str(out)])
    assert "4 points to step 29" in info.output


def test_train_command_bad_setting(tmp_path):
    data = tmp_path / "al.extxyz"
    write(data, emt_al_frames(2))
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nnumb_steps = 'many'\n")
    result = runner.invoke(app, ["train", str(data), "--config", str(bad)])
    assert result.exit_code == 1
    assert "bad.toml" in result.output and "numb_steps" in result.output
    missing = runner.invoke(app, ["train", str(tmp_path / "nothing.extxyz")])
    assert missing.exit_code == 1 and "nothing.extxyz" in missing.output


def test_train_command_bad_config_prints_one_formatted_line_per_problem(tmp_path):
    data = tmp_path / "al.extxyz"
    write(data, emt_al_frames(2))
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nnumb_steps = '100'\nstart_lr = 'fast'\nnumb_step = 3\n[train.model]\nrcut = 4\n")
    result = runner.invoke(app, ["train", str(data), "--config", str(bad)], terminal_width=400)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 3, result.output
    assert all(line.startswith(f"error: {bad}: key '") for line in lines), result.output
    text = "\n".join(lines)
    assert "key 'numb_steps': expected a valid integer, got '100'" in text
    assert "key 'start_lr': expected a valid number, got 'fast'" in text
    assert "key 'numb_step': unknown key(s) ['numb_step']; allowed:" in text and "numb_steps" in text
    assert not (tmp_path / "ensemble.pt").exists()
