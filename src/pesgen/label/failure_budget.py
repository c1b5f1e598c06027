"""The failed-label stop: a run ends with a clear message when too many labels fail."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pesgen.label.errors import FailedRatioExceeded, LabelerConfigError


@dataclass(frozen=True)
class FailureBudget:
    """Maximum tolerated fraction of failed labels in one iteration.

    Args:
        max_failed_ratio: in [0, 1]; the run stops when ``failed / total`` exceeds it.
        min_tasks: the check is skipped below this many tasks (one failure of two is noise).
    """

    max_failed_ratio: float = 0.2
    min_tasks: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_failed_ratio <= 1.0:
            raise LabelerConfigError(f"'max_failed_ratio' must be in [0, 1], got "
                                     f"{self.max_failed_ratio}")
        if self.min_tasks < 1:
            raise LabelerConfigError(f"'min_tasks' must be >= 1, got {self.min_tasks}")

    def check(self, n_failed: int, n_total: int, iteration: int | None = None,
              reasons: Counter | dict | None = None) -> float:
        """Return the failed ratio; raise :class:`FailedRatioExceeded` if above the maximum."""
        if n_total <= 0:
            return 0.0
        ratio = n_failed / n_total
        if n_total >= self.min_tasks and ratio > self.max_failed_ratio:
            where = "" if iteration is None else f" in iteration {iteration}"
            why = ""
            if reasons:
                why = "; failures by kind: " + ", ".join(
                    f"{k} x{v}" for k, v in Counter(reasons).most_common())
            raise FailedRatioExceeded(
                f"{n_failed} of {n_total} labels failed{where} ({ratio:.1%}), above the "
                f"maximum failed ratio {self.max_failed_ratio:.1%}{why}. Inspect the failed "
                "frames (Store.failed()) and their task directories, fix the reference "
                "settings, or raise 'max_failed_ratio'.")
        return ratio

    def check_report(self, report, iteration: int | None = None) -> float:
        """:meth:`check` on a :class:`pesgen.label.campaign.CampaignReport` (all its tasks, those
        failed in earlier runs included)."""
        return self.check(report.n_failed_total, report.n_tasks, iteration,
                          report.failure_kinds)
