"""Labelers: a structure in, reference energy/forces/stress or a typed failure out.

Public API::

    from pesgen.label import make_labeler, LabelCampaign, LabelTask, LabelPolicy, FailureBudget
    labeler = make_labeler({"kind": "lammps", "preset": "meam-jelinek2012",
                            "elements": ["Al", "Mg"]})
    result = labeler.label(atoms)            # LabelResult(energy eV, forces eV/Å, stress eV/Å^3)
    report = LabelCampaign(tasks, labeler, store, executor=executor, policy=LabelPolicy(timeout=600)).run()
    FailureBudget(max_failed_ratio=0.2).check_report(report, iteration=3)
"""

from pesgen.label.ase_calculator import AseCalculatorLabeler
from pesgen.label.base import Labeler
from pesgen.label.campaign import CampaignReport, LabelCampaign, LabelTask, make_task_id
from pesgen.label.emt import EMTLabeler
from pesgen.label.errors import (
    CalculatorError,
    FailedRatioExceeded,
    InvalidResult,
    InvalidStructure,
    LabelerConfigError,
    LabelFailure,
    LabelTimeout,
    PotentialFileNotFound,
    ProcessCrash,
    SCFNotConverged,
)
from pesgen.label.factory import make_labeler
from pesgen.label.failure_budget import FailureBudget
from pesgen.label.faults import FaultInjectingLabeler
from pesgen.label.gpaw import GpawLabeler
from pesgen.label.lammps import PRESETS as LAMMPS_PRESETS
from pesgen.label.lammps import LammpsLabeler
from pesgen.label.result import LabelResult
from pesgen.label.task import LabelPolicy, TaskOutcome, run_label_task

__all__ = [
    "AseCalculatorLabeler", "CalculatorError", "CampaignReport", "EMTLabeler", "FailedRatioExceeded",
    "FailureBudget", "FaultInjectingLabeler", "GpawLabeler", "InvalidResult", "InvalidStructure",
    "LAMMPS_PRESETS", "LabelCampaign", "LabelFailure", "LabelPolicy", "LabelResult", "LabelTask", "LabelTimeout",
    "Labeler", "LabelerConfigError", "LammpsLabeler", "PotentialFileNotFound", "ProcessCrash",
    "SCFNotConverged", "TaskOutcome", "make_labeler", "make_task_id", "run_label_task",
]
