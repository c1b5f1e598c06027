"""A whole loop of two small iterations with the EMT oracle, then status, load, export, report."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch
from ase.calculators.emt import EMT
from loop_testkit import write_tiny
from typer.testing import CliRunner

import pesgen
from pesgen.cli import app
from pesgen.data.store import Store
from pesgen.loop.errors import RunDirError
from pesgen.loop.rundir import RunDir
from pesgen.loop.runner import run_loop
from pesgen.loop.status import iteration_rows
from pesgen.loop.summaries import LabelSummary, SelectSummary
from pesgen.report.html import write_report


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("loop")
    config = write_tiny(folder)
    result = run_loop(config, folder / "run", quiet=True)
    return folder, config, result


def test_loop_runs_two_iterations_and_says_why_it_ended(finished_run):
    folder, _, result = finished_run
    assert result.finished and not result.converged
    assert "max_iterations=2" in result.reason
    assert result.iterations == 2
    run = folder / "run"
    state = json.loads((run / "state.json").read_text())
    assert state["done"] == ["initial", "0/train", "0/explore", "0/audit", "0/select", "0/label",
                             "1/train", "1/explore", "1/audit", "1/select"]
    for name in ("config.toml", "run.json", "store.db", "log.txt", "initial.json",
                 "iter.000000/model.pt", "iter.000000/record.sqlite", "iter.000000/train.json",
                 "iter.000000/explore.json", "iter.000000/audit.json", "iter.000000/selection.json",
                 "iter.000000/label.json",
                 "iter.000001/model.pt"):
        assert (run / name).is_file(), name
    assert "iteration 1: training" in (run / "log.txt").read_text()


def test_store_holds_initial_and_explored_labels_with_provenance(finished_run):
    folder, _, _ = finished_run
    store = Store(folder / "run" / "store.db", readonly=True)
    frames = store.frames()
    origins = Counter(a.info["provenance"].origin for a in frames)
    assert origins["initial"] == 8                       # 2 lattices x 2 scales x 2 perturbations
    selection = json.loads((folder / "run" / "iter.000000" / "selection.json").read_text())
    audits = [json.loads((folder / "run" / f"iter.{it:06d}" / "audit.json").read_text()) for it in (0, 1)]
    audited = set(audits[0]["rows"])          # a selected frame that was audited is not labeled twice
    assert origins["explored"] == len(set(selection["selected_rows"]) - audited) > 0
    assert origins["audit"] == sum(len(a["rows"]) for a in audits) == 2 * 4 * 2   # 2 iterations x 4 systems x 2
    assert selection["counts"]["candidate"] >= len(selection["selected_rows"])
    assert max(selection["per_system"][s]["selected"] for s in selection["per_system"]) <= 3  # the cap
    ids = [a.info["provenance"].task_id for a in frames]
    assert len(ids) == len(set(ids))
    for a in frames:
        prov = a.info["provenance"]
        if prov.origin == "explored":
            assert prov.iteration == 0 and prov.temperature == 600.0 and prov.labeler == "emt"
            assert 0.02 <= prov.deviation < 0.8          # selected inside the trust window
        if prov.origin == "audit":
            assert prov.step > 0 and prov.temperature == 600.0 and prov.deviation >= 0
        ref = a.copy()
        ref.calc = EMT()
        assert np.allclose(a.get_forces(), ref.get_forces(), atol=1e-8)   # real oracle labels


def test_training_warm_starts_and_uses_all_labels(finished_run):
    folder, _, _ = finished_run
    t0 = json.loads((folder / "run" / "iter.000000" / "train.json").read_text())
    t1 = json.loads((folder / "run" / "iter.000001" / "train.json").read_text())
    assert (t0["warm_start"], t0["numb_steps"], t0["n_frames"]) == (False, 120, 8)
    store = Store(folder / "run" / "store.db", readonly=True)
    audit1 = len(json.loads((folder / "run" / "iter.000001" / "audit.json").read_text())["rows"])
    # iteration 1 trained on everything but its own audit (labeled after its training)
    assert (t1["warm_start"], t1["numb_steps"], t1["n_frames"]) == (True, 60, len(store) - audit1)
    assert t0["seed"] != t1["seed"]


def test_calibration_measures_true_error_of_labeled_candidates(finished_run):
    folder, _, _ = finished_run
    label = json.loads((folder / "run" / "iter.000000" / "label.json").read_text())
    cal = label["calibration"]
    n = label["report"]["n_labeled"]
    assert len(cal["deviation"]) == len(cal["max_force_error"]) == n > 0
    # the deviation recomputed with the iteration's model equals the one recorded during MD
    assert np.allclose(cal["deviation"], cal["recorded_deviation"], rtol=1e-4, atol=1e-6)
    assert all(e > 0 for e in cal["max_force_error"])


def test_audit_measures_the_untrained_ensemble_on_random_frames(finished_run):
    from ase.calculators.emt import EMT

    from pesgen.explore.records import read_record

    folder, _, _ = finished_run
    run = folder / "run"
    audit = json.loads((run / "iter.000000" / "audit.json").read_text())
    assert audit["report"]["n_labeled"] == len(audit["frames"]) == audit["stage_errors"]["n"] == 8
    rec = read_record(run / "iter.000000" / "record.sqlite")
    ens = pesgen.load(run / "iter.000000" / "model.pt")
    frames = rec.frames([f["row"] for f in audit["frames"]])
    res = ens.evaluate(frames)
    offset = 0
    for k, (f, atoms) in enumerate(zip(audit["frames"], frames, strict=True)):   # each number by hand
        ref = atoms.copy()
        ref.calc = EMT()
        n = len(atoms)
        err = res["forces"].detach().numpy()[offset:offset + n] - ref.get_forces()
        offset += n
        assert f["rmse_f"] == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=1e-5)
        assert f["max_force_error"] == pytest.approx(np.linalg.norm(err, axis=1).max(), rel=1e-5)
        e = 1000 * (float(res["energy"][k]) - ref.get_potential_energy()) / n
        assert f["energy_error"] == pytest.approx(e, rel=1e-4, abs=1e-3)
        assert f["deviation"] == pytest.approx(float(rec.columns["max_devi_f"][f["row"]]), rel=1e-6)
    for name, s in audit["per_system"].items():
        mine = [f for f in audit["frames"] if f["system"] == name]
        assert s["n"] == len(mine) == 2
        assert s["rmse_f"] == pytest.approx(np.sqrt(np.mean([f["rmse_f"] ** 2 for f in mine])))
        assert s["rmse_e"] == pytest.approx(np.sqrt(np.mean([f["energy_error"] ** 2 for f in mine])))
    sel = json.loads((run / "iter.000000" / "selection.json").read_text())
    assert sel["convergence"]["rule"] == "accurate_ratio" and sel["convergence"]["audit_holds"] is None


def test_status_json_has_one_row_per_iteration_with_the_audit(finished_run):
    folder, _, _ = finished_run
    result = CliRunner().invoke(app, ["status", str(folder / "run"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["finished"] and data["converged"] is False and "max_iterations=2" in data["reason"]
    assert [r["iteration"] for r in data["iterations"]] == [0, 1]
    for it, row in enumerate(data["iterations"]):
        audit = json.loads((folder / "run" / f"iter.{it:06d}" / "audit.json").read_text())
        assert row["audit"]["per_system"] == audit["per_system"] and len(audit["per_system"]) == 4
        assert row["audit_worst_rmse_f"] == max(s["rmse_f"] for s in audit["per_system"].values())
        assert row["audit"]["stage"]["upper_rmse_f"] > row["audit"]["stage"]["rmse_f"]
    table = CliRunner().invoke(app, ["status", str(folder / "run")])
    assert f"{data['iterations'][0]['audit_worst_rmse_f']:.3f}" in table.output


def test_status_load_export(finished_run, tmp_path):
    folder, _, _ = finished_run
    run = folder / "run"
    rows = iteration_rows(run)
    assert [r["iteration"] for r in rows] == [0, 1]
    assert rows[0]["labeled"] > 0 and rows[0]["failed_labels"] == 0
    assert abs(rows[0]["accurate"] + rows[0]["candidate"] + rows[0]["failed"] - 1) < 1e-9
    result = CliRunner().invoke(app, ["status", str(run)])
    assert result.exit_code == 0, result.output
    assert "finished" in result.output
    ens = pesgen.load(run)
    assert isinstance(ens, pesgen.Ensemble) and len(ens) == 2
    out = tmp_path / "final.pt"
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    again = pesgen.load(out)
    frames = Store(run / "store.db", readonly=True).frames()[:2]
    assert np.allclose(again.evaluate(frames)["forces"].numpy(), ens.evaluate(frames)["forces"].numpy())


def test_export_to_deepmd_from_the_run(finished_run, tmp_path):
    """`pesgen export RUN --format deepmd --out DIR`: one DeePMD-kit model per member, min_nbor_dist
    from the run's store (so `dp compress` needs no training data), the members' numbers."""
    pytest.importorskip("deepmd.pt.model.model", reason="DeePMD-kit (PyTorch) not installed")
    from deepmd.infer import DeepPot

    from pesgen.model.stats import min_neighbor_distance

    folder, _, _ = finished_run
    run, out = folder / "run", tmp_path / "dp"
    result = CliRunner().invoke(app, ["export", str(run), "--format", "deepmd", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "graph.000.pth", "graph.001.pth"]
    ens = pesgen.load(run)
    frames = Store(run / "store.db", readonly=True).frames()
    dist = min_neighbor_distance(frames, ens.type_map, ens.rcut)
    assert float(torch.jit.load(str(out / "graph.001.pth")).min_nbor_dist) == pytest.approx(dist, rel=1e-12)
    assert f"min_nbor_dist {dist:.4f} Å" in (out / "README.md").read_text()
    atoms = frames[-1]
    dp = DeepPot(str(out / "graph.001.pth"))
    e, f, _ = dp.eval(atoms.positions.reshape(1, -1), atoms.cell.array.reshape(1, 9),
                      [dp.get_type_map().index(s) for s in atoms.get_chemical_symbols()])
    ours = ens.evaluate(atoms)
    assert float(e.ravel()[0]) == pytest.approx(ours["energy_members"][1, 0].item(), rel=1e-9)
    np.testing.assert_allclose(f.reshape(-1, 3), ours["forces_members"][1].numpy(), atol=1e-9)


def test_export_refuses_an_unknown_format_and_missing_destinations(finished_run, tmp_path):
    run = str(finished_run[0] / "run")
    for args, message in ((["--format", "lammps", "--out", str(tmp_path)], "choose one of pesgen, deepmd"),
                          ([], "--format pesgen needs --out FILE"),
                          (["--format", "deepmd"], "--format deepmd needs --out DIR"),
                          (["--format", "deepmd", "--out", str(tmp_path), "--compress", "--iteration", "7"],
                           "iteration 7 has no trained model")):
        result = CliRunner().invoke(app, ["export", run, *args])
        assert result.exit_code == 1 and message in result.output, (args, result.output)
    result = CliRunner().invoke(app, ["export", str(tmp_path / "nothing.pt"), "--out", str(tmp_path / "x.pt")])
    assert result.exit_code == 1 and "no such run directory or model file" in result.output
    assert not (tmp_path / "x.pt").exists()
    model_file = RunDir(run).latest_model()  # a model file exports too (copied, pesgen format)
    result = CliRunner().invoke(app, ["export", str(model_file), "--out", str(tmp_path / "x.pt")])
    assert result.exit_code == 0, result.output
    copied, original = pesgen.load(tmp_path / "x.pt").module.state_dict(), pesgen.load(model_file).module.state_dict()
    assert all(torch.equal(copied[k], original[k]) for k in original)


def test_report_writes_html_and_plots(finished_run, tmp_path):
    folder, _, _ = finished_run
    result = CliRunner().invoke(app, ["report", str(folder / "run"), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "rep" / "index.html").read_text()
    for png in ("ratios.png", "deviation.png", "learning.png", "parity.png", "calibration.png", "audit.png"):
        assert (tmp_path / "rep" / png).stat().st_size > 5000, png
        assert f'src="{png}"' in page
    assert "Spearman" in page


def test_pesgen_test_on_a_run_goes_into_its_report(finished_run, tmp_path):
    """`pesgen test RUN` validates the run's latest ensemble, writes RUN/validation, and the report shows it."""
    folder, _, _ = finished_run
    run = folder / "run"
    config = tmp_path / "t.toml"
    config.write_text('properties = ["equilibrium"]\nstructures = ["fcc"]\n[relax]\nfmax = 0.01\n')
    result = CliRunner().invoke(app, ["test", str(run), "--reference", "emt", "--config", str(config)])
    assert result.exit_code == 0, result.output
    data = json.loads((run / "validation" / "results.json").read_text())
    assert [r["quantity"] for r in data["rows"]][:2] == ["E0 fcc", "V0 fcc"]
    result = CliRunner().invoke(app, ["report", str(run), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "E0 fcc" in page and "emt" in page
    summary = page.split("<h2>Convergence</h2>")[0]           # the Table-I rows in the summary too
    assert "E0 fcc" in summary and "not measured yet" not in summary


def test_finished_run_resumes_as_a_no_op_and_refuses_another_config(finished_run):
    folder, config, _ = finished_run
    before = (folder / "run" / "state.json").read_text()
    result = run_loop(folder / "run", quiet=True)
    assert result.finished and (folder / "run" / "state.json").read_text() == before
    other = write_tiny(folder, numb_steps=121, name="other.toml")
    with pytest.raises(RunDirError, match="different config"):
        run_loop(other, folder / "run", quiet=True)


def test_exit_status_says_whether_the_run_converged_and_by_which_rule(tmp_path):
    text = write_tiny(tmp_path).read_text().replace("max_iterations = 2", "max_iterations = 1")
    easy = text.replace("accurate_ratio = 0.999", "accurate_ratio = 0.01")
    (tmp_path / "easy.toml").write_text(easy)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "easy.toml"), "--dir", str(tmp_path / "easy"), "-q"])
    assert result.exit_code == 0, result.output
    assert "run ended: converged" in result.output and "deviation rule (accurate" in result.output
    # the same run with an audited force target no ensemble of it can meet: 3, the audit says why
    strict = easy.replace("accurate_ratio = 0.01", "accurate_ratio = 0.01\ntarget_force_rmse = 0.001")
    (tmp_path / "strict.toml").write_text(strict)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "strict.toml"), "--dir", str(tmp_path / "strict"), "-q"])
    assert result.exit_code == 3, result.output
    assert "run ended: not converged" in result.output and "audit (8 frames: rmse_f worst" in result.output
    assert "exit status 3" in result.output
    sel = json.loads((tmp_path / "strict" / "iter.000000" / "selection.json").read_text())
    assert sel["convergence"]["decided_by"] == "audit" and sel["convergence"]["deviation_holds"]
    again = CliRunner().invoke(app, ["run", str(tmp_path / "strict"), "-q"])     # a finished run: same status
    assert again.exit_code == 3 and "run already finished: not converged" in again.output
    # targets without the audit are a config error (exit 1), naming the key
    (tmp_path / "bad.toml").write_text(strict + "\n[audit]\nenabled = false\n")
    bad = CliRunner().invoke(app, ["run", str(tmp_path / "bad.toml"), "--dir", str(tmp_path / "bad"), "-q"])
    assert bad.exit_code == 1 and "convergence" in bad.output and "audit.enabled" in bad.output


