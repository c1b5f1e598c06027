"""Run configs: the examples validate, bad configs give clear errors, and nothing is written."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from loop_testkit import write_tiny
from typer.testing import CliRunner

from pesgen.cli import app
from pesgen.explore.calibration import Pairs
from pesgen.explore.errors import SelectionError
from pesgen.loop.config import CalibrationSettings, SelectionSettings, load_config
from pesgen.loop.errors import ConfigError
from pesgen.loop.runner import prepare, run_loop
from pesgen.loop.templates import TEMPLATES, template_text
from pesgen.training.config import TrainSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_templates_are_the_example_configs():
    for name in TEMPLATES:
        assert (EXAMPLES / name / "config.toml").read_text() == template_text(name), name


@pytest.mark.parametrize("name", ["al-emt", "almg-meam"])
def test_examples_validate(name):
    cfg = load_config(EXAMPLES / name / "config.toml")
    assert cfg.train.n_members == 4
    assert cfg.elements


def test_defaults(tmp_path):
    cfg = load_config(write_tiny(tmp_path))
    assert cfg.convergence.n_consecutive == 1
    assert cfg.selection.strategy == "diverse"          # as the tiny config says
    assert SelectionSettings().strategy == "random"      # the default (measured best)
    assert cfg.label_policy.max_failed_ratio == 0.2
    assert cfg.train.n_members == 2 and TrainSettings().n_members == 4


def _expect_error(tmp_path: Path, text: str, key: str, *fragments: str) -> ConfigError:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        run_loop(path, tmp_path / "run", quiet=True)
    err = info.value
    assert err.path == str(path)
    assert str(path) in str(err)
    keys = [k for k, _ in err.problems]
    assert key in keys, (keys, str(err))
    msg = dict(err.problems)[key]
    for frag in fragments:
        assert frag in msg, (frag, msg)
    assert not (tmp_path / "run").exists(), "a bad config must write nothing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "config.toml"]
    return err


def test_unknown_key_names_path_and_allowed_keys(tmp_path):
    text = write_tiny(tmp_path).read_text().replace("numb_steps = 120", "numb_step = 120")
    _expect_error(tmp_path, text, "train.numb_step", "unknown key", "numb_steps")


def test_unknown_top_level_table(tmp_path):
    text = write_tiny(tmp_path).read_text() + "\n[explorer]\nn_steps = 3\n"
    _expect_error(tmp_path, text, "explorer", "unknown key", "exploration")


def test_wrong_type_says_expected_and_given(tmp_path):
    text = write_tiny(tmp_path).read_text().replace("n_steps = 40", 'n_steps = "many"')
    _expect_error(tmp_path, text, "exploration.n_steps", "expected", "integer", "'many'")


def test_several_problems_reported_together(tmp_path):
    text = (write_tiny(tmp_path).read_text().replace("f_lo = 0.02", "f_lo = -1")
            .replace("numb_steps = 120", "numb_steps = 1.5"))
    err = _expect_error(tmp_path, text, "selection.f_lo", "expected", "-1")
    assert "train.numb_steps" in dict(err.problems)


def test_numeric_string_is_not_a_number(tmp_path):
    text = write_tiny(tmp_path).read_text().replace("timestep = 2.0", 'timestep = "2.0"')
    _expect_error(tmp_path, text, "exploration.timestep", "expected a valid number", "'2.0'")


def test_integer_is_accepted_where_a_float_is_expected(tmp_path):
    path = write_tiny(tmp_path)
    path.write_text(path.read_text().replace("temperatures = [600.0]", "temperatures = [600]")
                    .replace("timestep = 2.0", "timestep = 2"))
    cfg = load_config(path)
    assert cfg.exploration.stages[0].temperatures == [600.0] and isinstance(cfg.exploration.timestep, float)


def test_labeler_problems_are_keyed_at_the_label_table(tmp_path):
    text = write_tiny(tmp_path, label='kind = "gpaw"\necut = "350"\nkpoints = [2, 2, 2]').read_text()
    err = _expect_error(tmp_path, text, "label", "kind 'gpaw'")
    messages = sorted(msg for key, msg in err.problems if key == "label")
    assert messages == ["kind 'gpaw': ecut: expected a valid number, got '350'",
                        "kind 'gpaw': unknown key(s) ['kpoints']; allowed: ecut, xc, kpts, smearing, maxiter, "
                        "convergence, spinpol, extra, python, mpi_command, env"], messages
    assert str(err).splitlines() == [f"{tmp_path / 'bad.toml'}: key 'label': {m}" for key, m in err.problems]


def test_executor_unknown_key(tmp_path):
    text = write_tiny(tmp_path).read_text().replace("max_workers = 2", "max_workers = 2\nthreads = 3")
    _expect_error(tmp_path, text, "executor", "threads", "max_workers")


def test_unknown_element(tmp_path):
    text = write_tiny(tmp_path).read_text().replace('elements = ["Al"]', 'elements = ["Al", "Qq"]')
    _expect_error(tmp_path, text, "elements[1]", "chemical symbol", "'Qq'")


def test_structures_with_element_not_listed(tmp_path):
    text = write_tiny(tmp_path).read_text().replace('elements = ["Al"]', 'elements = ["Cu"]')
    _expect_error(tmp_path, text, "initial.structures", "['Al']", "not in elements")


def test_emt_without_parameters_for_element(tmp_path):
    text = (write_tiny(tmp_path).read_text().replace('elements = ["Al"]', 'elements = ["Al", "Mg"]'))
    _expect_error(tmp_path, text, "label", "EMT has no parameters", "Mg")


def test_missing_potential_file(tmp_path):
    pytest.importorskip("lammps")
    label = ('kind = "lammps"\nelements = ["Al"]\npair_style = "eam/alloy"\n'
             'pair_coeff = ["* * no_such_file.eam.alloy {types}"]\nfiles = ["no_such_file.eam.alloy"]')
    text = write_tiny(tmp_path, label=label).read_text()
    _expect_error(tmp_path, text, "label", "no_such_file.eam.alloy")


def test_missing_initial_file(tmp_path):
    text = write_tiny(tmp_path).read_text().replace(
        "[initial.structures]", '[initial]\nfiles = ["nope.extxyz"]\n\n[initial.structures]', 1)
    _expect_error(tmp_path, text, "initial.files[0]", "nope.extxyz")


def test_stage_pattern_matching_nothing(tmp_path):
    text = write_tiny(tmp_path).read_text().replace("temperatures = [600.0]",
                                                   'temperatures = [600.0]\nsystems = ["Mg-*"]')
    _expect_error(tmp_path, text, "exploration.stages[0].systems", "match none")


def test_both_stages_and_ramp_rejected(tmp_path):
    text = write_tiny(tmp_path).read_text() + "\n[exploration.ramp]\nn_stages = 2\n"
    _expect_error(tmp_path, text, "exploration", "exactly one")


def test_toml_syntax_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("elements = [Al]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_binary_config_is_a_config_error(tmp_path):
    path = tmp_path / "bin.toml"
    path.write_bytes(b"\x00\xff\xfe" * 50)
    with pytest.raises(ConfigError, match=r"bin.toml: not a TOML file \(not UTF-8 text"):
        load_config(path)


def test_cli_run_bad_config_exits_1_and_writes_nothing(tmp_path, monkeypatch):
    text = write_tiny(tmp_path).read_text().replace("numb_steps = 120", "numb_steps = 'x'")
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", str(bad)])
    assert result.exit_code == 1
    assert "train.numb_steps" in result.output and "bad.toml" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "config.toml"]


def test_cli_init_writes_a_valid_config(tmp_path):
    out = tmp_path / "al.toml"
    result = CliRunner().invoke(app, ["init", "al-emt", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert load_config(out).name == "al-emt"
    again = CliRunner().invoke(app, ["init", "al-emt", "--out", str(out)])
    assert again.exit_code == 1 and "exists" in again.output
    unknown = CliRunner().invoke(app, ["init", "nope"])
    assert unknown.exit_code == 1 and "al-emt" in unknown.output


@pytest.mark.parametrize(("replace", "key", "fragment"), [
    ('strategy = "diverse"', "selection.trust", "'fixed'"),
    ('strategy = "diverse"\nadaptive_lower = true', "selection.trust", "exclude each other"),
    ("strategy = \"diverse\"\n[selection.calibration]\nquantile = 0.9", "selection",
     "calibration.target_max_force_error"),
])
def test_calibrated_trust_errors_name_the_key(tmp_path, replace, key, fragment):
    trust = 'trust = "calibrated"' if "fixed" not in fragment else 'trust = "measured"'
    text = write_tiny(tmp_path).read_text().replace('strategy = "diverse"', f"{trust}\n{replace}")
    _expect_error(tmp_path, text, key, fragment)


def test_calibration_settings_name_their_key(tmp_path):
    text = write_tiny(tmp_path).read_text().replace(
        'strategy = "diverse"', 'trust = "calibrated"\n[selection.calibration]\ntarget_max_force_error = 0.2\n'
                                'quantile = 1.5')
    _expect_error(tmp_path, text, "selection.calibration.quantile", "1.5")
    good = text.replace("quantile = 1.5", "min_pairs = 5")
    (tmp_path / "good.toml").write_text(good)
    s = load_config(tmp_path / "good.toml").selection
    assert s.calibrated and s.calibration.min_pairs == 5 and s.calibration.target_max_force_error == 0.2
    assert SelectionSettings().trust == "fixed"


@pytest.mark.parametrize("table, integrator, fields", [
    ("", "Langevin", {"friction": 0.01, "timestep": 2.0}),
    ('thermostat = { kind = "bussi", tau = 50.0 }', "Bussi", {"tau": 50.0}),
    ('thermostat = "bussi"', "Bussi", {"tau": 100.0}),
    ('thermostat = { kind = "nose-hoover", tau = 80.0, chain = 4 }', "NoseHooverChain", {"tau": 80.0, "chain": 4}),
    ('thermostat = "langevin"\nfriction = 0.02', "Langevin", {"friction": 0.02}),  # the flat form of earlier configs
    ('thermostat = "bussi"\ntau_t = 40.0', "Bussi", {"tau": 40.0}),
])
def test_thermostat_kinds_build_their_integrator(tmp_path, table, integrator, fields):
    path = write_tiny(tmp_path)
    path.write_text(path.read_text().replace("timestep = 2.0", "timestep = 2.0\n" + table))
    built = load_config(path).exploration.integrator("nvt")
    assert type(built).__name__ == integrator
    assert {k: getattr(built, k) for k in fields} == fields


def test_barostat_table_builds_cell_rescaling_with_the_langevin_friction(tmp_path):
    path = write_tiny(tmp_path)
    path.write_text(path.read_text().replace("timestep = 2.0", 'timestep = 2.0\nthermostat = { kind = "langevin", '
                                             'friction = 0.03 }\nbarostat = { tau_p = 500.0, flexible = true }'))
    built = load_config(path).exploration.integrator("npt")
    assert type(built).__name__ == "StochasticCellRescaling"
    assert (built.friction, built.tau_p, built.flexible, built.compressibility) == (0.03, 500.0, True, 1e-6)


@pytest.mark.parametrize("table, fragments", [
    ('thermostat = { kind = "andersen" }', ("exploration.thermostat", "andersen", "nose-hoover")),
    ('thermostat = { kind = "bussi", friction = 0.1 }', ("exploration.thermostat", "bussi", "friction")),
    ('thermostat = { kind = "bussi", tau = "100" }', ("exploration.thermostat", "'100'")),
    ('ensemble = "npt"\nthermostat = "bussi"', ("exploration", "langevin", "bussi")),
    ('barostat = { kind = "berendsen" }', ("exploration.barostat.kind", "berendsen", "cell-rescaling")),
])
def test_thermostat_and_barostat_errors_name_the_key(tmp_path, table, fragments):
    text = write_tiny(tmp_path).read_text().replace("timestep = 2.0", "timestep = 2.0\n" + table)
    _expect_error(tmp_path, text, *fragments)


def test_audit_and_targets(tmp_path):
    cfg = load_config(write_tiny(tmp_path))
    assert (cfg.audit.enabled, cfg.audit.per_system, cfg.audit.fraction) == (True, 2, None)   # default on
    assert cfg.convergence.target_force_rmse is None and cfg.convergence.target_confidence == 0.9
    text = write_tiny(tmp_path).read_text()
    _expect_error(tmp_path, text + "\n[audit]\nper_system = 3\nfraction = 0.1\n", "audit", "not both")
    _expect_error(tmp_path, text + "\n[audit]\nper_system = 0\n", "audit.per_system")
    _expect_error(tmp_path, text.replace("[convergence]", "[convergence]\ntarget_confidence = 1.0"),
                  "convergence.target_confidence")
    _expect_error(tmp_path, text.replace("[convergence]", "[convergence]\ntarget_energy_rmse = 5")
                  + "\n[audit]\nenabled = false\n", "convergence", "audit.enabled")
    stage = prepare(Path("c.toml"), "", tomllib.loads(
        text.replace("[convergence]", "[convergence]\ntarget_energy_rmse = 5\ntarget_force_rmse = 0.05")),
        tmp_path)[3].stages[0]
    assert (stage.target_force_rmse, stage.target_energy_rmse) == (0.05, 0.005)   # meV/atom -> eV/atom


def test_calibrated_target_may_come_from_the_force_rmse_target(tmp_path):
    text = write_tiny(tmp_path).read_text().replace('strategy = "diverse"', 'trust = "calibrated"').replace(
        "[convergence]", "[convergence]\ntarget_force_rmse = 0.05")
    (tmp_path / "c.toml").write_text(text)
    cfg = load_config(tmp_path / "c.toml")
    assert cfg.selection.calibrated and cfg.selection.calibration.target_max_force_error is None


def test_target_from_a_force_rmse_target_uses_the_measured_ratio():
    audit = Pairs.of("a", [0.1] * 12, [0.25] * 12, "audit", [0.1] * 12)
    target, how = CalibrationSettings().target(audit, target_force_rmse=0.04)
    assert target == pytest.approx(0.1) and "2.50" in how
    target, how = CalibrationSettings().target(Pairs.of("a", [], []), target_force_rmse=0.04)
    assert target == pytest.approx(0.04 * 3 ** 0.5) and "none measured" in how
    assert CalibrationSettings(target_max_force_error=0.3).target(audit, 0.04)[0] == 0.3
    with pytest.raises(SelectionError, match="target_max_force_error"):
        CalibrationSettings().target(audit)


def test_energy_deviation_levels_reach_the_classifier():
    levels = SelectionSettings(f_lo=0.05, f_hi=0.2, e_lo=0.002, e_hi=0.05).classifier()
    assert (levels.e_lo, levels.e_hi) == (0.002, 0.05)
    with pytest.raises(ValueError, match="e_lo and e_hi"):
        SelectionSettings(e_lo=0.002)
    with pytest.raises(ValueError, match="adaptive_lower has no energy-deviation levels"):
        SelectionSettings(adaptive_lower=True, e_lo=0.002, e_hi=0.05)


@pytest.mark.parametrize("executor, fragment", [
    ('kind = "local"\nmax_workers = 0', "max_workers: expected greater than or equal to 1"),
    ('kind = "local"\nmax_workers = 2\nmp_context = "threads"', "'threads' is not available here"),
    ('kind = "dask"\naddress = "tcp://127.0.0.1:1"\nlocal = { n_workers = 1 }', "give exactly one of"),
    ('kind = "dask"\njobqueue = { system = "torque", cores = 1, memory = "1GB" }', "'torque'; choose one of"),
    ('kind = "dask"\njobqueue = { system = "slurm", cores = 1, memroy = "1GB" }', "unknown key(s) ['memroy']"),
])
def test_executor_errors_name_the_config_and_write_nothing(tmp_path, executor, fragment):
    text = write_tiny(tmp_path).read_text().replace('[executor]\nkind = "local"\nmax_workers = 2',
                                                     f"[executor]\n{executor}")
    _expect_error(tmp_path, text, "executor", fragment)
