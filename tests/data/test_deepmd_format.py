"""DeePMD npy/raw systems: layout, exact round trips through the store, the virial's sign."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from emt_labeled_frames import emt_frames, emt_label

from pesgen.data.deepmd_format import read_deepmd_system, write_deepmd_systems
from pesgen.data.errors import DataExportError, DataImportError
from pesgen.data.exporters import export_frames
from pesgen.data.importers import import_into_store, read_labeled
from pesgen.data.provenance import Provenance
from pesgen.data.store import Store


def write_source_system(folder, seed, symbols, nframes, nopbc=False, virial=True, layout="npy"):
    """A DeePMD system written directly with numpy (the input of the round-trip test)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    type_map = ["Al", "Cu"]
    types = np.array([type_map.index(s) for s in symbols])
    n = len(types)
    np.savetxt(folder / "type.raw", types, fmt="%d")
    (folder / "type_map.raw").write_text("Al\nCu\n")
    if nopbc:
        (folder / "nopbc").write_text("")
    box = np.tile((np.eye(3) * 8.0 + rng.normal(0, 0.1, (3, 3))).reshape(1, 9), (nframes, 1))
    arrays = {"coord": rng.random((nframes, 3 * n)) * 8.0, "box": box,
              "energy": rng.normal(-3.5 * n, 1.0, nframes), "force": rng.normal(size=(nframes, 3 * n))}
    if virial:
        v = rng.normal(size=(nframes, 3, 3))
        arrays["virial"] = (v + v.transpose(0, 2, 1)).reshape(nframes, 9)
    if layout == "npy":
        (folder / "set.000").mkdir()
        for name, arr in arrays.items():
            np.save(folder / "set.000" / f"{name}.npy", arr)
    else:
        for name, arr in arrays.items():
            np.savetxt(folder / f"{name}.raw", arr)
    return arrays


def frames_of(store):
    """Frames of a store sorted by task id (export regroups frames by composition)."""
    return sorted([(a.numbers.copy(), a.positions, a.cell.array, a.pbc, a.calc.results["energy"],
             a.calc.results["forces"], a.calc.results.get("stress"), a.info["provenance"])
            for a in store.frames()], key=lambda x: x[7].task_id)


def assert_same_stores(a, b):
    fa, fb = frames_of(a), frames_of(b)
    assert len(fa) == len(fb) > 0
    for x, y in zip(fa, fb, strict=True):
        for i in range(6):
            np.testing.assert_array_equal(x[i], y[i])
        if x[6] is None:
            assert y[6] is None
        else:  # stress -> virial -> stress: -(-s V)/V, equal to the last bit or two
            np.testing.assert_allclose(x[6], y[6], rtol=1e-14, atol=1e-18)
        assert x[7] == y[7]


@pytest.mark.parametrize("layout", ["npy", "raw"])
def test_import_export_import_round_trip_is_exact(tmp_path, layout):
    src = tmp_path / "src"
    a = write_source_system(src / "Al3Cu", 1, ["Al", "Al", "Al", "Cu"], 7, layout=layout)
    write_source_system(src / "AlCu7", 2, ["Cu"] * 7 + ["Al"], 3, layout=layout)
    write_source_system(src / "cluster", 3, ["Al", "Cu", "Al"], 2, nopbc=True, virial=False,
                        layout=layout)
    store1 = Store(tmp_path / "one.db")
    results = import_into_store(store1, [src], type_map=None,
                                provenance=Provenance(iteration=4, labeler="vasp"))
    assert [(r.read, r.added) for r in results] == [(12, 12)]
    frames = store1.frames()
    assert {f.info["provenance"].system for f in frames} == {"Al3Cu", "AlCu7", "cluster"}
    first = [f for f in frames if f.info["provenance"].system == "Al3Cu"]
    np.testing.assert_array_equal(first[2].positions.reshape(-1), a["coord"][2])
    np.testing.assert_array_equal(first[2].cell.array.reshape(-1), a["box"][2])
    assert first[2].get_potential_energy() == a["energy"][2]
    np.testing.assert_allclose(-first[2].get_stress(voigt=False) * first[2].get_volume(),
                               a["virial"][2].reshape(3, 3), rtol=1e-13, atol=1e-13)
    # export, import into a second store, compare
    out = tmp_path / "out"
    systems = export_frames(frames, out, f"deepmd-{layout}")
    assert len(systems) == 3
    store2 = Store(tmp_path / "two.db")
    import_into_store(store2, [out])
    assert_same_stores(store1, store2)
    # and a second export is identical to the first one, array by array
    out2 = tmp_path / "out2"
    export_frames(store2.frames(), out2, f"deepmd-{layout}")
    for f in sorted(out.rglob("*")):
        if f.suffix in (".npy", ".raw") and f.name != "type_map.raw":
            g = out2 / f.relative_to(out)
            load = np.load if f.suffix == ".npy" else np.loadtxt
            np.testing.assert_allclose(load(g), load(f), rtol=1e-13, atol=1e-13)