def test_imported_initial_data_and_walkers_from_it(tmp_path):
    from ase.build import bulk
    from ase.io import write

    frames = []
    for k, a0 in enumerate((4.00, 4.05, 4.10)):
        a = bulk("Al", "fcc", a=a0, cubic=True).repeat((2, 2, 2))
        a.rattle(0.03, seed=k)
        a.calc = EMT()
        a.get_potential_energy()
        frames.append(a)
    write(tmp_path / "data.extxyz", frames)
    text = write_tiny(tmp_path).read_text()
    start = text.index("[initial.structures]")
    end = text.index("[train]")
    text = text[:start] + '[initial]\nfiles = ["data.extxyz"]\n\n' + text[end:]
    (tmp_path / "imported.toml").write_text(text.replace("max_iterations = 2", "max_iterations = 1"))
    result = run_loop(tmp_path / "imported.toml", tmp_path / "run", quiet=True)
    assert result.finished
    store = Store(tmp_path / "run" / "store.db", readonly=True)
    origins = Counter(a.info["provenance"].origin for a in store.frames())
    assert origins["imported"] == 3 and set(origins) == {"imported", "audit"}
    explore = json.loads((tmp_path / "run" / "iter.000000" / "explore.json").read_text())
    assert explore["n_walkers"] >= 1                      # walkers start from the imported frames


