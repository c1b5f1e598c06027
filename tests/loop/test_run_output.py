"""What a person and a script read from a run: pesgen.run from Python (a dict, a RunConfig), the
status table at 80 columns and in a log, --json on status and model info, the commands that take
a run directory, energies in meV/atom."""

from __future__ import annotations

import json
import tomllib

import pytest
from loop_testkit import write_tiny
from rich.console import Console
from typer.testing import CliRunner

import pesgen
from pesgen.cli import app
from pesgen.loop.config import parse_config
from pesgen.loop.runner import config_toml
from pesgen.loop.status import status_table

runner = CliRunner()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A tiny run of two iterations started from a dict, with pesgen.run."""
    folder = tmp_path_factory.mktemp("output")
    data = tomllib.loads(write_tiny(folder).read_text())
    result = pesgen.run(data, folder / "run")
    return folder, data, result


def test_pesgen_run_takes_a_dict_and_returns_the_documented_result(finished):
    folder, data, result = finished
    run = folder / "run"
    assert isinstance(result, pesgen.RunResult)
    assert result.finished and not result.converged and result.exit_status == 3
    assert result.iterations == 2 and result.model == run / "iter.000001" / "model.pt"
    assert result.labels == len(pesgen.data.store.Store(run / "store.db", readonly=True)) > 8
    assert result.failed_labels == 0
    audit = json.loads((run / "iter.000001" / "audit.json").read_text())
    assert result.audit["iteration"] == 1 and result.audit["rmse_f"] == audit["stage_errors"]["rmse_f"]
    assert result.audit["per_system"] == audit["per_system"]
    # the run directory keeps the config as TOML: the same dict (or the directory) resumes it
    assert tomllib.loads((run / "config.toml").read_text()) == data
    before = (run / "state.json").read_text()
    assert pesgen.run(data, run).finished and pesgen.run(run).finished
    assert (run / "state.json").read_text() == before


def test_a_run_config_object_round_trips_through_the_toml_the_run_keeps(finished):
    folder, data, _ = finished
    cfg = pesgen.RunConfig.model_validate(data, context={"base": folder})
    text = config_toml(cfg.model_dump(mode="json", exclude_none=True))
    assert parse_config(tomllib.loads(text), folder / "x.toml", folder) == cfg


def test_a_bad_dict_is_a_config_error_naming_the_key(tmp_path):
    data = tomllib.loads(write_tiny(tmp_path).read_text())
    data["train"]["numb_step"] = 5
    with pytest.raises(pesgen.errors.ConfigError, match="train.numb_step"):
        pesgen.run(data, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_status_fits_80_columns_on_a_terminal(finished):
    folder, _, _ = finished
    console = Console(width=80, record=True, force_terminal=True)
    console.print(status_table(folder / "run").table)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text                      # no number cut short
    rows = json.loads(runner.invoke(app, ["status", str(folder / "run"), "--json"]).output)["iterations"]
    assert f"{100 * rows[0]['accurate']:.1f}" in text and f"{rows[0]['rmse_f_val']:.3f}" in text


def test_status_in_a_log_keeps_each_line_whole(finished):
    """Not a terminal (CliRunner, like a Slurm log): no hard wrap of the rows or of the reason."""
    folder, _, result = finished
    out = runner.invoke(app, ["status", str(folder / "run")]).output
    lines = out.splitlines()
    assert f"finished: {result.reason}" in lines
    assert sum(line.lstrip().startswith(("0 ", "1 ")) for line in lines) == 2
    wide = runner.invoke(app, ["status", str(folder / "run"), "--wide"]).output

    def head(text: str) -> str:   # the header lines, above the rule
        return text.split("───")[0]

    for header in ("frames", "F trn", "E val", "audit/select/label (s)"):
        assert header in head(wide) and header not in head(out)


def test_energies_are_in_mev_per_atom(finished):
    folder, _, _ = finished
    rows = json.loads(runner.invoke(app, ["status", str(folder / "run"), "--json"]).output)["iterations"]
    train = json.loads((folder / "run" / "iter.000001" / "train.json").read_text())
    assert rows[1]["rmse_e_val"] == pytest.approx(1000 * train["rmse_e_val"])


def test_model_info_takes_a_run_directory_and_prints_json(finished):
    folder, _, result = finished
    text = runner.invoke(app, ["model", "info", str(folder / "run")])
    assert text.exit_code == 0, text.output
    assert str(result.model) in text.output and "meV/atom" in text.output
    out = runner.invoke(app, ["model", "info", str(folder / "run"), "--json"])
    assert out.exit_code == 0, out.output
    facts = json.loads(out.output)
    assert facts["kind"] == "Ensemble" and facts["n_members"] == 2 and facts["path"] == str(result.model)
    assert facts["hyperparameters"]["type_map"] == ["Al"] and facts["hyperparameters"]["rcut"] == 4.5
    assert set(facts["energy_bias"]) == {"Al"} and facts["metadata"]["learning_curve"]


def test_data_info_takes_a_run_directory(finished):
    folder, _, result = finished
    out = runner.invoke(app, ["data", "info", str(folder / "run")])
    assert out.exit_code == 0, out.output
    assert f"{result.labels} labeled frames" in out.output


def test_export_takes_out(finished, tmp_path):
    folder, _, result = finished
    out = runner.invoke(app, ["export", str(folder / "run"), "--out", str(tmp_path / "m.pt")])
    assert out.exit_code == 0, out.output
    assert pesgen.load(tmp_path / "m.pt").n_members == 2
    missing = runner.invoke(app, ["export", str(folder / "run")])
    assert missing.exit_code == 1 and "--out" in missing.output


def test_one_type_map_default_for_training_and_export():
    """Without a type map, `pesgen train` and `pesgen data export` order the elements alike (by Z)."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from pesgen.data.deepmd_format import default_type_map

    frames = []
    for k in range(2):
        a = bulk("Cu", "fcc", a=3.6, cubic=True)
        a[0].symbol = "Ni"
        a.rattle(0.05, seed=k)
        a.calc = EMT()
        a.get_forces()
        frames.append(a)
    ens = pesgen.train(frames, {"n_members": 1, "numb_steps": 2, "disp_freq": 1, "validation_fraction": 0.0,
                                "model": {"rcut": 4.0, "neuron": [4, 8], "axis_neuron": 2, "fitting_neuron": [8]}})
    assert ens.type_map == default_type_map(frames) == ["Ni", "Cu"]     # not alphabetical


