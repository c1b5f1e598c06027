"""Extended XYZ files (through ``ase.io``): labeled frames with their provenance.

pesgen writes energy (eV), forces (eV/Å) and stress (eV/Å^3, ASE sign) as ASE does, and the
provenance as ``pesgen_<field>`` comment-line keys (text values behind the ``str:`` marker when
they look like numbers). ASE writes positions and forces with 8 decimals, so an extxyz round trip
is exact to 1e-8 Å and 1e-8 eV/Å (energies and stresses keep full precision). Reading also accepts
a DeePMD-style ``virial`` key (eV, 3x3 or 9 values) when there is no stress.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

from pesgen.data.errors import DataExportError, DataImportError
from pesgen.data.labeled_frame import LabeledFrame, labels_of, stress_from_virial
from pesgen.data.provenance import FIELD_NAMES, Provenance, check_provenance, decode_text, encode_text, for_source

PREFIX = "pesgen_"


def _provenance_info(prov: Provenance) -> dict[str, object]:
    info: dict[str, object] = {}
    for name in FIELD_NAMES:
        value = getattr(prov, name)
        if value is None or (name == "label_settings" and not value):  # set on failed labels only
            continue
        info[PREFIX + name] = encode_text(value) if isinstance(value, str) else value
    return info


def _provenance_from_info(info: dict, where: str) -> Provenance | None:
    values = {}
    for name in FIELD_NAMES:
        if PREFIX + name in info:
            value = info[PREFIX + name]
            if isinstance(value, np.generic):
                value = value.item()
            values[name] = decode_text(value) if isinstance(value, str) else value
    if not values:
        return None
    for name in ("iteration", "walker", "step"):
        if name in values and isinstance(values[name], float) and values[name].is_integer():
            values[name] = int(values[name])
    prov = Provenance(**values)
    check_provenance(prov, where, DataImportError)
    return prov


def write_extxyz(frames: Sequence[Atoms], path: str | Path) -> Path:
    """Write labeled frames (Atoms with a calculator) and their provenance to an extxyz file."""
    path = Path(path)
    if not frames:
        raise DataExportError(f"{path}: no frames to export")
    out = []
    for k, atoms in enumerate(frames):
        where = f"{path}: frame {atoms.info.get('id', k)}"
        energy, forces, stress = labels_of(atoms, where, DataExportError)
        copy = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell,
                     pbc=atoms.pbc)
        results = {"energy": energy, "forces": forces}
        if stress is not None:
            results["stress"] = stress
        copy.calc = SinglePointCalculator(copy, **results)
        prov = atoms.info.get("provenance")
        if prov is not None:
            copy.info.update(_provenance_info(prov))
        out.append(copy)
    try:
        write(path, out, format="extxyz")
    except OSError as err:
        raise DataExportError(f"{path}: cannot write: {err}") from err
    return path


def read_extxyz(path: str | Path, provenance: Provenance | None = None,
                keep_provenance: bool = True) -> list[LabeledFrame]:
    """Read labeled frames from an extxyz file.

    Args:
        path: the file.
        provenance: provenance of frames without ``pesgen_*`` keys (default
            ``Provenance(origin="imported")``); an empty ``system`` is set to the file stem.
        keep_provenance: use ``pesgen_*`` keys when present.

    Raises:
        DataImportError: the file is unreadable, or a frame has no energy or forces.
    """
    path = Path(path)
    try:
        images = read(path, index=":", format="extxyz")
    except Exception as err:  # ase raises many types on bad input
        raise DataImportError(f"{path}: cannot read as extxyz: {err}") from err
    default = for_source(provenance, path.stem)
    frames = []
    for i, atoms in enumerate(images):
        where = f"{path}: frame {i}"
        energy, forces, stress = labels_of(atoms, where, DataImportError)
        if stress is None and "virial" in atoms.info:
            stress = stress_from_virial(np.asarray(atoms.info["virial"], float), atoms.get_volume())
        prov = _provenance_from_info(atoms.info, where) if keep_provenance else None
        bare = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell,
                     pbc=atoms.pbc)
        frames.append(LabeledFrame(bare, energy, forces, stress, prov or default))
    if not frames:
        raise DataImportError(f"{path}: no frames")
    return frames
