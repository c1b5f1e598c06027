"""`pesgen evaluate`: per-category errors equal a hand computation, grouping, errors naming the file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from validate_testkit import random_al_model  # noqa: E402

from pesgen.calculator import PesgenCalculator  # noqa: E402
from pesgen.cli import app  # noqa: E402
from pesgen.validate.errors import ValidationInputError  # noqa: E402
from pesgen.validate.evaluate import evaluate, read_frames  # noqa: E402

runner = CliRunner()


def _offset_frames(model, offsets, category=None):
    """Frames labelled with the model's own prediction plus known offsets.

    ``offsets``: per frame (dE eV/atom, dFx eV/Å on every atom, dσ_xx eV/Å^3 or None).
    """
    frames = []
    for k, (de, dfx, dsxx) in enumerate(offsets):
        atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((1, 1, 1 + k))
        atoms.positions += np.random.default_rng(k).normal(scale=0.05, size=atoms.positions.shape)
        atoms.calc = PesgenCalculator(model)
        energy, forces, stress = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        forces = forces.copy()
        forces[:, 0] -= dfx  # label = prediction - offset: the error (model - label) is +offset
        results = {"energy": energy - de * len(atoms), "forces": forces}
        if dsxx is not None:
            stress = stress.copy()
            stress[0] -= dsxx
            results["stress"] = stress
        atoms.calc = SinglePointCalculator(atoms, **results)
        if category:
            atoms.info["category"] = category
        frames.append(atoms)
    return frames


@pytest.fixture(scope="module")
def model():
    return random_al_model()


def test_errors_equal_a_hand_computation(model):
    frames = _offset_frames(model, [(0.003, 0.1, 1e-4), (-0.001, 0.0, None)])  # 4 and 8 atoms
    (row,) = evaluate(model, {"two": frames}, batch_size=1)
    assert row.n_frames == 2 and row.n_atoms == 12
    assert row.energy_rmse == pytest.approx(np.sqrt((3.0**2 + 1.0**2) / 2), rel=1e-6)  # meV/atom
    assert row.energy_mae == pytest.approx(2.0, rel=1e-6)
    assert row.force_rmse == pytest.approx(np.sqrt(4 * 0.1**2 / (3 * 12)), rel=1e-6)  # eV/Å
    assert row.force_max_error == pytest.approx(0.1, rel=1e-6)
    # virial W = -σ V: the xx error is -dσ V / n per atom on one frame of 9 components
    volume = frames[0].get_volume()
    assert row.n_virial_frames == 1
    assert row.virial_rmse == pytest.approx(1000 * 1e-4 * volume / 4 / 3, rel=1e-5)
    f_label = np.concatenate([a.get_forces().ravel() for a in frames])
    assert row.force_rms == pytest.approx(np.sqrt(np.mean(f_label**2)), rel=1e-9)
    # batching does not change the numbers
    (batched,) = evaluate(model, {"two": frames}, batch_size=16)
    assert batched.energy_rmse == pytest.approx(row.energy_rmse, rel=1e-6)


def test_grouping_by_key_else_by_file_and_worst_first(model, tmp_path):
    good = _offset_frames(model, [(0.0001, 0.0, None)], category="good")
    bad = _offset_frames(model, [(0.02, 0.0, None), (0.02, 0.0, None)], category="bad")
    write(tmp_path / "tagged.extxyz", good + bad, format="extxyz")
    write(tmp_path / "plain.extxyz", _offset_frames(model, [(0.0, 0.6, None)]), format="extxyz")
    groups = read_frames([tmp_path / "tagged.extxyz", tmp_path / "plain.extxyz"])
    assert {k: len(v) for k, v in groups.items()} == {"good": 1, "bad": 2, "plain.extxyz": 1}
    rows = evaluate(model, groups)
    # scores: plain 0.6/sqrt(3)/0.05 = 6.9 (forces), bad 20/5 = 4 (energy), good 0.1/5
    assert [r.category for r in rows] == ["plain.extxyz", "bad", "good"]
    assert rows[1].energy_rmse == pytest.approx(20.0, rel=1e-5)
    assert list(read_frames([tmp_path / "tagged.extxyz"], key="missing")) == ["tagged.extxyz"]


def test_cli_table_and_json(model, tmp_path):
    write(tmp_path / "set.extxyz", _offset_frames(model, [(0.002, 0.0, None)], category="eos-Al-fcc"),
          format="extxyz")
    model.save(tmp_path / "m.pt")
    result = runner.invoke(app, ["evaluate", str(tmp_path / "m.pt"), str(tmp_path / "set.extxyz"), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["category"] == "eos-Al-fcc" and row["energy_rmse"] == pytest.approx(2.0, rel=1e-5)
    result = runner.invoke(app, ["evaluate", str(tmp_path / "m.pt"), str(tmp_path / "set.extxyz")])
    assert result.exit_code == 0 and "eos-Al-fcc" in result.output


def test_bad_file_is_a_one_line_error_naming_it(model, tmp_path):
    model.save(tmp_path / "m.pt")
    (tmp_path / "junk.extxyz").write_text("this is not\nan xyz file\n")
    unlabelled = bulk("Al", "fcc", a=4.05)
    write(tmp_path / "bare.extxyz", unlabelled, format="extxyz")
    for name in ("junk.extxyz", "bare.extxyz", "missing.extxyz"):
        result = runner.invoke(app, ["evaluate", str(tmp_path / "m.pt"), str(tmp_path / name)])
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and name in lines[0] and lines[0].startswith("error:"), result.output
    with pytest.raises(ValidationInputError, match="bare.extxyz"):
        read_frames([tmp_path / "bare.extxyz"])