def test_layout_matches_deepmd(tmp_path):
    frames = emt_frames(10)
    store = Store(tmp_path / "s.db")
    store.add_many(frames)
    systems = write_deepmd_systems(store.frames(), tmp_path / "out", "npy", type_map=["Cu", "Al"],
                                   set_size=1)
    names = sorted(s.name for s in systems)
    assert names == ["Al4", "Al8", "Cu1Al3", "Cu1Al3_nopbc", "Cu2Al6"]
    sys_dir = next(s for s in systems if s.name == "Cu1Al3")
    assert (sys_dir / "type_map.raw").read_text().split() == ["Cu", "Al"]
    assert np.loadtxt(sys_dir / "type.raw", dtype=int).tolist() == [0, 1, 1, 1]  # sorted by type
    sets = sorted(sys_dir.glob("set.*"))
    assert len(sets) == 2  # set_size=1, two frames of this composition
    for name, width in (("coord", 12), ("box", 9), ("energy", None), ("force", 12), ("virial", 9)):
        arr = np.load(sets[0] / f"{name}.npy")
        assert arr.dtype == np.float64
        assert arr.shape == ((1, width) if width else (1,))
    nopbc = next(s for s in systems if s.name.endswith("_nopbc"))
    assert (nopbc / "nopbc").exists() and not (nopbc / "set.000" / "virial.npy").exists()
    # the reordered frame comes back in its original order
    back = read_labeled(tmp_path / "out")
    by_task = {f.provenance.task_id: f for f in back}
    for frame in frames:
        got = by_task[frame.provenance.task_id]
        np.testing.assert_array_equal(got.atoms.numbers, frame.atoms.numbers)
        np.testing.assert_array_equal(got.atoms.positions, frame.atoms.positions)
        np.testing.assert_array_equal(got.forces, frame.forces)


def test_virial_is_minus_strain_derivative_of_energy(tmp_path):
    """Physics of the sign: DeePMD's virial W = -dE/d(strain) = -V * stress (ASE sign)."""
    atoms = bulk("Al", "fcc", a=4.05 * 0.97, cubic=True)  # compressed: positive pressure
    atoms.positions[0] += [0.05, -0.03, 0.02]
    energy, forces, stress = emt_label(atoms)
    store = Store(tmp_path / "s.db")
    store.add(atoms, energy, forces, stress)
    (system,) = export_frames(store.frames(), tmp_path / "out", "deepmd-npy")
    virial = np.load(system / "set.000" / "virial.npy").reshape(3, 3)
    assert np.all(np.diag(virial) > 0)  # compressed crystal pushes outwards
    h = 1e-5
    for i, j in ((0, 0), (1, 1), (0, 1)):
        e = []
        for sign in (1, -1):
            strain = np.eye(3)
            strain[i, j] += sign * h / (1 if i == j else 2)
            strain[j, i] += 0 if i == j else sign * h / 2
            strained = atoms.copy()
            strained.set_cell(atoms.cell @ strain, scale_atoms=True)
            e.append(emt_label(strained, with_stress=False)[0])
        d_e = (e[0] - e[1]) / (2 * h)
        assert virial[i, j] == pytest.approx(-d_e, rel=1e-4, abs=1e-6)


