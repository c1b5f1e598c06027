"""``pesgen data import / export / info`` end to end."""

from __future__ import annotations

import numpy as np
from emt_labeled_frames import emt_frames
from typer.testing import CliRunner

from pesgen.cli import app
from pesgen.data.exporters import export_frames
from pesgen.data.provenance import Provenance
from pesgen.data.store import Store

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], terminal_width=200)


def test_import_info_export_round_trip(tmp_path):
    # sources: an extxyz file and a DeePMD folder, written from a scratch store
    scratch = Store(tmp_path / "scratch.db")
    scratch.add_many(emt_frames(10, seed=1))
    frames = scratch.frames()
    export_frames(frames[:5], tmp_path / "a.xyz", "extxyz")
    export_frames(frames[5:], tmp_path / "dp", "deepmd-npy", type_map=["Al", "Cu"])
    store = tmp_path / "store.db"
    res = invoke("data", "import", tmp_path / "a.xyz", tmp_path / "dp", "--store", store)
    assert res.exit_code == 0, res.output
    assert len(Store(store)) == 10
    # re-import adds nothing
    res = invoke("data", "import", tmp_path / "a.xyz", "--store", store)
    assert res.exit_code == 0 and len(Store(store)) == 10
    Store(store).add_failed(frames[0], "SCF not converged", Provenance(labeler="gpaw"))
    Store(store).add_failed(frames[1], "SCF not converged", Provenance(labeler="gpaw"))
    res = invoke("data", "info", store)
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())  # rich wraps at 80 columns here
    assert "10 labeled frames, 2 failed" in out
    for text in ("Al3Cu", "Al6Cu2", "SCF not converged", "emt", "per iteration", "eV/atom"):
        assert text in out, text
    epa = [f.get_potential_energy() / len(f) for f in frames]
    assert f"{min(epa):.4f} .. {max(epa):.4f}" in out
    for fmt, target in (("deepmd-raw", tmp_path / "raw"), ("deepmd-npy", tmp_path / "npy"),
                        ("extxyz", tmp_path / "all.xyz")):
        res = invoke("data", "export", store, target, "--format", fmt, "--type-map", "Cu,Al")
        assert res.exit_code == 0, res.output
        again = Store(tmp_path / f"again-{fmt}.db")
        res = invoke("data", "import", target, "--store", again.path)
        assert res.exit_code == 0, res.output
        assert len(again) == 10 and again.count_failed() == 0
        got = sorted(a.get_potential_energy() for a in again.frames())
        np.testing.assert_allclose(got, sorted(f.get_potential_energy() for f in frames),
                                   rtol=0, atol=1e-10)
    assert (tmp_path / "raw" / "Cu1Al3" / "type_map.raw").read_text().split() == ["Cu", "Al"]
    res = invoke("data", "export", store, tmp_path / "it9", "--iteration", "9")
    assert res.exit_code == 1 and "nolabeledframesmatch" in "".join(res.output.split())


def test_errors_name_the_file_and_leave_the_store_alone(tmp_path):
    missing = tmp_path / "missing.db"
    res = invoke("data", "info", missing)
    assert res.exit_code == 1
    text = "".join(res.output.split())
    assert "storefiledoesnotexist" in text and str(missing).replace(" ", "") in text
    assert not missing.exists()
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_text("hello")
    res = invoke("data", "info", corrupt)
    assert res.exit_code == 1 and "notanSQLitedatabase" in "".join(res.output.split())
    store = tmp_path / "s.db"
    Store(store).add_many(emt_frames(2))
    bad = tmp_path / "bad.xyz"
    bad.write_text("garbage\n")
    res = invoke("data", "import", bad, "--store", store)
    assert res.exit_code == 1 and str(bad) in "".join(res.output.split())
    assert len(Store(store)) == 2
    res = invoke("data", "export", store, tmp_path / "x", "--format", "pdb")
    assert res.exit_code == 1 and "unknownexportformat" in "".join(res.output.split())


def test_import_of_nan_forces_names_the_source_file_and_writes_nothing(tmp_path):
    scratch = Store(tmp_path / "scratch.db")
    scratch.add_many(emt_frames(3, seed=2))
    export_frames(scratch.frames(), tmp_path / "bad.xyz", "extxyz")
    text = (tmp_path / "bad.xyz").read_text().splitlines()
    fields = text[2 + int(text[0]) + 2].split()  # frame 1, its first atom: the last 3 columns are forces
    fields[-1] = "nan"
    text[2 + int(text[0]) + 2] = " ".join(fields)
    (tmp_path / "bad.xyz").write_text("\n".join(text) + "\n")
    store = tmp_path / "store.db"
    res = invoke("data", "import", tmp_path / "bad.xyz", "--store", store)
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "bad.xyz: frame 1" in lines[0] and "forces not finite" in lines[0], lines
    assert not store.exists() or len(Store(store)) == 0
