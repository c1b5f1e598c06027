"""``pesgen import-dpgen`` on DP-GEN's own example files (tests/data/dpgen), their paths
redirected to a scratch tree: the config validates, every unmapped key is named, bad files
give one-line errors, and the Al example runs with EMT labels."""

from __future__ import annotations

import json
import tempfile
import tomllib
from pathlib import Path

import pytest
from dpgen_testkit import DATA, load_example, scratch_tree
from typer.testing import CliRunner

from pesgen.cli import app
from pesgen.dpgen.param import convert_param
from pesgen.errors import ConfigError
from pesgen.loop.config import load_config

EXAMPLES = ["al-vasp-param.json", "al-pwscf-param.json", "mg-vasp-param.json", "ch4-vasp-param.json",
            "ch4-vasp-incar-param.json", "ch4-cp2k-param.json"]


def _imported(tmp_path: Path, name: str, param: dict | None = None, machine: str | None = None,
              labeler: dict | None = None):
    param = param if param is not None else load_example(name)
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))
    src = tmp_path / name
    src.write_text(json.dumps(param))
    root = tmp_path / "root"
    scratch_tree(param, root, tmp_path)
    converted = convert_param(src, None if machine is None else DATA / machine, [("/", f"{root}/")], labeler)
    out = tmp_path / "config.toml"
    out.write_text(converted.text)
    return converted, out


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_import_to_valid_configs(tmp_path, name):
    converted, out = _imported(tmp_path, name)
    cfg = load_config(out)
    param = load_example(name)
    assert cfg.elements == param["type_map"]
    assert len(cfg.exploration.stages) == len(param["model_devi_jobs"]) == cfg.max_iterations
    assert len(cfg.initial.structures.files) == len(param["sys_configs"])
    # sys_idx k names system sysKKK, in each job's order
    for stage, job in zip(cfg.exploration.stages, param["model_devi_jobs"], strict=True):
        assert stage.systems == [f"sys{i:03d}" for i in job["sys_idx"]]
        assert stage.temperatures == [float(t) for t in job["temps"]]
        assert stage.n_steps == job["nsteps"] and stage.record_every == job["trj_freq"]
    assert cfg.selection.f_lo == param["model_devi_f_trust_lo"]
    assert cfg.selection.f_hi == param["model_devi_f_trust_hi"]
    assert cfg.selection.max_per_system == param["fp_task_max"]
    assert cfg.train.n_members == param["numb_models"]
    assert cfg.exploration.timestep == pytest.approx(param["model_devi_dt"] * 1000)
    training = param["default_training_param"]["training"]
    assert cfg.train.numb_steps == training.get("stop_batch", training.get("numb_steps"))
    descriptor = param["default_training_param"]["model"]["descriptor"]
    assert cfg.train.model.rcut == descriptor["rcut"] and cfg.train.model.neuron == descriptor["neuron"]
    assert cfg.label.kind == "ase" and param["fp_style"] in cfg.label.name
    # every unmapped key is listed in the config too
    for key, _ in converted.unmapped:
        assert key in out.read_text()
    assert "default_training_param.training.save_ckpt" in dict(converted.unmapped) or "save_ckpt" not in json.dumps(
        param)


def test_al_npt_stage_and_labeler(tmp_path):
    converted, out = _imported(tmp_path, "al-vasp-param.json")
    cfg = load_config(out)
    job = load_example("al-vasp-param.json")["model_devi_jobs"][0]
    assert cfg.exploration.stages[0].ensemble == "npt"
    assert cfg.exploration.stages[0].pressures == [float(p) for p in job["press"]]
    assert cfg.label.calculator == "ase.calculators.vasp.Vasp"
    assert "model_devi_clean_traj" in dict(converted.unmapped)
    assert cfg.warm_start.enabled is False  # no training_reuse_iter: DP-GEN trains from scratch


def test_incar_tags_and_machine(tmp_path):
    converted, out = _imported(tmp_path, "ch4-vasp-incar-param.json")
    kwargs = load_config(out).label.kwargs
    incar = (DATA / "INCAR_methane").read_text()
    assert "encut" in kwargs and str(kwargs["encut"]).split(".")[0] in incar
    converted, out = _imported(tmp_path, "ch4-vasp-param.json", machine="ch4-machine.json")
    cfg = load_config(out)
    assert cfg.executor.kind == "dask" and cfg.executor.jobqueue["system"] == "slurm"
    assert cfg.executor.jobqueue["queue"] == "GPU-All" and cfg.executor.jobqueue["walltime"] == "1:0:0"
    assert cfg.label.kwargs["command"] == "/sharedext4/vasp/vasp.5.4.4/bin/vasp_std"
    assert cfg.label.kwargs["ismear"] == 0 and cfg.label.kwargs["encut"] == 400
    assert "machine:train_resources" in dict(converted.unmapped)