def test_report_states_what_the_run_gives(finished, tmp_path):
    """The summary first (version, labels, the final model's audited error, a hint to run pesgen
    test), the convergence rule with its numbers, the systems, the labeled frames with files."""
    from ase.io import read

    from pesgen.report.html import write_report

    folder, _, result = finished
    page = write_report(folder / "run", tmp_path / "rep").read_text()
    summary = page.split("<h2>Convergence</h2>")[0]
    assert "tiny" in summary and f"pesgen {pesgen.__version__}" in summary and "wall time" in summary
    assert f"{result.labels} labeled" in summary and "finished without converging" in summary
    audit = result.audit
    assert f"force RMSE <b>{audit['rmse_f']:.3f} eV/Å</b>" in summary
    assert f"energy RMSE <b>{audit['rmse_e']:.1f} meV/atom</b>" in summary
    assert "pesgen test" in summary and "not measured yet" in summary
    train = json.loads((folder / "run" / "iter.000001" / "train.json").read_text())
    assert f"on {train['n_valid']} held-out frames" in summary and train["n_valid"] > 0
    convergence = page.split("<h2>Convergence</h2>")[1].split("<h2>")[0]
    assert "at least 99.9% of its explored frames are accurate" in convergence
    assert "no error targets are set" in convergence and "max_iterations=2" in convergence
    systems = page.split("<h2>Systems</h2>")[1].split("<h2>")[0]
    for name, s in audit["per_system"].items():
        assert f"<td>{name}</td>" in systems and f"<td>{s['rmse_f']:.3f}</td>" in systems
    labeled = page.split("<h2>Labeled frames</h2>")[1].split("<h2>")[0]
    frames = read(tmp_path / "rep" / "frames" / "iter.000000.extxyz", index=":")
    selection = json.loads((folder / "run" / "iter.000000" / "selection.json").read_text())
    audit0 = json.loads((folder / "run" / "iter.000000" / "audit.json").read_text())
    assert len(frames) == len(set(selection["selected_rows"]) | set(audit0["rows"]))
    assert 'href="frames/iter.000000.extxyz"' in labeled and 'href="frames/iter.000001.extxyz"' in labeled
    iterations = page.split("<h2>Iterations</h2>")[1].split("<h2>")[0]
    assert "val frames" in iterations and f"<td>{train['n_valid']}</td>" in iterations


def test_run_output_in_a_log_keeps_each_line_whole(finished):
    """`pesgen run` off a terminal (a Slurm log): the long lines are not broken at 80 columns."""
    folder, _, result = finished
    out = runner.invoke(app, ["run", str(folder / "run"), "-q"])
    assert out.exit_code == 3, out.output
    lines = out.output.splitlines()
    assert f"run already finished: {result.reason}" in lines and len(result.reason) > 100
    assert f"status: pesgen status {folder / 'run'}    report: pesgen report {folder / 'run'}" in lines


def test_report_of_no_run_directory_writes_nothing(tmp_path):
    out = runner.invoke(app, ["report", str(tmp_path / "none")])
    assert out.exit_code == 1 and "no such run directory" in out.output
    assert not (tmp_path / "none").exists()


def test_report_fits_an_800_px_window(finished, tmp_path):
    """Readable at 800 px: every table in a box that scrolls sideways, long paths and commands
    wrap, images and code blocks shrink or scroll, and nothing is fixed wider than 800 px."""
    import re

    from pesgen.report.html import write_report

    page = write_report(finished[0] / "run", tmp_path / "rep").read_text()
    css = page.split("<style>")[1].split("</style>")[0]
    rules = {sel.strip(): body for sel, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)}
    assert 'name="viewport" content="width=device-width' in page
    assert "overflow-x: auto" in rules[".scroll"] and "max-width: 100%" in rules["img"]
    assert "overflow-x: auto" in rules["pre"] and "overflow-wrap: anywhere" in rules["code"]
    assert "overflow-wrap: anywhere" in rules["table.summary td"]
    assert page.count("<table") == page.count('<div class="scroll"><table') > 3
    fixed = [int(n) for n in re.findall(r"(?<![-\w])(?:min-)?width:\s*(\d+)px", css + page)]
    fixed += [int(n) for n in re.findall(r'\swidth="(\d+)', page)]
    assert all(n <= 800 for n in fixed), fixed
    assert re.findall(r"<img [^>]*>", page) and not re.findall(r"<img [^>]*(width|style)=", page)
