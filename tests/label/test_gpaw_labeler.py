"""GPAW (PW 350 eV, PBE, k 4x4x4) labels a 4-atom fcc Al cell in a subprocess."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk

from pesgen.label import GpawLabeler, LabelTimeout, SCFNotConverged, make_labeler


@pytest.fixture(scope="module")
def al4():
    atoms = bulk("Al", "fcc", a=4.05, cubic=True)
    atoms.rattle(0.05, seed=1)
    return atoms


@pytest.mark.slow
def test_gpaw_label_of_al4(al4, tmp_path):
    labeler = make_labeler({"kind": "gpaw", "ecut": 350, "kpts": [4, 4, 4]})
    labeler.check_installation()
    result = labeler.label(al4, tmp_path)
    # PBE PW total energy of fcc Al relative to GPAW's atomic references: about -3.7 eV/atom
    assert -4.2 < result.energy / len(al4) < -3.2
    assert result.forces.shape == (4, 3)
    np.testing.assert_allclose(result.forces.sum(axis=0), 0.0, atol=2e-3)
    assert np.abs(result.forces).max() > 0.01  # rattled: real forces
    assert result.stress is not None and result.stress.shape == (6,)
    assert np.all(np.isfinite(result.stress))
    # the task directory keeps input, job script, GPAW's log and the result
    for name in ("task.json", "gpaw_runner.py", "gpaw.txt", "result.json"):
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["energy"] == pytest.approx(result.energy)
    # a rattle of the first atom along +x is pushed back: force on it points along -x
    shifted = al4.copy()
    shifted.positions[0, 0] += 0.1
    r2 = labeler.label(shifted, tmp_path / "shifted")
    assert r2.forces[0, 0] < result.forces[0, 0]


@pytest.mark.slow
def test_gpaw_scf_not_converged(al4, tmp_path):
    with pytest.raises(SCFNotConverged, match="KohnShamConvergenceError|converge"):
        GpawLabeler(maxiter=2).label(al4, tmp_path)


def test_gpaw_timeout_kills_the_job(al4, tmp_path):
    with pytest.raises(LabelTimeout, match="0.3 s"):
        GpawLabeler().label(al4, tmp_path, timeout=0.3)


def test_gpaw_command_with_mpi():
    labeler = GpawLabeler(mpi_command="mpirun -np 4", python="/opt/gpaw/bin/python")
    assert labeler.command()[:4] == ["mpirun", "-np", "4", "/opt/gpaw/bin/python"]
    assert labeler.env["OMP_NUM_THREADS"] == "1"
    assert labeler.env["OPENBLAS_NUM_THREADS"] == "1"
    assert GpawLabeler(ecut=400).settings_hash() != GpawLabeler().settings_hash()