def test_dpdispatcher_machines(tmp_path):
    _, out = _imported(tmp_path, "al-pwscf-param.json", machine="slurm-qe-machine.json")
    cfg = load_config(out)
    assert cfg.executor.kind == "dask"
    job = cfg.executor.jobqueue
    assert job["system"] == "slurm" and job["cores"] > 0 and all(not f.startswith("#") for f in
                                                                   job["job_extra_directives"])
    assert cfg.label.profile["command"] and cfg.label.kwargs["pseudopotentials"] == {"Al": "Al_ONCV_PBE_sr.upf"}
    converted, out = _imported(tmp_path, "al-pwscf-param.json", machine="gaussian-lebesgue-machine.json")
    assert load_config(out).executor.kind == "local"
    assert any("Lebesgue" in reason for _, reason in converted.unmapped)


def test_bad_files_name_the_key(tmp_path):
    bad = tmp_path / "param.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="param.json: not valid JSON"):
        convert_param(bad)
    bad.write_text(json.dumps({"something": 1}))
    with pytest.raises(ConfigError, match="key 'type_map': missing"):
        convert_param(bad)
    param = load_example("ch4-vasp-param.json")
    param["model_devi_jobs"][1]["sys_idx"] = [7]
    bad.write_text(json.dumps(param))
    with pytest.raises(ConfigError, match=r"key 'model_devi_jobs\[1\].sys_idx': \[7\] are not indices"):
        convert_param(bad)
    param = load_example("ch4-vasp-param.json")
    param["model_devi_f_trust_lo"] = "low"
    bad.write_text(json.dumps(param))
    with pytest.raises(ConfigError, match="key 'model_devi_f_trust_lo': expected a number"):
        convert_param(bad)
    param = load_example("ch4-vasp-param.json")
    param["fp_style"] = "abacus"
    bad.write_text(json.dumps(param))
    with pytest.raises(ConfigError, match="key 'fp_style': 'abacus' has no ASE calculator"):
        convert_param(bad)


def test_cli_lists_unmapped_and_rejects_missing_paths(tmp_path):
    out = tmp_path / "config.toml"
    result = CliRunner().invoke(app, ["import-dpgen", str(DATA / "ch4-vasp-param.json"), "-o", str(out)])
    assert result.exit_code == 1
    assert "model_devi_clean_traj" in result.output and "written, but not valid yet" in result.output
    assert "initial.files" in result.output
    assert tomllib.loads(out.read_text())["elements"] == ["H", "C"]


def _shortened_al() -> dict:
    param = load_example("al-vasp-param.json")
    jobs = param["model_devi_jobs"][:2]
    for job in jobs:
        job.update(temps=[300.0], press=[1.0], nsteps=20, trj_freq=5)
    param["model_devi_jobs"] = jobs
    dtp = param["default_training_param"]
    dtp["model"]["descriptor"].update(rcut=4.0, rcut_smth=1.0, sel=[40], neuron=[8, 16], axis_neuron=4)
    dtp["model"]["fitting_net"]["neuron"] = [16, 16]
    dtp["training"]["stop_batch"] = 20
    dtp["learning_rate"]["decay_steps"] = 10
    param["model_devi_f_trust_lo"], param["model_devi_f_trust_hi"] = 0.0, 10.0  # every frame a candidate
    param["fp_task_max"] = 2
    param["fp_task_min"] = 1
    param["numb_models"] = 2
    return param


def test_al_example_runs_an_iteration_with_emt(tmp_path):
    from pesgen.data.store import Store
    from pesgen.loop.runner import run_loop

    _, out = _imported(tmp_path, "al-vasp-param.json", param=_shortened_al(), labeler={"kind": "emt"})
    result = run_loop(out, tmp_path / "run", quiet=True)
    assert result.iterations == 2
    store = Store(result.run_dir / "store.db", readonly=True)
    imported = store.frames(origin="imported")
    assert len(imported) == 3 * 3  # three init_data_sys, three frames each
    explored = store.frames(iteration=0, origin="explored")
    assert explored and {a.info["provenance"].system for a in explored} <= {"sys000", "sys008", "sys016"}
    assert len(explored) == 3 * 2  # fp_task_max per system
    assert all(a.info["provenance"].labeler == "emt" for a in explored)


def test_cli_with_replace_and_labeler(tmp_path):
    param = load_example("al-vasp-param.json")
    root = tmp_path / "root"
    scratch_tree(param, root, tmp_path)
    out = tmp_path / "al.toml"
    result = CliRunner().invoke(app, ["import-dpgen", str(DATA / "al-vasp-param.json"), str(DATA / "ch4-machine.json"),
                                      "-o", str(out), "--replace", f"/={root}/", "--labeler", "emt", "--name", "al"])
    assert result.exit_code == 0, result.output
    assert "is a valid pesgen config" in result.output and "machine:train_resources" in result.output
    cfg = load_config(out)
    assert cfg.name == "al" and cfg.label.kind == "emt" and cfg.executor.kind == "dask"
    again = CliRunner().invoke(app, ["import-dpgen", str(DATA / "al-vasp-param.json"), "-o", str(out)])
    assert again.exit_code == 1 and "exists (use --force" in again.output
