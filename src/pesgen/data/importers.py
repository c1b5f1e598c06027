"""Reading labeled frames from files: DeePMD systems, extxyz, pesgen stores, anything ``ase.io``
reads (VASP OUTCAR / vasprun.xml, Quantum ESPRESSO output, CP2K, ASE trajectories, ...) and,
when dpdata is installed (``pip install "pesgen[dpdata]"``), anything dpdata reads.

Format names (``fmt``):

- ``auto``: a folder is read as DeePMD system(s); ``*.xyz``/``*.extxyz`` as extxyz; a file that
  starts with the SQLite header as a pesgen/ase.db store; anything else by ``ase.io.read``'s
  own format detection.
- ``deepmd``, ``deepmd-npy``, ``deepmd-raw``: DeePMD system folder(s) (all systems below PATH).
- ``dpgen``: a DP-GEN run directory (``iter.*/02.fp/data.*`` with the iteration in provenance,
  and the initial data its ``param.json`` names; :mod:`pesgen.data.dpgen_run`); ``auto`` detects it.
- ``extxyz``; ``store`` (another pesgen store or ase.db file).
- ``ase:<format>``: ``ase.io.read(path, index=":", format=<format>)``, e.g. ``ase:vasp-out``,
  ``ase:vasp-xml``, ``ase:espresso-out``, ``ase:traj``. Any bare name ase.io knows also works.
- ``dpdata:<format>``: ``dpdata.LabeledSystem(path, fmt=<format>)``, e.g. ``dpdata:vasp/outcar``,
  ``dpdata:qe/pw/scf``, ``dpdata:cp2k/output``; a ``dpdata:deepmd/npy`` folder may hold
  several systems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from pesgen.data.deepmd_format import find_deepmd_systems, read_deepmd_system
from pesgen.data.digest import source_digest
from pesgen.data.dpgen_run import is_dpgen_run, read_dpgen_run
from pesgen.data.errors import DataImportError, StoreError
from pesgen.data.extxyz_format import read_extxyz
from pesgen.data.labeled_frame import LabeledFrame, labels_of, stress_from_virial
from pesgen.data.provenance import Provenance, for_source

if TYPE_CHECKING:
    from pesgen.data.store import Store

_SQLITE_HEADER = b"SQLite format 3\x00"


def _default_provenance(path: Path, provenance: Provenance | None) -> Provenance:
    return for_source(provenance, path.stem or path.name)


def read_labeled(path: str | Path, fmt: str = "auto", type_map: Sequence[str] | None = None,
                 provenance: Provenance | None = None,
                 keep_provenance: bool = True) -> list[LabeledFrame]:
    """Read all labeled frames of one file or folder.

    Args:
        path: the file or folder.
        fmt: format name (see the module docstring).
        type_map: element symbols of type indices, for DeePMD systems without type_map.raw.
        provenance: provenance given to frames without recorded provenance (default
            ``Provenance(origin="imported")``); an empty ``system`` is set to the file or
            (DeePMD) system folder name.
        keep_provenance: keep provenance recorded by a pesgen export (extxyz keys, DeePMD side
            file, store rows) instead of ``provenance``.

    Raises:
        DataImportError: naming the file, if it is missing, unreadable, of an unknown format, or
            holds frames without energy or forces, or with non-finite ones.
    """
    frames = _read_labeled(Path(path), fmt, type_map, provenance, keep_provenance)
    for index, frame in enumerate(frames):
        bad = [name for name, value in (("energy", frame.energy), ("forces", frame.forces), ("stress", frame.stress))
               if value is not None and not np.all(np.isfinite(value))]
        if bad:
            where = f" (system {frame.provenance.system})" if frame.provenance.system else ""
            raise DataImportError(f"{path}: frame {index}{where}: {' and '.join(bad)} not finite (NaN or inf); "
                                  "nothing was imported")
    return frames


def _read_labeled(path: Path, fmt: str, type_map: Sequence[str] | None, provenance: Provenance | None,
                  keep_provenance: bool) -> list[LabeledFrame]:
    """:func:`read_labeled` before the finiteness check."""
    if not path.exists():
        raise DataImportError(f"{path}: no such file or folder")
    fmt = fmt.strip()
    if fmt == "auto":
        fmt = _detect_format(path)
    if fmt == "dpgen":
        return read_dpgen_run(path, type_map)
    if fmt in ("deepmd", "deepmd-npy", "deepmd-raw"):
        systems = find_deepmd_systems(path) if path.is_dir() else []
        if not systems:
            raise DataImportError(f"{path}: no DeePMD system (no folder with type.raw)")
        frames: list[LabeledFrame] = []
        for folder in systems:
            frames += read_deepmd_system(folder, type_map=type_map, provenance=provenance,
                                         keep_provenance=keep_provenance)
        return frames
    if fmt.startswith("dpdata:"):
        return read_with_dpdata(path, fmt.removeprefix("dpdata:"), type_map, provenance)
    if path.is_dir():
        raise DataImportError(f"{path}: is a folder; only DeePMD systems (and dpdata formats) "
                              "are read from folders")
    if fmt == "extxyz":
        return read_extxyz(path, provenance, keep_provenance)
    if fmt == "store":
        return _read_store(path, provenance, keep_provenance)
    return read_with_ase(path, fmt.removeprefix("ase:") or None, provenance)


def _detect_format(path: Path) -> str:
    if path.is_dir():
        return "dpgen" if is_dpgen_run(path) else "deepmd"
    if path.suffix.lower() in (".xyz", ".extxyz"):
        return "extxyz"
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_SQLITE_HEADER))
    except OSError as err:
        raise DataImportError(f"{path}: cannot read: {err}") from err
    if head == _SQLITE_HEADER:
        return "store"
    return "ase:"


def _read_store(path: Path, provenance: Provenance | None,
                keep_provenance: bool) -> list[LabeledFrame]:
    from pesgen.data.store import Store

    try:
        images = Store(path, readonly=True).frames()
    except StoreError as err:
        raise DataImportError(str(err)) from err
    default = _default_provenance(path, provenance)
    frames = []
    for atoms in images:
        energy, forces, stress = labels_of(atoms, f"{path}: frame {atoms.info['id']}")
        prov = atoms.info["provenance"] if keep_provenance else default
        bare = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell,
                     pbc=atoms.pbc)
        frames.append(LabeledFrame(bare, energy, forces, stress, prov))
    return frames


def read_with_ase(path: str | Path, ase_format: str | None = None,
                  provenance: Provenance | None = None) -> list[LabeledFrame]:
    """Read every frame of ``path`` with ``ase.io.read`` (format ``ase_format``, or ASE's guess).

    Each frame must carry energy and forces (as in VASP, QE, CP2K outputs, ASE trajectories).
    """
    from ase.io import read

    path = Path(path)
    try:
        images = read(path, index=":", format=ase_format)
    except Exception as err:  # ase raises many types on unknown or bad input
        what = f"format {ase_format!r}" if ase_format else "any format ASE detects"
        raise DataImportError(f"{path}: cannot read as {what}: {type(err).__name__}: {err}") \
            from err
    if isinstance(images, Atoms):
        images = [images]
    if not images:
        raise DataImportError(f"{path}: no frames")
    default = _default_provenance(path, provenance)
    frames = []
    for i, atoms in enumerate(images):
        energy, forces, stress = labels_of(atoms, f"{path}: frame {i}", DataImportError)
        bare = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell,
                     pbc=atoms.pbc)
        frames.append(LabeledFrame(bare, energy, forces, stress, default))
    return frames


def read_with_dpdata(path: str | Path, dpdata_format: str,
                     type_map: Sequence[str] | None = None,
                     provenance: Provenance | None = None) -> list[LabeledFrame]:
    """Read labeled frames with dpdata (optional dependency): ``dpdata.LabeledSystem(path,
    fmt=dpdata_format)``, once per system folder for DeePMD folders holding several systems.

    Virials become ASE stresses (``stress = -virial / volume``).
    """
    path = Path(path)
    try:
        import dpdata
    except ImportError as err:
        raise DataImportError(f"{path}: format 'dpdata:{dpdata_format}' needs dpdata; "
                              "install it with: pip install 'pesgen[dpdata]'") from err
    kwargs = {"type_map": list(type_map)} if type_map is not None else {}
    try:
        if dpdata_format.startswith("deepmd") and not (path / "type.raw").is_file():
            systems = [dpdata.LabeledSystem(str(folder), fmt=dpdata_format, **kwargs)
                       for folder in find_deepmd_systems(path)]
        else:
            systems = [dpdata.LabeledSystem(str(path), fmt=dpdata_format, **kwargs)]
    except Exception as err:  # dpdata raises many types on bad input
        raise DataImportError(f"{path}: dpdata cannot read it as {dpdata_format!r}: "
                              f"{type(err).__name__}: {err}") from err
    default = _default_provenance(path, provenance)
    frames = []
    for system in systems:
        data = system.data
        if "energies" not in data or "forces" not in data:
            raise DataImportError(f"{path}: dpdata found no energies/forces (not labeled)")
        names = list(data["atom_names"])
        bad = [n for n in names if n not in atomic_numbers]
        if bad:
            raise DataImportError(f"{path}: dpdata gave atom names that are not elements: {bad}")
        numbers = np.array([atomic_numbers[names[t]] for t in data["atom_types"]])
        nopbc = bool(data.get("nopbc", False))
        for i in range(len(data["coords"])):
            atoms = Atoms(numbers=numbers, positions=data["coords"][i], cell=data["cells"][i],
                          pbc=not nopbc)
            stress = None
            if "virials" in data and not nopbc:
                stress = stress_from_virial(data["virials"][i], atoms.get_volume())
            frames.append(LabeledFrame(atoms, float(data["energies"][i]),
                                       np.asarray(data["forces"][i], dtype=float), stress,
                                       default))
    if not frames:
        raise DataImportError(f"{path}: no frames")
    return frames


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_into_store` did with one source."""

    path: Path
    read: int
    added: int
    skipped: int


def import_into_store(store: Store, paths: Sequence[str | Path], fmt: str = "auto",
                      type_map: Sequence[str] | None = None,
                      provenance: Provenance | None = None, keep_provenance: bool = True,
                      skip_duplicates: bool = True) -> list[ImportResult]:
    """Read all ``paths`` and add their frames to ``store`` in one transaction.

    Every source is read before anything is written, so a bad file leaves the store untouched.
    A frame without a task id gets ``import-<content hash>-<index>``; with ``skip_duplicates``,
    frames whose task id the store (or an earlier source) already holds are skipped, so importing
    the same file twice adds its frames once.

    Raises:
        DataImportError: naming the unreadable file.
        StoreError: the store cannot be written.
    """
    batches = []
    for path in paths:
        frames = read_labeled(path, fmt, type_map, provenance, keep_provenance)
        digest = source_digest(path)
        batches.append((Path(path), [
            f if f.provenance.task_id is not None
            else f._replace(provenance=f.provenance.replace(task_id=f"import-{digest}-{i}"))
            for i, f in enumerate(frames)]))
    known = store.task_ids() if skip_duplicates else set()
    to_add: list[LabeledFrame] = []
    results = []
    for path, frames in batches:
        added = 0
        for frame in frames:
            if skip_duplicates and frame.provenance.task_id in known:
                continue
            known.add(frame.provenance.task_id)
            to_add.append(frame)
            added += 1
        results.append(ImportResult(path, len(frames), added, len(frames) - added))
    store.add_many(to_add)
    return results
