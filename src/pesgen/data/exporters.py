"""Writing labeled frames from a store: DeePMD npy / raw systems, extxyz."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ase import Atoms

from pesgen.data.deepmd_format import write_deepmd_systems
from pesgen.data.errors import DataExportError
from pesgen.data.extxyz_format import write_extxyz

EXPORT_FORMATS = ("deepmd-npy", "deepmd-raw", "extxyz")


def export_frames(frames: Sequence[Atoms], out: str | Path, fmt: str,
                  type_map: Sequence[str] | None = None) -> list[Path]:
    """Write labeled frames (as ``Store.frames()`` returns them) to ``out``.

    Args:
        frames: Atoms with a calculator holding energy (eV), forces (eV/Å), maybe stress.
        out: a folder to create (DeePMD formats) or a file (extxyz).
        fmt: "deepmd-npy", "deepmd-raw" or "extxyz".
        type_map: element order of DeePMD type indices (default: by atomic number).

    Returns:
        The DeePMD system folders, or ``[out]`` for extxyz.
    """
    out = Path(out)
    if fmt == "deepmd-npy":
        return write_deepmd_systems(frames, out, "npy", type_map)
    if fmt == "deepmd-raw":
        return write_deepmd_systems(frames, out, "raw", type_map)
    if fmt == "extxyz":
        if out.exists():
            raise DataExportError(f"{out}: exists; not overwriting it")
        return [write_extxyz(frames, out)]
    raise DataExportError(f"{out}: unknown export format {fmt!r} (one of {EXPORT_FORMATS})")