def test_too_many_failed_labels_stop_the_run_and_keep_them(tmp_path):
    from pesgen.loop.errors import RunStopped

    # the generic ASE labeler with EMT on Al-Mg alloys: EMT has no Mg, every such label fails
    label = 'kind = "ase"\ncalculator = "ase.calculators.emt.EMT"'
    text = write_tiny(tmp_path, label=label).read_text()
    text = text.replace('elements = ["Al"]', 'elements = ["Al", "Mg"]').replace(
        "scale = {", 'alloys = { compositions = [{ Al = 0.5, Mg = 0.5 }], n = 1, keep_pure = false }\nscale = {')
    (tmp_path / "alloy.toml").write_text(text)
    with pytest.raises(RunStopped, match="failed"):
        run_loop(tmp_path / "alloy.toml", tmp_path / "run", quiet=True)
    store = Store(tmp_path / "run" / "store.db", readonly=True)
    assert store.count_failed() >= 1 and len(store) == 0
    state = json.loads((tmp_path / "run" / "state.json").read_text()) if (tmp_path / "run" / "state.json").exists() \
        else {"done": []}
    assert "initial" not in state["done"]
    # resuming does not relabel the failed frames (it may label tasks the stop left unstarted);
    # it stops again for the same reason
    before = [p.task_id for _, _, p in store.failed()]
    with pytest.raises(RunStopped):
        run_loop(tmp_path / "alloy.toml", tmp_path / "run", quiet=True)
    after = [p.task_id for _, _, p in Store(tmp_path / "run" / "store.db", readonly=True).failed()]
    assert len(after) == len(set(after)) and set(before) <= set(after)


