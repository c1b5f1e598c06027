"""Failed labels are not permanent: a campaign retries the failures recorded under other label
settings (labeler and policy) or, asked to, all of them; a retried label replaces its failed row,
and the failure budget counts only the failures that stay."""

from __future__ import annotations

import pytest
from ase.build import bulk

from pesgen.data.store import Provenance, Store
from pesgen.execute import SerialExecutor
from pesgen.label import (
    EMTLabeler,
    FailedRatioExceeded,
    FailureBudget,
    LabelCampaign,
    LabelPolicy,
    LabelTask,
    make_task_id,
)
from pesgen.label.campaign import label_settings_hash

LABELER = EMTLabeler()
STRICT = LabelPolicy(max_force=1e-4)  # every rattled frame has a force above 1e-4 eV/Å: invalid-result


def _tasks(n: int = 6) -> list[LabelTask]:
    out = []
    for i in range(n):
        atoms = bulk("Al", "fcc", a=4.05, cubic=True)
        atoms.rattle(0.05, seed=i)
        out.append(LabelTask(make_task_id(atoms, LABELER.settings_hash(), 1), atoms,
                             Provenance(iteration=1, origin="explored", walker=i)))
    return out


def _campaign(store, policy, **kw):
    return LabelCampaign(_tasks(), LABELER, store, SerialExecutor(), policy, **kw).run()


def _rows(store) -> int:
    return len(store) + store.count_failed()


def test_failures_are_retried_when_the_settings_change_or_when_asked(tmp_path):
    store = Store(tmp_path / "store.db")
    first = _campaign(store, STRICT)
    assert (first.n_failed, first.n_labeled) == (6, 0)
    assert {p.label_settings for *_, p in store.failed()} == {label_settings_hash(LABELER, STRICT)}

    same = _campaign(store, STRICT)  # same settings: the failures stand
    assert (same.n_skipped, same.n_failed_before, same.n_retried, same.n_failed_total) == (6, 6, 0, 6)

    again = _campaign(store, STRICT, retry_failed=True)  # asked: retried, fail again, rows replaced
    assert (again.n_retried, again.n_failed, again.n_failed_before) == (6, 6, 0)
    assert _rows(store) == 6 and len(store.task_ids()) == 6

    fixed = _campaign(store, LabelPolicy())  # the force bound raised: settings differ
    assert (fixed.n_retried, fixed.n_labeled, fixed.n_failed_total, fixed.n_labeled_total) == (6, 6, 0, 6)
    assert (len(store), store.count_failed(), len(store.task_ids())) == (6, 0, 6)


def test_the_budget_counts_only_the_failures_that_stay(tmp_path):
    store = Store(tmp_path / "store.db")
    budget = FailureBudget(max_failed_ratio=0.2)
    with pytest.raises(FailedRatioExceeded):
        _campaign(store, STRICT, budget=budget)
    with pytest.raises(FailedRatioExceeded):  # nothing changed: the old failures still count
        _campaign(store, STRICT, budget=budget)
    report = _campaign(store, LabelPolicy(), budget=budget)  # changed: this attempt alone counts
    assert report.n_failed_total == 0 and report.n_labeled_total == 6
