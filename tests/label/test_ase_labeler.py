"""Any ASE calculator by import path; the labeler factory."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT

from pesgen.label import (
    AseCalculatorLabeler,
    EMTLabeler,
    FaultInjectingLabeler,
    GpawLabeler,
    LabelerConfigError,
    LammpsLabeler,
    SCFNotConverged,
    make_labeler,
)
from pesgen.label.ase_calculator import is_convergence_error


def test_ase_labeler_equals_direct_calculator(al32, tmp_path):
    labeler = make_labeler({"kind": "ase", "calculator": "ase.calculators.emt.EMT",
                            "kwargs": {"asap_cutoff": False}, "env": {"PESGEN_TEST": "1"}})
    result = labeler.label(al32, tmp_path / "task")
    ref = al32.copy()
    ref.calc = EMT()
    assert result.energy == pytest.approx(ref.get_potential_energy(), abs=1e-10)
    np.testing.assert_allclose(result.forces, ref.get_forces(), atol=1e-10)
    np.testing.assert_allclose(result.stress, ref.get_stress(), atol=1e-12)
    assert labeler.name == "ase-emt"
    assert (tmp_path / "task").is_dir()


def test_file_based_calculator_writes_into_task_directory(al32, tmp_path):
    """ASE's Espresso calculator writes its input into the task directory; with no pw.x the
    run fails and the failure is a typed calculator error, with the input kept for audit."""
    from pesgen.label import CalculatorError

    labeler = make_labeler({
        "kind": "ase", "calculator": "ase.calculators.espresso.Espresso",
        "kwargs": {"pseudopotentials": {"Al": "Al.pbe-n-kjpaw_psl.1.0.0.UPF"},
                   "input_data": {"system": {"ecutwfc": 30}}, "kpts": [2, 2, 2]},
        "profile": {"command": str(tmp_path / "no-such-pw.x"), "pseudo_dir": str(tmp_path)},
        "name": "qe-pbe"})
    with pytest.raises(CalculatorError, match="qe-pbe"):
        labeler.label(al32, tmp_path / "task")
    text = (tmp_path / "task" / "espresso.pwi").read_text()
    assert "ecutwfc" in text and "Al.pbe-n-kjpaw_psl.1.0.0.UPF" in text


def test_objects_from_config(al32):
    labeler = AseCalculatorLabeler("ase.calculators.lj.LennardJones",
                                   {"sigma": 2.6, "epsilon": 0.4, "rc": 6.0})
    from ase.calculators.lj import LennardJones

    ref = al32.copy()
    ref.calc = LennardJones(sigma=2.6, epsilon=0.4, rc=6.0)
    assert labeler.label(al32).energy == pytest.approx(ref.get_potential_energy())
    # {"__class__": ...} builds objects
    from pesgen.label.importing import build_value

    built = build_value({"p": {"__class__": "fractions.Fraction", "args": [1, 3]}}, "kwargs")
    from fractions import Fraction

    assert built["p"] == Fraction(1, 3)


def test_convergence_errors_are_recognised():
    from ase.calculators.calculator import SCFError

    class KohnShamConvergenceError(Exception):
        pass

    assert is_convergence_error(SCFError("x"))
    assert is_convergence_error(KohnShamConvergenceError("x"))
    assert not is_convergence_error(RuntimeError("x"))
    # a calculator rejecting its keyword arguments is a configuration error naming it
    from ase.build import bulk

    with pytest.raises(LabelerConfigError, match="Fraction.*no_such_option"):
        AseCalculatorLabeler("fractions.Fraction", {"no_such_option": 1},
                             directory_kwarg=None).label(bulk("Al"))
    assert SCFNotConverged("x").kind == "scf-not-converged"


def test_bad_import_paths():
    with pytest.raises(LabelerConfigError, match="no_such_module"):
        AseCalculatorLabeler("no_such_module.Calc")
    with pytest.raises(LabelerConfigError, match="NoSuchCalc"):
        AseCalculatorLabeler("ase.calculators.emt.NoSuchCalc")


def test_make_labeler_kinds_and_errors():
    assert isinstance(make_labeler({"kind": "emt"}), EMTLabeler)
    assert isinstance(make_labeler({"kind": "lammps", "preset": "eam-alloy-al-zhou",
                                    "elements": ["Al"]}), LammpsLabeler)
    assert isinstance(make_labeler({"kind": "gpaw", "ecut": 300}), GpawLabeler)
    wrapped = make_labeler({"kind": "fault-injection", "inner": {"kind": "emt"}, "delay": 0.01})
    assert isinstance(wrapped, FaultInjectingLabeler)
    assert wrapped.settings_hash() == EMTLabeler().settings_hash()
    with pytest.raises(LabelerConfigError, match="'dft'"):
        make_labeler({"kind": "dft"})
    with pytest.raises(LabelerConfigError, match=r"unknown key\(s\) \['ecutt'\]"):
        make_labeler({"kind": "gpaw", "ecutt": 300})
    with pytest.raises(LabelerConfigError, match=r"missing key\(s\) \['elements'\]"):
        make_labeler({"kind": "lammps", "preset": "meam-jelinek2012"})
    with pytest.raises(LabelerConfigError, match="kpts"):
        make_labeler({"kind": "gpaw", "kpts": [4, 4]})