def test_load_of_a_folder_that_is_no_run_is_a_model_file_error(tmp_path):
    from pesgen.model.io import ModelFileError

    with pytest.raises(ModelFileError, match="not a pesgen run directory"):
        pesgen.load(tmp_path)


def test_failed_audit_labels_are_counted_and_left_out_of_the_errors(tmp_path):
    # frames with an atomic force above 1 eV/Å are refused by the label policy (a "failed" label):
    # the initial structures pass, some of the 600 K audit frames do not
    text = write_tiny(tmp_path).read_text().replace("max_iterations = 2", "max_iterations = 1")
    (tmp_path / "c.toml").write_text(text + "\n[label_policy]\nmax_force = 1.0\nmax_failed_ratio = 1.0\n")
    run_loop(tmp_path / "c.toml", tmp_path / "run", quiet=True)
    audit = json.loads((tmp_path / "run" / "iter.000000" / "audit.json").read_text())
    report = audit["report"]
    assert report["n_tasks"] == 8 and 0 < report["n_failed"] < 8
    assert report["failure_kinds"] and report["n_labeled"] == 8 - report["n_failed"]
    assert audit["stage_errors"]["n"] == len(audit["frames"]) == report["n_labeled"]
    assert sum(s["n"] for s in audit["per_system"].values()) == report["n_labeled"]
    assert sum(s["n_drawn"] for s in audit["per_system"].values()) == 8
    failed = {p.task_id for _, _, p in Store(tmp_path / "run" / "store.db", readonly=True).failed()
              if p.origin == "audit"}
    assert len(failed) == report["n_failed"]


