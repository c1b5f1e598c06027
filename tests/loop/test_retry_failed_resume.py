"""A run stopped by timed-out labels resumes once the time limit is raised in RUN/config.toml:
the failures are retried (their label settings changed), the failure budget counts this attempt,
and the store holds every task id once."""

from __future__ import annotations

import pytest
from loop_testkit import write_tiny

from pesgen.data.store import Store
from pesgen.loop.errors import RunStopped
from pesgen.loop.rundir import RunDir
from pesgen.loop.runner import run_loop
from pesgen.loop.summaries import InitialSummary


def test_raising_the_time_limit_retries_the_timed_out_labels(tmp_path):
    # every label runs in a child process that cannot even start within 0.05 s
    config = write_tiny(tmp_path, label='kind = "emt"\n\n[label_policy]\ntimeout = 0.05')
    config.write_text(config.read_text().replace("max_iterations = 2", "max_iterations = 1"))
    run = RunDir(tmp_path / "run")
    with pytest.raises(RunStopped, match=r"labels failed.*timeout x.*--retry-failed"):
        run_loop(config, run.path, quiet=True)
    store = Store(run.store_path)
    n_failed = store.count_failed()
    assert n_failed >= 2 and len(store) == 0

    run.config_path.write_text(run.config_path.read_text().replace("timeout = 0.05", "timeout = 120.0"))
    result = run_loop(run.path, quiet=True)
    assert result.finished
    initial = run.read_summary(InitialSummary)
    assert initial.labeled.n_retried == n_failed and initial.labeled.n_failed_total == 0
    assert initial.n_frames == 8  # the 8 initial structures (the audit labels came after)
    assert store.count_failed() == 0 and len(store) == len(store.task_ids())