def test_dpdata_reads_our_export_and_agrees_on_the_virial(tmp_path):
    dpdata = pytest.importorskip("dpdata")
    frames = emt_frames(8)
    store = Store(tmp_path / "s.db")
    store.add_many(frames)
    systems = export_frames(store.frames(), tmp_path / "out", "deepmd-npy")
    checked = 0
    for sys_dir in systems:
        ours = read_deepmd_system(sys_dir, keep_provenance=False)
        theirs = dpdata.LabeledSystem(str(sys_dir), fmt="deepmd/npy")
        assert theirs.get_nframes() == len(ours)
        np.testing.assert_array_equal(theirs["coords"], np.stack([f.atoms.positions for f in ours]))
        np.testing.assert_array_equal(theirs["energies"], [f.energy for f in ours])
        np.testing.assert_array_equal(theirs["forces"], np.stack([f.forces for f in ours]))
        if "virials" in theirs.data:
            for k, f in enumerate(ours):
                # dpdata's own ASE conversion gives the same virial as our export
                ref = dpdata.LabeledSystem(_with_calc(f), fmt="ase/structure")
                np.testing.assert_allclose(theirs["virials"][k], ref["virials"][0], rtol=1e-12,
                                           atol=1e-12)
                checked += 1
    assert checked > 0
    # and pesgen reads through dpdata too
    via = read_labeled(tmp_path / "out", fmt="dpdata:deepmd/npy")
    assert len(via) == len(frames)
    assert sorted(f.energy for f in via) == sorted(f.energy for f in frames)


def _with_calc(frame):
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = frame.atoms.copy()
    atoms.calc = SinglePointCalculator(atoms, energy=frame.energy, forces=frame.forces,
                                       stress=frame.stress)
    return atoms


def test_clear_errors_naming_the_file(tmp_path):
    src = tmp_path / "sys"
    write_source_system(src, 1, ["Al", "Cu"], 2)
    (src / "set.000" / "energy.npy").unlink()
    with pytest.raises(DataImportError, match=f"{src / 'set.000' / 'energy.npy'}: missing"):
        read_labeled(src)
    src2 = tmp_path / "sys2"
    write_source_system(src2, 1, ["Al", "Cu"], 2)
    (src2 / "type_map.raw").unlink()
    with pytest.raises(DataImportError, match=f"{src2 / 'type_map.raw'}: missing; give the type"):
        read_labeled(src2)
    assert len(read_labeled(src2, type_map=["Al", "Cu"])) == 2
    np.save(src2 / "set.000" / "force.npy", np.zeros((2, 5)))
    with pytest.raises(DataImportError, match=f"{src2}: force has shape"):
        read_labeled(src2, type_map=["Al", "Cu"])
    (src2 / "set.000" / "coord.npy").write_bytes(b"garbage")
    with pytest.raises(DataImportError, match=f"{src2 / 'set.000' / 'coord.npy'}: cannot read"):
        read_labeled(src2, type_map=["Al", "Cu"])
    with pytest.raises(DataImportError, match="no DeePMD system"):
        read_labeled(_empty(tmp_path / "empty"), fmt="deepmd")
    store = Store(tmp_path / "s.db")
    store.add_many(emt_frames(2))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(DataExportError, match="not an empty folder"):
        export_frames(store.frames(), tmp_path / "full", "deepmd-npy")
    with pytest.raises(DataExportError, match="not in the type map"):
        export_frames(store.frames(), tmp_path / "o", "deepmd-npy", type_map=["Al"])


def _empty(path):
    path.mkdir()
    return path