def test_calibrated_trust_levels_fit_audits_and_candidates_in_a_run(tmp_path):
    text = write_tiny(tmp_path).read_text().replace(
        'strategy = "diverse"', 'strategy = "diverse"\ntrust = "calibrated"\n[selection.calibration]\nmin_pairs = 4'
    ).replace("[convergence]", "[convergence]\ntarget_force_rmse = 0.5")
    (tmp_path / "cal.toml").write_text(text)
    result = run_loop(tmp_path / "cal.toml", tmp_path / "run", quiet=True)

    run = RunDir(result.run_dir)
    first, second = (run.read_summary(SelectSummary, it) for it in (0, 1))
    cal = first.calibration                              # iteration 0: its own audit (8 frames) only
    assert cal.sources == {"audit": 8} and cal.pooled is not None and cal.model == "power"
    assert "convergence.target_force_rmse x" in cal.target_source and cal.target > 0.5 * 3 ** 0.5 - 1e-9
    f_lo, f_hi = cal.levels()
    assert first.f_lo == f_lo and first.f_hi == f_hi and 0 < f_lo < f_hi
    assert {p["levels_from"] for p in first.per_system.values()} <= {"system", "pooled"}
    n_labeled = len(run.read_summary(LabelSummary, 0).calibration.get("deviation", []))   # distinct frames
    assert second.calibration.sources == {"audit": 16} | ({"candidates": n_labeled} if n_labeled else {})

    page = write_report(result.run_dir, tmp_path / "report")
    assert "Calibrated trust levels" in page.read_text()
