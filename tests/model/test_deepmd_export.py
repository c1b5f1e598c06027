"""The DeePMD-kit export (graph.000.pth ...) gives pesgen's numbers in DeePMD-kit's own tools.

Runs where DeePMD-kit 3.x with its PyTorch backend is importable (CI installs it: scripts/setup.sh);
skipped elsewhere. One 4-member float64 Al-Cu ensemble is exported once (with compression) and
checked through deepmd.infer.DeepPot, `dp --pt test` and `dp --pt model-devi`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from model_testkit import alcu_cell, make_model

from pesgen.data.store import Store
from pesgen.model.deepmd_export import write_deepmd
from pesgen.model.stats import min_neighbor_distance
from pesgen.validate.evaluate import category_errors

pytest.importorskip("deepmd.pt.model.model", reason="DeePMD-kit (PyTorch) not installed")
from deepmd.infer import DeepPot  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore")
DP = str(Path(sys.executable).parent / "dp")
RTOL = 1e-6           # float64 models: relative to the largest component compared
RTOL_FLOAT32 = 1e-5   # float32 models: DeePMD-kit and pesgen round differently (measured ~1e-7)


@pytest.fixture(scope="module")
def exported(ensemble, frames, tmp_path_factory):
    out = tmp_path_factory.mktemp("deepmd")
    dist = min_neighbor_distance(frames, ensemble.type_map, ensemble.rcut)
    return write_deepmd(ensemble.module, out, min_nbor_dist=dist, compress=True, source="test ensemble")


@pytest.fixture(scope="module")
def data_dir(frames, tmp_path_factory):
    """`pesgen data export --format deepmd-npy` of a store holding the EMT frames."""
    from typer.testing import CliRunner

    from pesgen.cli import app

    folder = tmp_path_factory.mktemp("dpdata")
    with Store(folder / "store.db") as store:
        for atoms in frames[:3]:
            store.add(atoms, atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress())
    result = CliRunner().invoke(app, ["data", "export", str(folder / "store.db"), str(folder / "data"),
                                      "--format", "deepmd-npy", "--type-map", "Al,Cu"])
    assert result.exit_code == 0, result.output
    return folder / "data", frames[:3]


def cluster(seed: int = 3) -> Atoms:
    """A non-periodic Al-Cu cluster (the atoms of a rattled cell within 4.5 Å of its centre)."""
    cell = alcu_cell(seed=seed, rattle=0.1)
    keep = np.linalg.norm(cell.positions - cell.positions.mean(0), axis=1) < 4.5
    atoms = cell[keep]
    atoms.pbc = False
    atoms.cell = None
    return atoms


def deepmd_eval(path: Path, atoms: Atoms):
    dp = DeepPot(str(path))
    types = [dp.get_type_map().index(s) for s in atoms.get_chemical_symbols()]
    cell = atoms.cell.array.reshape(1, 9) if atoms.pbc.all() else None
    e, f, v = dp.eval(atoms.positions.reshape(1, -1), cell, types)
    return float(e.ravel()[0]), f.reshape(-1, 3), v.reshape(3, 3)


def assert_rel(ours, theirs, rtol: float, what: str) -> None:
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    err = np.abs(ours - theirs).max() / np.abs(theirs).max()
    assert err < rtol, f"{what}: relative difference {err:.2e} >= {rtol:.0e}"


def test_export_writes_one_model_per_member_and_a_readme(exported, ensemble):
    assert [p.name for p in exported.models] == [f"graph.{k:03d}.pth" for k in range(4)]
    assert [p.name for p in exported.compressed] == [f"graph.{k:03d}.compressed.pth" for k in range(4)]
    text = exported.readme.read_text()
    assert "dp --pt test -m graph.000.pth" in text and "pair_coeff * * Al Cu" in text
    dp = DeepPot(str(exported.models[0]))
    assert dp.get_type_map() == ["Al", "Cu"] and dp.get_rcut() == pytest.approx(ensemble.rcut)


def assert_members_agree(paths, atoms, out) -> None:
    """DeePMD-kit's energy, forces and virial of each member file equal pesgen's member ``k`` (``out``)."""
    for k, path in enumerate(paths):
        e, f, v = deepmd_eval(path, atoms)
        assert e == pytest.approx(out["energy_members"][k, 0].item(), rel=RTOL, abs=0)
        assert_rel(f, out["forces_members"][k].numpy(), RTOL, f"{path.name} forces")
        assert_rel(v, out["virial_members"][k, 0].numpy(), RTOL, f"{path.name} virial")


@pytest.mark.parametrize("periodic", [True, False])
def test_deeppot_gives_pesgen_energies_forces_virials(exported, ensemble, periodic):
    atoms = alcu_cell(seed=61, rattle=0.15) if periodic else cluster()
    assert set(atoms.get_chemical_symbols()) == {"Al", "Cu"}
    out = ensemble.evaluate(atoms)
    assert_members_agree(exported.models, atoms, out)


def test_float32_export_agrees_to_the_stated_tolerance(frames, tmp_path):
    model = make_model(frames, seed=7, precision="float32")
    result = write_deepmd(model.module, tmp_path)
    atoms = alcu_cell(seed=62, rattle=0.15)
    out = model.evaluate(atoms)
    e, f, v = deepmd_eval(result.models[0], atoms)
    assert e == pytest.approx(out["energy"].item(), rel=RTOL_FLOAT32, abs=0)
    assert_rel(f, out["forces"].numpy(), RTOL_FLOAT32, "float32 forces")
    assert_rel(v, out["virial"][0].numpy(), RTOL_FLOAT32, "float32 virial")


def test_compressed_models_load_and_agree(exported, ensemble):
    atoms = alcu_cell(seed=63, rattle=0.15)
    out = ensemble.evaluate(atoms)
    assert_members_agree(exported.compressed, atoms, out)


def dp_run(*args: str, cwd: Path) -> str:
    proc = subprocess.run([DP, "--pt", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_dp_test_gives_pesgen_rmses(exported, data_dir, ensemble, tmp_path):
    data, frames = data_dir
    system = next(data.iterdir())
    log = dp_run("test", "-m", str(exported.models[0]), "-s", str(system), cwd=tmp_path)
    member = ensemble.members[0]
    ours = category_errors(member, "all", frames)

    def figure(name: str) -> float:
        return float(re.search(rf"{re.escape(name)}\s*:\s*(\S+)", log).group(1))

    assert figure("Energy RMSE/Natoms") * 1000 == pytest.approx(ours.energy_rmse, rel=RTOL)
    assert figure("Force  RMSE") == pytest.approx(ours.force_rmse, rel=RTOL)
    # DeePMD-kit compares the virial as predicted; pesgen's evaluate symmetrises it first
    v_dp = np.stack([ensemble.members[0].evaluate(a)["virial"][0].numpy() for a in frames])
    v_label = np.stack([-a.get_volume() * a.get_stress(voigt=False) for a in frames])
    n = len(frames[0])
    assert figure("Virial RMSE/Natoms") == pytest.approx(np.sqrt(np.mean(((v_dp - v_label) / n) ** 2)), rel=RTOL)


def test_dp_model_devi_gives_pesgen_deviations(exported, data_dir, ensemble, tmp_path):
    data, frames = data_dir
    dp_run("model-devi", "-m", *map(str, exported.models), "-s", str(data), "-o", "md.out", cwd=tmp_path)
    table = np.loadtxt(tmp_path / "md.out", ndmin=2)
    assert table.shape == (len(frames), 8)
    ours = ensemble.evaluate(frames)
    for col, key in ((1, "max_devi_v"), (2, "min_devi_v"), (3, "avg_devi_v"),
                     (4, "max_devi_f"), (5, "min_devi_f"), (6, "avg_devi_f")):
        np.testing.assert_allclose(table[:, col], ours[key].numpy(), rtol=RTOL, err_msg=key)


def test_export_again_removes_the_stale_member_files_of_an_earlier_export(exported, frames, tmp_path):
    """A 2-member export into the folder of a compressed 4-member one leaves graph.000/001.pth of
    the new ensemble only, says what it removed, and touches no file of another name."""
    import shutil

    from typer.testing import CliRunner

    import pesgen
    from pesgen.cli import app

    out = tmp_path / "dp"
    shutil.copytree(exported.models[0].parent, out)
    others = ["graph.000.pth.bak", "graph.04.pth", "my-graph.001.pth", "graph.001.pt", "notes.txt"]
    for name in others:
        (out / name).write_text("not the export's")
    (out / "graph.009.pth").mkdir()  # a folder of that name is not a model file either
    two = pesgen.Ensemble([make_model(frames, seed=s) for s in (7, 8)])
    two.save(tmp_path / "two.pt")
    result = CliRunner().invoke(app, ["export", str(tmp_path / "two.pt"), "--format", "deepmd", "--out", str(out)])
    assert result.exit_code == 0, result.output
    stale = [f"graph.{k:03d}.compressed.pth" for k in range(4)] + ["graph.002.pth", "graph.003.pth"]
    assert f"removed 6 stale model files of an earlier export: {' '.join(sorted(stale))}" in \
        " ".join(result.output.split())
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["README.md", "graph.000.pth", "graph.001.pth", "graph.009.pth", *others])
    atoms = frames[0]
    ours = two.evaluate(atoms)
    for k in range(2):
        assert deepmd_eval(out / f"graph.{k:03d}.pth", atoms)[0] == pytest.approx(
            ours["energy_members"][k, 0].item(), rel=RTOL, abs=0)
