"""Fault injection: a labeler wrapper that fails on purpose, to exercise failure handling.

Use it to check that a deployment (timeouts, retries, the failed-ratio stop, Dask workers)
behaves before spending DFT hours. A structure whose ``atoms.info["inject_fault"]`` names a
fault gets that fault; other structures are labeled by the wrapped labeler.

Faults: ``"raise"`` (the calculator raises), ``"nan"`` (NaN forces), ``"absurd"`` (forces of
1e6 eV/Å), ``"hang"`` (sleeps ``hang_seconds``), ``"crash"`` (the process dies by SIGKILL),
``"unconverged"`` (an SCF non-convergence).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from ase import Atoms

from pesgen.label.base import Labeler, LabelerSettings
from pesgen.label.errors import LabelerConfigError, SCFNotConverged
from pesgen.label.result import LabelResult

if TYPE_CHECKING:
    from pesgen.label.factory import LabelerConfig

FAULTS = ("raise", "nan", "absurd", "hang", "crash", "unconverged")


class FaultInjectingLabeler(Labeler):
    """Wrap ``inner``; inject the fault named by ``atoms.info["inject_fault"]``.

    Args:
        inner: the labeler that labels healthy structures.
        delay: seconds slept before every label (simulates an expensive reference).
        hang_seconds: how long a ``"hang"`` fault sleeps.
    """

    def __init__(self, inner: Labeler, delay: float = 0.0, hang_seconds: float = 3600.0) -> None:
        if delay < 0 or hang_seconds < 0:
            raise LabelerConfigError("fault-injection labeler: 'delay' and 'hang_seconds' "
                                     "must be >= 0 s")
        self.inner = inner
        self.delay = float(delay)
        self.hang_seconds = float(hang_seconds)
        self.name = inner.name

    def settings(self) -> dict[str, Any]:
        return self.inner.settings()  # healthy labels equal the inner labeler's

    def label(self, atoms: Atoms, workdir: Path | None = None) -> LabelResult:
        if self.delay:
            time.sleep(self.delay)
        fault = atoms.info.get("inject_fault")
        if fault is None:
            return self.inner.label(atoms, workdir)
        if fault not in FAULTS:
            raise LabelerConfigError(f"atoms.info['inject_fault']={fault!r}; known: {FAULTS}")
        if fault == "raise":
            raise RuntimeError("injected calculator exception")
        if fault == "unconverged":
            raise SCFNotConverged("injected: SCF did not converge")
        if fault == "hang":
            time.sleep(self.hang_seconds)
        if fault == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        result = self.inner.label(atoms, workdir)
        if fault == "nan":
            result.forces[0, 0] = np.nan
        elif fault == "absurd":
            result.forces[-1] = [1e6, 0.0, 0.0]
        return result


class FaultInjectionSettings(LabelerSettings):
    """``[label] kind = "fault-injection"``: :class:`FaultInjectingLabeler` around ``inner``."""

    labeler = FaultInjectingLabeler
    kind: Literal["fault-injection"] = "fault-injection"
    inner: LabelerConfig
    delay: float = 0.0
    hang_seconds: float = 3600.0

    def build(self) -> FaultInjectingLabeler:
        return FaultInjectingLabeler(self.inner.build(), delay=self.delay, hang_seconds=self.hang_seconds)
