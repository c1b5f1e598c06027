"""GPAW (plane waves, PBE) as the real DFT labeler, run in a subprocess.

Debian's ``gpaw`` package runs only under the system interpreter (``/usr/bin/python3``), and a
subprocess also isolates crashes and makes time limits and ``mpirun`` launches easy. The task
directory keeps ``task.json`` (input), ``gpaw.txt`` (GPAW's log), ``gpaw.out``/``gpaw.err`` and
``result.json`` (output).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms

from pesgen.label.base import Labeler, LabelerSettings
from pesgen.label.errors import LabelerConfigError
from pesgen.label.result import LabelResult
from pesgen.label.subprocess_run import read_result, run_command

#: Threads pinned to one per process: MPI ranks, not threads, parallelise GPAW here.
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_RUNNER = Path(__file__).with_name("gpaw_runner.py")


def default_gpaw_python() -> str:
    """The interpreter that has GPAW: ``/usr/bin/python3`` (Debian package) if it exists,
    else this interpreter (PyPI ``gpaw`` installed in the environment)."""
    system = Path("/usr/bin/python3")
    return str(system) if system.exists() else sys.executable


class GpawLabeler(Labeler):
    """Plane-wave DFT with GPAW.

    Args:
        ecut: plane-wave cutoff, eV.
        xc: exchange-correlation functional name (``"PBE"``).
        kpts: Monkhorst-Pack grid ``[n1, n2, n3]`` or a GPAW dict such as
            ``{"density": 3.0, "gamma": True}`` (points per Å^-1).
        smearing: Fermi-Dirac width, eV.
        maxiter: maximum SCF iterations (then the frame fails as scf-not-converged).
        convergence: GPAW convergence criteria dict, e.g. ``{"energy": 1e-5}`` (eV/electron).
        spinpol: spin-polarised calculation.
        extra: further GPAW keyword arguments (JSON values only).
        python: interpreter with GPAW (default :func:`default_gpaw_python`).
        mpi_command: launcher prefix, e.g. ``"mpirun -np 4"`` (``None``: serial).
        env: extra environment variables (OMP/OpenBLAS threads are pinned to 1 by default).
    """

    name = "gpaw"
    supports_timeout = True

    def __init__(self, ecut: float = 350.0, xc: str = "PBE",
                 kpts: list[int] | dict[str, Any] = (4, 4, 4), smearing: float = 0.1,
                 maxiter: int = 333, convergence: dict[str, float] | None = None,
                 spinpol: bool = False, extra: dict[str, Any] | None = None,
                 python: str | None = None, mpi_command: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        if ecut <= 0:
            raise LabelerConfigError(f"gpaw labeler: 'ecut' must be > 0 eV, got {ecut}")
        if isinstance(kpts, list | tuple):
            if len(kpts) != 3 or any(int(k) < 1 for k in kpts):
                raise LabelerConfigError(f"gpaw labeler: 'kpts' must be three integers >= 1 "
                                         f"or a dict like {{'density': 3.0}}, got {kpts}")
            kpts = [int(k) for k in kpts]
        elif not isinstance(kpts, dict):
            raise LabelerConfigError(f"gpaw labeler: 'kpts' must be a list or dict, got {kpts!r}")
        self.ecut = float(ecut)
        self.xc = str(xc)
        self.kpts = kpts
        self.smearing = float(smearing)
        self.maxiter = int(maxiter)
        self.convergence = dict(convergence or {})
        self.spinpol = bool(spinpol)
        self.extra = dict(extra or {})
        self.python = python or default_gpaw_python()
        self.mpi_command = mpi_command
        self.env = {**SINGLE_THREAD_ENV, **{k: str(v) for k, v in (env or {}).items()}}

    def settings(self) -> dict[str, Any]:
        return {"ecut": self.ecut, "xc": self.xc, "kpts": self.kpts, "smearing": self.smearing,
                "maxiter": self.maxiter, "convergence": self.convergence,
                "spinpol": self.spinpol, "extra": self.extra}

    def command(self) -> list[str]:
        """The command line run in the task directory (which holds a copy of the job script)."""
        launcher = shlex.split(self.mpi_command) if self.mpi_command else []
        return [*launcher, self.python, _RUNNER.name, "task.json", "result.json"]

    def check_installation(self) -> None:
        """Raise LabelerConfigError unless ``python`` can import GPAW."""
        import subprocess

        if shutil.which(self.python) is None and not Path(self.python).exists():
            raise LabelerConfigError(f"gpaw labeler: interpreter {self.python!r} not found")
        probe = subprocess.run([self.python, "-c", "import gpaw"], capture_output=True, text=True)
        if probe.returncode != 0:
            raise LabelerConfigError(
                f"gpaw labeler: {self.python} cannot import gpaw ({probe.stderr.strip()[-300:]});"
                " install it with scripts/setup.sh (Debian: apt-get install gpaw gpaw-data)")

    def label(self, atoms: Atoms, workdir: Path | None = None,
              timeout: float | None = None) -> LabelResult:
        """Run GPAW on ``atoms`` in ``workdir``; ``timeout`` in s kills the job (LabelTimeout)."""
        if workdir is None:
            with tempfile.TemporaryDirectory(prefix="pesgen-gpaw-") as tmp:
                return self._run(atoms, Path(tmp), timeout)
        return self._run(atoms, Path(workdir), timeout)

    def _run(self, atoms: Atoms, workdir: Path, timeout: float | None) -> LabelResult:
        workdir.mkdir(parents=True, exist_ok=True)
        task = {"atoms": {"numbers": atoms.numbers.tolist(), "positions": atoms.positions.tolist(),
                          "cell": atoms.cell.array.tolist(), "pbc": atoms.pbc.tolist()},
                "params": {**self.settings(), "kpts": self.kpts}}
        (workdir / "task.json").write_text(json.dumps(task, indent=1))
        # A copy of the job script beside its input: the audit trail is complete, and the
        # script does not run from pesgen's folder (where ``import gpaw`` would find gpaw.py).
        shutil.copyfile(_RUNNER, workdir / _RUNNER.name)
        result_path = workdir / "result.json"
        result_path.unlink(missing_ok=True)
        start = time.perf_counter()
        status = run_command(self.command(), workdir, env=self.env, timeout=timeout,
                             log_name="gpaw")
        wall = time.perf_counter() - start
        out = read_result(result_path, status, "GPAW", "gpaw")
        stress = out.get("stress")
        return LabelResult(energy=out["energy"], forces=np.asarray(out["forces"], dtype=float),
                           stress=None if stress is None else np.asarray(stress, dtype=float),
                           wall_time=wall)


class GpawSettings(LabelerSettings):
    """``[label] kind = "gpaw"``: :class:`GpawLabeler` (plane waves; ecut eV, smearing eV)."""

    labeler = GpawLabeler
    kind: Literal["gpaw"] = "gpaw"
    ecut: float = 350.0
    xc: str = "PBE"
    kpts: list[int] | dict[str, Any] = [4, 4, 4]
    smearing: float = 0.1
    maxiter: int = 333
    convergence: dict[str, float] | None = None
    spinpol: bool = False
    extra: dict[str, Any] | None = None
    python: str | None = None
    mpi_command: str | None = None
    env: dict[str, Any] | None = None
