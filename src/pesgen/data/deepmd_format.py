"""DeePMD-kit "npy" and "raw" systems: read and write, as DeePMD-kit and dpdata lay them out.

A system is a folder holding the frames of one composition (same atom count, same per-atom
types)::

    type.raw          one type index per atom (line per atom)
    type_map.raw      element symbol of each type index (line per type)
    nopbc             (empty file) present for non-periodic frames
    set.000/          npy layout: coord.npy (nframes, 3 natoms) Å, box.npy (nframes, 9) Å,
                      energy.npy (nframes,) eV, force.npy (nframes, 3 natoms) eV/Å,
                      virial.npy (nframes, 9) eV  (optional); set.001/ ... hold further frames
    coord.raw ...     raw layout: the same arrays as text, one frame per line

The virial is DeePMD's: ``virial = -stress * volume`` with ASE's stress sign (as dpdata's ASE
plugin converts it), in eV. pesgen writes float64 (exact) arrays. It also writes
``pesgen_frames.json`` with each frame's provenance, pbc and original atom order, which DeePMD-kit
and dpdata ignore and pesgen reads back, so that an export re-imports exactly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols

from pesgen.data.errors import DataExportError, DataImportError
from pesgen.data.labeled_frame import LabeledFrame, labels_of, stress_from_virial, virial_from_stress
from pesgen.data.provenance import Provenance, for_source, from_plain_dict, to_plain_dict

SIDE_FILE = "pesgen_frames.json"
DEFAULT_SET_SIZE = 5000


# ---------------------------------------------------------------------------------- writing
def default_type_map(frames: Sequence[Atoms]) -> list[str]:
    """The elements present in ``frames``, by increasing atomic number."""
    numbers = sorted({int(z) for a in frames for z in a.numbers})
    return [chemical_symbols[z] for z in numbers]


def _system_name(counts: tuple[int, ...], type_map: Sequence[str], periodic: bool,
                 has_virial: bool) -> str:
    name = "".join(f"{sym}{n}" for sym, n in zip(type_map, counts, strict=True) if n)
    if not periodic:
        name += "_nopbc"
    elif not has_virial:
        name += "_novirial"
    return name


def write_deepmd_systems(frames: Sequence[Atoms], out: str | Path,
                         layout: Literal["npy", "raw"] = "npy",
                         type_map: Sequence[str] | None = None,
                         set_size: int = DEFAULT_SET_SIZE) -> list[Path]:
    """Write labeled frames as DeePMD systems under ``out``, one system per composition.

    Frames whose atoms are in another order are written with atoms sorted by type (stable), the
    order DeePMD systems conventionally use; the original order is kept in ``pesgen_frames.json``.
    Frames with all pbc False go to ``*_nopbc`` systems (no virial); periodic frames without a
    stress go to ``*_novirial`` systems, since a DeePMD set has a virial for all or none.

    Args:
        frames: Atoms with a calculator holding energy (eV), forces (eV/Å), maybe stress.
        out: the folder to create (must not exist, or be empty).
        layout: "npy" (set.NNN/*.npy) or "raw" (*.raw text files).
        type_map: element of each type index; default: the elements present by atomic number.
        set_size: frames per set.NNN folder (npy layout).

    Returns:
        The system folders written.
    """
    out = Path(out)
    if layout not in ("npy", "raw"):
        raise DataExportError(f"{out}: unknown DeePMD layout {layout!r} (use 'npy' or 'raw')")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataExportError(f"{out}: exists and is not an empty folder")
    if not frames:
        raise DataExportError(f"{out}: no frames to export")
    type_map = list(type_map) if type_map is not None else default_type_map(frames)
    index_of = {sym: i for i, sym in enumerate(type_map)}
    groups: dict[tuple, list[tuple[Atoms, np.ndarray]]] = {}
    for k, atoms in enumerate(frames):
        where = f"frame {atoms.info.get('id', k)}"
        missing = sorted(set(atoms.get_chemical_symbols()) - set(index_of))
        if missing:
            raise DataExportError(f"{out}: {where} has elements {missing} not in the type map "
                                  f"{type_map}")
        types = np.array([index_of[s] for s in atoms.get_chemical_symbols()])
        order = np.argsort(types, kind="stable")
        periodic = bool(np.any(atoms.pbc))
        if periodic and atoms.cell.rank != 3:
            raise DataExportError(f"{out}: {where} is periodic but its cell has rank "
                                  f"{atoms.cell.rank}; DeePMD needs a full box")
        _, _, stress = labels_of(atoms, f"{out}: {where}", DataExportError)
        counts = tuple(int(n) for n in np.bincount(types, minlength=len(type_map)))
        key = (counts, periodic, periodic and stress is not None)
        groups.setdefault(key, []).append((atoms, order))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for (counts, periodic, has_virial), members in sorted(groups.items()):
        folder = out / _system_name(counts, type_map, periodic, has_virial)
        _write_system(folder, members, type_map, index_of, periodic, has_virial, layout, set_size)
        written.append(folder)
    return written


def _write_system(folder: Path, members: list[tuple[Atoms, np.ndarray]], type_map: list[str],
                  index_of: dict[str, int], periodic: bool, has_virial: bool, layout: str,
                  set_size: int) -> None:
    folder.mkdir()
    first, first_order = members[0]
    types = np.array([index_of[s] for s in first.get_chemical_symbols()])[first_order]
    np.savetxt(folder / "type.raw", types, fmt="%d")
    (folder / "type_map.raw").write_text("".join(f"{s}\n" for s in type_map))
    if not periodic:
        (folder / "nopbc").write_text("")
    arrays: dict[str, list[np.ndarray]] = {"coord": [], "box": [], "energy": [], "force": []}
    if has_virial:
        arrays["virial"] = []
    side: list[dict[str, Any]] = []
    for atoms, order in members:
        energy, forces, stress = labels_of(atoms, "frame")
        arrays["coord"].append(atoms.positions[order].reshape(-1))
        arrays["box"].append(np.array(atoms.cell, dtype=float).reshape(-1))
        arrays["energy"].append(np.array(energy))
        arrays["force"].append(forces[order].reshape(-1))
        if has_virial:
            arrays["virial"].append(virial_from_stress(stress, atoms.get_volume()).reshape(-1))
        prov = atoms.info.get("provenance")
        side.append({"provenance": None if prov is None else to_plain_dict(prov),
                     "pbc": [bool(p) for p in atoms.pbc],
                     "order": [int(i) for i in order]})
    stacked = {name: np.stack(values) for name, values in arrays.items()}
    if layout == "npy":
        nframes = len(members)
        for s, start in enumerate(range(0, nframes, set_size)):
            set_dir = folder / f"set.{s:03d}"
            set_dir.mkdir()
            for name, arr in stacked.items():
                np.save(set_dir / f"{name}.npy", arr[start:start + set_size])
    else:
        for name, arr in stacked.items():
            np.savetxt(folder / f"{name}.raw", arr.reshape(len(members), -1))
    (folder / SIDE_FILE).write_text(json.dumps(side))


# ---------------------------------------------------------------------------------- reading
def is_deepmd_system(path: str | Path) -> bool:
    """Whether ``path`` is a DeePMD system folder (it holds ``type.raw``)."""
    return (Path(path) / "type.raw").is_file()


def find_deepmd_systems(path: str | Path) -> list[Path]:
    """DeePMD system folders at or below ``path``, sorted."""
    path = Path(path)
    if is_deepmd_system(path):
        return [path]
    return sorted(p.parent for p in path.rglob("type.raw"))


def _load(path: Path, ndmin: int | None = None) -> np.ndarray:
    """An ``.npy`` array (``ndmin`` None), or a text array of at least ``ndmin`` dimensions."""
    try:
        return np.load(path, allow_pickle=False) if ndmin is None else np.loadtxt(path, ndmin=ndmin)
    except (OSError, ValueError) as err:
        raise DataImportError(f"{path}: cannot read: {err}") from err


def _read_type_map(folder: Path, type_map: Sequence[str] | None) -> list[str]:
    path = folder / "type_map.raw"
    if path.is_file():
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    elif type_map is not None:
        names = list(type_map)
    else:
        raise DataImportError(f"{path}: missing; give the type map (e.g. --type-map Al,Mg)")
    bad = [n for n in names if n not in atomic_numbers or n == "X"]
    if bad:
        raise DataImportError(f"{path}: not chemical elements: {bad} (pesgen stores real species)")
    return names


def _arrays_of_system(folder: Path) -> dict[str, np.ndarray]:
    """coord, box (maybe), energy, force, virial (maybe) of all frames of one system."""
    sets = sorted(p for p in folder.glob("set.*") if p.is_dir())
    if sets:
        if (folder / "real_atom_types.npy").exists() or any(
                (s / "real_atom_types.npy").exists() for s in sets):
            raise DataImportError(f"{folder}: DeePMD 'mixed type' systems are not supported")
        parts: dict[str, list[np.ndarray]] = {}
        with_virial = [(s / "virial.npy").is_file() for s in sets]
        if any(with_virial) and not all(with_virial):
            raise DataImportError(f"{folder}: some sets have virial.npy and some do not")
        for s in sets:
            for name in ("coord", "box", "energy", "force", "virial"):
                path = s / f"{name}.npy"
                if path.is_file():
                    parts.setdefault(name, []).append(_load(path))
                elif name in ("coord", "energy", "force"):
                    what = "positions" if name == "coord" else "labels"
                    raise DataImportError(f"{path}: missing ({what} are required)")
        lengths = {name: len(values) for name, values in parts.items()}
        if lengths.get("box", len(sets)) != len(sets):
            raise DataImportError(f"{folder}: some sets have box.npy and some do not")
        arrays = {}
        for name, values in parts.items():
            try:
                arrays[name] = np.concatenate(
                    [np.asarray(v, dtype=float).reshape(len(v), -1) for v in values])
            except ValueError as err:
                raise DataImportError(f"{folder}: {name}.npy shapes differ between sets: "
                                      f"{err}") from err
        return arrays
    if not (folder / "coord.raw").is_file():
        raise DataImportError(f"{folder}: neither set.* folders nor coord.raw (not a DeePMD "
                              "system with frames)")
    arrays = {}
    for name in ("coord", "box", "energy", "force", "virial"):
        path = folder / f"{name}.raw"
        if path.is_file():
            arr = _load(path, ndmin=2 if name != "energy" else 1)
            arrays[name] = arr.reshape(len(arr), -1)
        elif name in ("energy", "force"):
            raise DataImportError(f"{path}: missing (labels are required)")
    return arrays


def read_deepmd_system(folder: str | Path, type_map: Sequence[str] | None = None,
                       provenance: Provenance | None = None,
                       keep_provenance: bool = True) -> list[LabeledFrame]:
    """Read one DeePMD system (npy or raw layout) as labeled frames.

    Args:
        folder: the system folder (holding type.raw).
        type_map: element symbols of the type indices, used only if type_map.raw is absent.
        provenance: provenance of the frames (default ``Provenance(origin="imported")``);
            an empty ``system`` is set to the folder name.
        keep_provenance: use the provenance recorded in ``pesgen_frames.json`` (written by
            pesgen's export) when present.

    Raises:
        DataImportError: naming the file at fault.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataImportError(f"{folder}: not a folder")
    types = _load(folder / "type.raw", ndmin=1).astype(int).reshape(-1)
    names = _read_type_map(folder, type_map)
    if types.size == 0 or types.min() < 0 or types.max() >= len(names):
        raise DataImportError(f"{folder / 'type.raw'}: type indices must lie in 0..{len(names) - 1}"
                              f" (type map {names})")
    natoms = len(types)
    nopbc = (folder / "nopbc").exists()
    arrays = _arrays_of_system(folder)
    nframes = len(arrays["coord"])
    expected = {"coord": 3 * natoms, "box": 9, "energy": 1, "force": 3 * natoms, "virial": 9}
    for name, arr in arrays.items():
        if arr.shape != (nframes, expected[name]):
            raise DataImportError(f"{folder}: {name} has shape {arr.shape}, expected "
                                  f"({nframes}, {expected[name]}) for {natoms} atoms")
    if "box" not in arrays and not nopbc:
        raise DataImportError(f"{folder}: box is missing (required unless the 'nopbc' file exists)")
    side = _read_side_file(folder, nframes, natoms) if keep_provenance else None
    default = for_source(provenance, folder.name)
    numbers = np.array([atomic_numbers[names[t]] for t in types])
    frames = []
    for i in range(nframes):
        cell = arrays["box"][i].reshape(3, 3) if "box" in arrays else np.zeros((3, 3))
        positions = arrays["coord"][i].reshape(natoms, 3)
        forces = arrays["force"][i].reshape(natoms, 3)
        pbc: Any = not nopbc
        prov = default
        order = None
        if side is not None:
            record = side[i]
            pbc = record["pbc"]
            order = np.asarray(record["order"], dtype=int)
            if record.get("provenance") is not None:
                prov = from_plain_dict(record["provenance"], f"{folder / SIDE_FILE} frame {i}")
        atom_numbers = numbers
        if order is not None:  # restore the original atom order
            inverse = np.empty_like(order)
            inverse[order] = np.arange(natoms)
            positions, forces, atom_numbers = positions[inverse], forces[inverse], numbers[inverse]
        atoms = Atoms(numbers=atom_numbers, positions=positions, cell=cell, pbc=pbc)
        stress = None
        if "virial" in arrays and not nopbc:
            volume = atoms.get_volume()
            if abs(volume) < 1e-12:
                raise DataImportError(f"{folder}: frame {i} has a virial but a zero-volume box")
            stress = stress_from_virial(arrays["virial"][i], volume)
        frames.append(LabeledFrame(atoms, float(arrays["energy"][i, 0]), forces, stress, prov))
    return frames


def _read_side_file(folder: Path, nframes: int, natoms: int) -> list[dict] | None:
    path = folder / SIDE_FILE
    if not path.is_file():
        return None
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataImportError(f"{path}: cannot read: {err}") from err
    ok = isinstance(records, list) and len(records) == nframes and all(
        isinstance(r, dict) and len(r.get("order", [])) == natoms
        and sorted(r["order"]) == list(range(natoms)) and len(r.get("pbc", [])) == 3
        for r in records)
    if not ok:
        raise DataImportError(f"{path}: does not match the system's {nframes} frames of {natoms} "
                              "atoms (edited by hand? delete it to import without it)")
    return records
