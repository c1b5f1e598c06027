"""Typed label failures and configuration errors.

Two families, on purpose:

* :class:`LabelFailure` and its subclasses describe a *frame* that could not be labeled
  (the calculator raised, crashed, did not converge, ran past its time limit, or returned
  NaN or absurd forces). The batch runner records such a frame as failed with its reason;
  it never enters training, and the run goes on.
* :class:`LabelerConfigError` (and :class:`PotentialFileNotFound`) describe a *setup* that
  cannot work for any frame. They stop the run at once with a message naming the key or file.

:class:`FailedRatioExceeded` is raised by :class:`pesgen.label.failure_budget.FailureBudget`
when too many labels of an iteration failed.
"""

from __future__ import annotations

from pesgen.errors import ConfigError, PesgenError


class LabelFailure(PesgenError):
    """A frame could not be labeled. ``kind`` is a short stable tag, ``reason`` the details."""

    kind: str = "calculator-error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __reduce__(self):  # keep subclasses picklable across processes
        return (type(self), (self.reason,))

    def describe(self) -> str:
        """``"<kind>: <reason>"``, the text stored with a failed frame."""
        return f"{self.kind}: {self.reason}"


class CalculatorError(LabelFailure):
    """The reference calculator raised an exception."""

    kind = "calculator-error"


class ProcessCrash(LabelFailure):
    """The process running the calculator died (signal, non-zero exit, lost worker)."""

    kind = "crash"


class SCFNotConverged(LabelFailure):
    """The self-consistent field cycle of a DFT code did not converge."""

    kind = "scf-not-converged"


class LabelTimeout(LabelFailure):
    """The label ran past its time limit and was killed."""

    kind = "timeout"


class InvalidResult(LabelFailure):
    """Energy, forces or stress are NaN/inf, of the wrong shape, or absurdly large."""

    kind = "invalid-result"


class InvalidStructure(LabelFailure):
    """The labeler cannot handle this structure (unknown element, missing cell, ...)."""

    kind = "invalid-structure"


FAILURE_KINDS: dict[str, type[LabelFailure]] = {
    cls.kind: cls
    for cls in (CalculatorError, ProcessCrash, SCFNotConverged, LabelTimeout, InvalidResult,
                InvalidStructure)
}


def failure_from_kind(kind: str, reason: str) -> LabelFailure:
    """Rebuild a typed failure from its ``kind`` tag (unknown tags give a CalculatorError)."""
    return FAILURE_KINDS.get(kind, CalculatorError)(reason)


class LabelerConfigError(ConfigError):
    """A labeler or executor configuration cannot work; the message names the key at fault."""


class PotentialFileNotFound(LabelerConfigError):
    """An interatomic potential file named in a LAMMPS labeler configuration does not exist."""


class FailedRatioExceeded(PesgenError, RuntimeError):
    """The fraction of failed labels of an iteration exceeded the configured maximum."""


class DuplicateTaskError(PesgenError, ValueError):
    """Two tasks of one batch share a task id."""
