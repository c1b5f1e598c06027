"""The two sides of a validation: the model's ASE calculator and the reference's.

A reference is given as a short name (``emt``, ``meam``, ``eam-al``, ...), a labeler config
(JSON text or dict, see :func:`pesgen.label.make_labeler`), or the path of another pesgen model.
:class:`LabelerCalculator` wraps any labeler as an ASE calculator so that ASE's optimisers,
filters, MD and phonopy can drive it (energy eV, forces eV/Å, stress eV/Å^3 with ASE's sign).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from pesgen.validate.errors import ValidationConfigError

#: Short reference names and the labeler config they stand for (``elements`` is filled in).
SHORT_NAMES: dict[str, dict[str, Any]] = {
    "emt": {"kind": "emt"},
    "meam": {"kind": "lammps", "preset": "meam-jelinek2012"},
    "eam-al": {"kind": "lammps", "preset": "eam-fs-al-mendelev"},
    "eam-mg": {"kind": "lammps", "preset": "eam-fs-mg-sun"},
    "eam-al-zhou": {"kind": "lammps", "preset": "eam-alloy-al-zhou"},
}


class LabelerCalculator(Calculator):
    """An ASE calculator whose ``calculate`` calls ``labeler.label(atoms)``.

    Results: ``energy``/``free_energy`` (eV), ``forces`` (eV/Å) and, when the labeler gives
    one, ``stress`` (Voigt, eV/Å^3, ASE sign). A labeler failure propagates as its own
    :class:`~pesgen.label.errors.LabelFailure`.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, labeler, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.labeler = labeler
        self.n_calls = 0

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        result = self.labeler.label(self.atoms)
        self.n_calls += 1
        self.results = {"energy": float(result.energy), "free_energy": float(result.energy),
                        "forces": np.asarray(result.forces, dtype=float)}
        if result.stress is not None:
            self.results["stress"] = np.asarray(result.stress, dtype=float)


def parse_reference(spec: str | dict[str, Any], elements: list[str]) -> dict[str, Any] | Path:
    """Turn ``--reference`` into a labeler config dict, or a :class:`Path` of a pesgen model.

    ``spec`` is a short name of :data:`SHORT_NAMES`, JSON text of a labeler config, a dict, or
    the path of an existing model file. LAMMPS configs get ``elements`` when they lack it.
    """
    if isinstance(spec, dict):
        config = dict(spec)
    else:
        text = str(spec).strip()
        if text.lower() in SHORT_NAMES:
            config = dict(SHORT_NAMES[text.lower()])
        elif text.startswith("{"):
            try:
                config = json.loads(text)
            except json.JSONDecodeError as err:
                raise ValidationConfigError(f"--reference: not valid JSON ({err}): {text!r}") from err
            if not isinstance(config, dict):
                raise ValidationConfigError(f"--reference: JSON must be an object, got {text!r}")
        elif Path(text).is_file():
            return Path(text)
        else:
            raise ValidationConfigError(
                f"--reference {text!r}: not a short name ({sorted(SHORT_NAMES)}), JSON labeler config "
                "or model file")
    if config.get("kind") == "lammps" and "elements" not in config:
        config["elements"] = list(elements)
    return config


def reference_name(spec: dict[str, Any] | Path) -> str:
    """A short label of the reference for tables and plots."""
    if isinstance(spec, Path):
        return spec.name
    if spec.get("kind") == "lammps" and spec.get("preset"):
        return str(spec["preset"])
    return str(spec.get("kind", "reference"))


def make_reference_calculator(spec: dict[str, Any] | Path) -> Calculator:
    """The ASE calculator of a reference from :func:`parse_reference`."""
    if isinstance(spec, Path):
        return load_model_calculator(spec)
    from pesgen.label import LabelerConfigError, make_labeler

    try:
        labeler = make_labeler(spec)
    except LabelerConfigError as err:
        raise ValidationConfigError(f"--reference: {err}") from err
    return LabelerCalculator(labeler)


def load_model(path: str | Path):
    """A saved pesgen model or ensemble, or a run directory's latest ensemble (``pesgen.load``)."""
    from pesgen.loop.rundir import load
    from pesgen.model.fileformat import ModelFileError

    try:
        return load(path)
    except (ModelFileError, FileNotFoundError) as err:
        raise ValidationConfigError(f"model {path}: {err}") from err


def load_model_calculator(path: str | Path, compress: bool | None = None) -> Calculator:
    """The ASE calculator of a saved pesgen model or ensemble (the ensemble mean). ``compress``:
    True tabulates the embedding nets (:meth:`~pesgen.model.potential.StackedPotential.compress`),
    False uses the exact nets, None keeps the file's choice."""
    from pesgen.calculator import PesgenCalculator

    model = load_model(path)
    if compress is not None:
        model = model.compress() if compress else model.decompress()
    return PesgenCalculator(model)
