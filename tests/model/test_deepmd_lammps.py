"""LAMMPS `pair_style deepmd` on an exported pesgen model gives pesgen's energy, forces and deviation.

Needs DeePMD-kit's LAMMPS plugin (libdeepmd_lmp*.so) and the LAMMPS it was built for: both in
.deepmd-lammps/ where scripts/build_deepmd_lammps.sh puts them, or the plugin in a folder of
LAMMPS_PLUGIN_PATH and `lmp` at PESGEN_LMP; skipped cleanly otherwise (docs/interop.md: how to
build it here or on a cluster).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

import pesgen
from pesgen.model.deepmd_export import write_deepmd
from pesgen.structures.alloys import random_alloy

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / ".deepmd-lammps"
LMP = Path(os.environ.get("PESGEN_LMP", BUILT / "lammps" / "lmp"))


def plugin_dirs() -> list[str]:
    candidates = [p for p in os.environ.get("LAMMPS_PLUGIN_PATH", "").split(":") if p]
    candidates.append(str(BUILT / "deepmd" / "lib"))
    return [d for d in candidates if list(Path(d).glob("libdeepmd_lmp*.so"))]


needs_plugin = pytest.mark.skipif(
    not LMP.is_file() or not plugin_dirs(),
    reason="DeePMD-kit's LAMMPS plugin and its lmp are not built (scripts/build_deepmd_lammps.sh; "
           "docs/interop.md)")


def almg(seed: int = 1):
    atoms = random_alloy(bulk("Al", "fcc", a=4.07, cubic=True).repeat(3), {"Al": 0.7, "Mg": 0.3},
                         np.random.default_rng(seed), tag_system=False)
    atoms.positions += np.random.default_rng(seed + 1).normal(scale=0.1, size=atoms.positions.shape)
    atoms.wrap()
    return atoms


@needs_plugin
@pytest.mark.filterwarnings("ignore")
def test_lammps_energy_forces_and_deviation_equal_pesgen(tmp_path):
    pytest.importorskip("deepmd.pt.model.model", reason="DeePMD-kit (PyTorch) not installed")
    atoms = almg()
    members = []
    for seed in range(2):
        m = pesgen.DeepPot(type_map=["Al", "Mg"], rcut=5.0, rcut_smth=1.0, seed=seed, neuron=[8, 16, 32],
                           axis_neuron=4, fitting_neuron=[32, 32, 32])
        m.compute_statistics([almg(s) for s in range(3)], auto_sel=True, bias=False)
        members.append(m)
    ens = pesgen.Ensemble(members)
    export = write_deepmd(ens.module, tmp_path / "model")
    write(tmp_path / "cell.data", atoms, format="lammps-data", specorder=["Al", "Mg"], masses=True,
          atom_style="atomic")
    models = " ".join(str(p) for p in export.models)
    (tmp_path / "in.lammps").write_text(f"""units metal
atom_style atomic
boundary p p p
read_data cell.data
pair_style deepmd {models} out_freq 1 out_file model_devi.out
pair_coeff * * Al Mg
thermo_style custom step pe
thermo_modify format float %.15e
run 0
print "PE $(pe:%.15e)"
write_dump all custom forces.dump id fx fy fz modify sort id format float %.15e
""")
    # the wheel's lmp finds the mpich wheel's libmpi.so.12 in the environment's lib/
    libs = [str(Path(sys.prefix) / "lib"), os.environ.get("LD_LIBRARY_PATH", "")]
    env = dict(os.environ, LAMMPS_PLUGIN_PATH=":".join(plugin_dirs()), OMP_NUM_THREADS="1",
               LD_LIBRARY_PATH=":".join(p for p in libs if p))
    proc = subprocess.run([str(LMP), "-in", "in.lammps", "-log", "none"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    pe = float(next(line for line in proc.stdout.splitlines() if line.startswith("PE ")).split()[1])
    forces = np.loadtxt(tmp_path / "forces.dump", skiprows=9)[:, 1:]
    devi = np.loadtxt(tmp_path / "model_devi.out", ndmin=2)
    ours = ens.evaluate(atoms)
    assert pe == pytest.approx(ours["energy_members"][0, 0].item(), rel=1e-9)
    np.testing.assert_allclose(forces, ours["forces_members"][0].numpy(), rtol=0, atol=1e-9)
    # model_devi.out: step, max/min/avg virial deviation, max/min/avg force deviation (eV/Å)
    np.testing.assert_allclose(devi[0, 4:7], [ours[k].item() for k in ("max_devi_f", "min_devi_f", "avg_devi_f")],
                               rtol=1e-6)


def test_example_writes_a_4000_atom_almg_cell(tmp_path):
    """examples/lammps/make_data.py: the NVT example's data file (4000 atoms, types Al=1, Mg=2)."""
    from ase.io import read

    proc = subprocess.run([sys.executable, str(REPO / "examples" / "lammps" / "make_data.py"), "almg.data"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    atoms = read(tmp_path / "almg.data", format="lammps-data", atom_style="atomic", Z_of_type={1: 13, 2: 12})
    assert len(atoms) == 4000 and atoms.get_chemical_symbols().count("Mg") == 400
