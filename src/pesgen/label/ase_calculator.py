"""Any ASE calculator as a labeler (VASP, Quantum ESPRESSO, CP2K, GPAW, ABINIT, SIESTA, ...).

The calculator is given by import path and keyword arguments, so a configuration file can
name it. Each label builds a fresh calculator whose ``directory`` is the task's own directory,
so the code's input and output files stay there for audit. Commands and MPI launch are the
calculator's own settings (``profile`` for Quantum ESPRESSO/ABINIT/..., ``command`` for CP2K
and others); ``env`` sets environment variables (e.g. ``OMP_NUM_THREADS``) while it runs.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError

from pesgen.label.base import Labeler, LabelerSettings
from pesgen.label.errors import CalculatorError, LabelerConfigError, LabelFailure, SCFNotConverged
from pesgen.label.importing import build_value, import_object
from pesgen.label.result import LabelResult


def is_convergence_error(err: BaseException) -> bool:
    """True for SCF non-convergence errors of ASE (``SCFError``) and codes such as GPAW
    (``KohnShamConvergenceError``), recognised by class name along the exception's MRO."""
    names = [cls.__name__ for cls in type(err).__mro__]
    return any(n == "SCFError" or "ConvergenceError" in n for n in names)


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block, then restore them."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class AseCalculatorLabeler(Labeler):
    """Label with ``calculator(**kwargs, directory=workdir)``.

    Args:
        calculator: import path, e.g. ``"ase.calculators.espresso.Espresso"``.
        kwargs: keyword arguments; ``{"__class__": path, "args": [...], "kwargs": {...}}``
            entries become objects (e.g. a profile, ``gpaw.PW(350)``).
        profile: shortcut for ``kwargs["profile"]``: keyword arguments of the calculator's
            profile class (default: ``<calculator path>Profile``, e.g. ``EspressoProfile``),
            e.g. ``{"command": "mpirun -np 4 pw.x", "pseudo_dir": "/path/to/upf"}``.
        env: environment variables set while the calculator runs.
        name: the labeler name stored in provenance (default ``ase-<class name>``).
        stress: compute the stress of periodic cells (default True).
        directory_kwarg: the keyword taking the working directory (``None``: do not pass one).
    """

    def __init__(self, calculator: str, kwargs: dict[str, Any] | None = None, *,
                 profile: dict[str, Any] | None = None, env: dict[str, str] | None = None,
                 name: str | None = None, stress: bool = True,
                 directory_kwarg: str | None = "directory",
                 profile_class: str | None = None) -> None:
        cls = import_object(calculator, "calculator")  # fail early on a bad path
        self.calculator = calculator
        self.kwargs = dict(kwargs or {})
        self.profile = None if profile is None else dict(profile)
        self.profile_class = profile_class or (None if profile is None else f"{calculator}Profile")
        if self.profile is not None:
            if "profile" in self.kwargs:
                raise LabelerConfigError("ase labeler: give 'profile' or kwargs['profile'], "
                                         "not both")
            import_object(self.profile_class, "profile_class")
        self.env = {k: str(v) for k, v in (env or {}).items()}
        self.name = name or f"ase-{cls.__name__.lower()}"
        self.stress = bool(stress)
        self.directory_kwarg = directory_kwarg

    def settings(self) -> dict[str, Any]:
        return {"calculator": self.calculator, "kwargs": self.kwargs, "profile": self.profile,
                "profile_class": self.profile_class, "stress": self.stress}

    def _build(self, workdir: Path):
        cls = import_object(self.calculator, "calculator")
        kwargs = build_value(self.kwargs, "kwargs")
        if self.profile is not None:
            profile_cls = import_object(self.profile_class, "profile_class")
            try:
                kwargs["profile"] = profile_cls(**self.profile)
            except TypeError as err:
                raise LabelerConfigError(f"ase labeler: 'profile' {self.profile} does not fit "
                                         f"{self.profile_class}: {err}") from err
        if self.directory_kwarg:
            kwargs[self.directory_kwarg] = str(workdir)
        try:
            return cls(**kwargs)
        except TypeError as err:
            sig = ""
            with contextlib.suppress(TypeError, ValueError):
                sig = str(inspect.signature(cls))
            raise LabelerConfigError(f"ase labeler: {self.calculator}(**kwargs) rejected its "
                                     f"keyword arguments: {err} {sig}") from err

    def label(self, atoms: Atoms, workdir: Path | None = None) -> LabelResult:
        with contextlib.ExitStack() as stack:
            if workdir is None:
                workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pesgen-")))
            workdir = Path(workdir)
            workdir.mkdir(parents=True, exist_ok=True)
            stack.enter_context(environment(self.env))
            work = atoms.copy()
            work.calc = self._build(workdir)
            start = time.perf_counter()
            try:
                try:
                    energy = work.get_potential_energy(force_consistent=True)
                except PropertyNotImplementedError:
                    energy = work.get_potential_energy()
                forces = np.array(work.get_forces(), dtype=float)
                stress = None
                if self.stress and all(work.pbc) and work.cell.rank == 3:
                    stress = np.array(work.get_stress(voigt=True), dtype=float)
            except LabelFailure:
                raise
            except Exception as err:
                if is_convergence_error(err):
                    raise SCFNotConverged(f"{self.name}: {type(err).__name__}: {err}") from err
                raise CalculatorError(f"{self.name} raised {type(err).__name__}: {err}") from err
            finally:
                close = getattr(work.calc, "close", None)
                if callable(close):  # e.g. CP2K's shell process
                    with contextlib.suppress(Exception):
                        close()
            return LabelResult(energy=float(energy), forces=forces, stress=stress,
                               wall_time=time.perf_counter() - start)


class AseCalculatorSettings(LabelerSettings):
    """``[label] kind = "ase"``: :class:`AseCalculatorLabeler` (any ASE calculator by import path)."""

    labeler = AseCalculatorLabeler
    kind: Literal["ase"] = "ase"
    calculator: str
    kwargs: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    env: dict[str, Any] | None = None
    name: str | None = None
    stress: bool = True
    directory_kwarg: str | None = "directory"
    profile_class: str | None = None
