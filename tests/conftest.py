"""Suite-wide settings and test kinds.

torch runs single-threaded in tests: several tests start worker processes (process pools, Dask)
beside the test process, and OpenMP threads spinning on an oversubscribed 2-core machine make
torch many times slower, not faster.

Kinds (markers registered in pyproject.toml): a test is ``unit`` when its module drives one module
alone (no reference engine, worker process or training run), else ``integration``; ``slow`` is
marked per test. ``pytest -m "not slow"`` runs in a few minutes, ``pytest -m unit`` in seconds;
CI (scripts/test.sh) runs everything.
"""

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

HERE = Path(__file__).parent
UNIT_MODULES = {
    "data/test_deepmd_format.py", "data/test_extxyz_and_ase_io.py",
    "explore/test_audit.py", "explore/test_calibration.py",
    "explore/test_select.py", "explore/test_stages.py",
    "explore/test_structures.py",
    "label/test_ase_labeler.py", "label/test_emt_labeler.py", "layout/test_imports.py",
    "loop/test_loop_steps.py", "loop/test_schedule.py", "loop/test_summaries.py",
    "model/test_contract.py", "model/test_deepmd_weights.py", "model/test_derivatives.py", "model/test_ensemble.py",
    "model/test_environment.py",
    "model/test_invariance.py",
    "model/test_io.py", "model/test_pair.py", "model/test_precision.py", "model/test_statistics.py",
    "report/test_report_plots.py", "structures/test_builders.py", "test_public_api.py",
    "training/test_schedule_loss.py", "validate/test_validate_units_and_geometry.py",
}


def pytest_configure(config: pytest.Config) -> None:
    missing = sorted(m for m in UNIT_MODULES if not (HERE / m).is_file())
    if missing:  # a moved unit module would silently turn integration
        raise pytest.UsageError(f"tests/conftest.py: UNIT_MODULES names missing files {missing}")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.relative_to(HERE).as_posix()
        item.add_marker("unit" if module in UNIT_MODULES else "integration")
