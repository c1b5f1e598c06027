"""``pesgen data import`` of a DP-GEN run directory: iter.*/02.fp/data.* with the iteration and
system in provenance, the initial data its param.json names, and re-imports that add nothing."""

from __future__ import annotations

import json

import numpy as np
from dpgen_testkit import labeled
from typer.testing import CliRunner

from pesgen.cli import app
from pesgen.data.deepmd_format import SIDE_FILE, write_deepmd_systems
from pesgen.data.dpgen_run import read_dpgen_run
from pesgen.data.store import Store


def _system(folder, elements, n, seed):
    written = write_deepmd_systems(labeled(elements, n, seed), folder, type_map=elements)
    for system in written:
        (system / SIDE_FILE).unlink()  # DP-GEN's (dpdata's) systems have no pesgen side file
    return written


def dpgen_run(root):
    """A DP-GEN run directory: init data, iteration 0 labels of systems 0 and 2, iteration 1 of system 1."""
    run = root / "dpgen-run"
    run.mkdir()
    (run / "record.dpgen").write_text("0 0\n0 1\n0 2\n0 3\n0 4\n0 5\n0 6\n0 7\n0 8\n1 0\n")
    (run / "param.json").write_text(json.dumps({"type_map": ["Al", "Cu"], "fp_style": "vasp",
                                                "init_data_prefix": "../init", "init_data_sys": ["al.fcc"]}))
    _system(root / "init" / "al.fcc", ["Al"], 4, 0)
    _system(run / "iter.000000" / "02.fp" / "data.000", ["Al", "Cu"], 3, 1)
    _system(run / "iter.000000" / "02.fp" / "data.002", ["Al"], 2, 2)
    _system(run / "iter.000001" / "02.fp" / "data.001", ["Al", "Cu"], 5, 3)
    (run / "iter.000001" / "01.model_devi").mkdir()
    return run


def test_read_dpgen_run_provenance(tmp_path):
    frames = read_dpgen_run(dpgen_run(tmp_path))
    seen = sorted((f.provenance.origin, f.provenance.iteration, f.provenance.system) for f in frames)
    assert seen == sorted([("initial", 0, "Al4")] * 4 + [("explored", 0, "sys000")] * 3
                          + [("explored", 0, "sys002")] * 2 + [("explored", 1, "sys001")] * 5)
    assert {f.provenance.labeler for f in frames} == {"dpgen-vasp"}
    assert len({f.provenance.task_id for f in frames}) == len(frames)


def test_data_import_cli(tmp_path):
    run = dpgen_run(tmp_path)
    store = tmp_path / "store.db"
    runner = CliRunner()
    result = runner.invoke(app, ["data", "import", str(run), "--store", str(store)])
    assert result.exit_code == 0, result.output
    db = Store(store, readonly=True)
    assert len(db) == 14
    assert len(db.frames(iteration=1, origin="explored")) == 5
    # the labels survive: energies as written
    ref = sorted(a.get_potential_energy() for a in labeled(["Al", "Cu"], 5, 3))
    got = sorted(a.get_potential_energy() for a in db.frames(iteration=1))
    assert np.allclose(ref, got)
    again = runner.invoke(app, ["data", "import", str(run), "--store", str(store)])
    assert again.exit_code == 0 and len(Store(store, readonly=True)) == 14


def test_missing_init_data_named(tmp_path):
    run = dpgen_run(tmp_path)
    param = json.loads((run / "param.json").read_text())
    param["init_data_sys"] = ["gone"]
    (run / "param.json").write_text(json.dumps(param))
    result = CliRunner().invoke(app, ["data", "import", str(run), "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 1 and "gone: initial data named by" in result.output
    assert not (tmp_path / "s.db").exists() or len(Store(tmp_path / "s.db", readonly=True)) == 0
