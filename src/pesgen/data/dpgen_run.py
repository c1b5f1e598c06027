"""Labeled data of a DP-GEN run directory (``dpgen run``'s working folder).

DP-GEN keeps the labels of iteration N in ``iter.NNNNNN/02.fp/data.SSS``: DeePMD systems (npy or
raw, one per composition, written by dpdata) of the frames picked from exploration system SSS
(``sys_configs[SSS]``). Each frame is read with provenance ``iteration = N``, ``origin =
"explored"``, ``system = "sysSSS"`` (the id ``pesgen import-dpgen`` gives ``sys_configs[SSS]``)
and ``labeler = "dpgen-<fp_style>"``. When the run directory holds its ``param.json``, the initial
data it names (``init_data_prefix`` + ``init_data_sys``, relative paths against the run
directory) are read too, as ``origin = "initial"``, iteration 0. Task ids are
``dpgen-<digest of the data folder>-<index>``, so importing the same run twice adds nothing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from pesgen.data.deepmd_format import find_deepmd_systems, read_deepmd_system
from pesgen.data.digest import source_digest
from pesgen.data.errors import DataImportError
from pesgen.data.labeled_frame import LabeledFrame
from pesgen.data.provenance import Provenance

_ITER = re.compile(r"^iter\.(\d+)$")
_DATA = re.compile(r"^data\.(\d+)$")


def iteration_folders(path: str | Path) -> list[tuple[int, Path]]:
    """(iteration, folder) of every ``iter.NNNNNN`` below ``path``, ascending."""
    out = []
    for p in Path(path).iterdir() if Path(path).is_dir() else []:
        m = _ITER.match(p.name)
        if m and p.is_dir():
            out.append((int(m.group(1)), p))
    return sorted(out)


def is_dpgen_run(path: str | Path) -> bool:
    """Whether ``path`` is a DP-GEN run directory (``record.dpgen``, or ``iter.*/02.fp``)."""
    path = Path(path)
    return path.is_dir() and ((path / "record.dpgen").is_file()
                              or any((p / "02.fp").is_dir() for _, p in iteration_folders(path)))


def _param(path: Path) -> dict:
    file = path / "param.json"
    if not file.is_file():
        return {}
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as err:
        raise DataImportError(f"{file}: cannot read: {err}") from err
    if not isinstance(data, dict):
        raise DataImportError(f"{file}: not a JSON object of DP-GEN parameters")
    return data


def _with_ids(frames: list[LabeledFrame], folder: Path) -> list[LabeledFrame]:
    digest = source_digest(folder)
    return [f._replace(provenance=f.provenance.replace(task_id=f"dpgen-{digest}-{i}")) for i, f in enumerate(frames)]


def read_dpgen_run(path: str | Path, type_map: Sequence[str] | None = None,
                   include_initial: bool = True) -> list[LabeledFrame]:
    """Every labeled frame of a DP-GEN run directory (see the module docstring).

    Raises:
        DataImportError: naming the folder: not a DP-GEN run, an unreadable system, no frames.
    """
    path = Path(path)
    if not is_dpgen_run(path):
        raise DataImportError(f"{path}: not a DP-GEN run directory (no record.dpgen, no iter.*/02.fp)")
    param = _param(path)
    type_map = type_map if type_map is not None else param.get("type_map")
    labeler = f"dpgen-{param['fp_style']}" if isinstance(param.get("fp_style"), str) else "dpgen"
    frames: list[LabeledFrame] = []
    if include_initial and param.get("init_data_sys"):
        prefix = param.get("init_data_prefix") or ""
        for name in param["init_data_sys"]:
            folder = Path(os.path.join(prefix, name))
            folder = folder if folder.is_absolute() else path / folder
            if not folder.is_dir():
                raise DataImportError(f"{folder}: initial data named by {path / 'param.json'} (init_data_sys) "
                                      "is missing; fix the path there, or move param.json away to import the "
                                      "iterations alone")
            for system in find_deepmd_systems(folder):
                prov = Provenance(iteration=0, origin="initial", system=system.name, labeler=labeler)
                frames += _with_ids(read_deepmd_system(system, type_map, prov, keep_provenance=False), system)
    for iteration, it_dir in iteration_folders(path):
        fp = it_dir / "02.fp"
        for data in sorted(fp.iterdir()) if fp.is_dir() else []:
            m = _DATA.match(data.name)
            if not (m and data.is_dir()):
                continue
            prov = Provenance(iteration=iteration, origin="explored", system=f"sys{int(m.group(1)):03d}",
                              labeler=labeler)
            for system in find_deepmd_systems(data):
                frames += _with_ids(read_deepmd_system(system, type_map, prov, keep_provenance=False), system)
    if not frames:
        raise DataImportError(f"{path}: a DP-GEN run directory without labeled frames (no iter.*/02.fp/data.*)")
    return frames
