"""docs/quickstart.md's run config (VASP labels on Slurm through dask-jobqueue, GPU training) is a
valid config of today's schema, its labeler builds, and its Slurm job description is one that
dask-jobqueue accepts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from pesgen.loop.config import parse_config
from pesgen.loop.schedule import build_schedule

DOC = Path(__file__).parents[1] / "docs" / "quickstart.md"


def _config() -> dict:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(), flags=re.S)
    (text,) = [b for b in blocks if b.startswith("# my-system.toml")]
    return tomllib.loads(text)


def test_the_quickstart_config_is_valid(tmp_path):
    cfg = parse_config(_config(), tmp_path / "my-system.toml", tmp_path)
    assert cfg.train.device == "cuda" and cfg.exploration.device == "cuda"
    assert cfg.selection.trust == "calibrated" and cfg.audit.enabled
    assert cfg.convergence.target_force_rmse == 0.05
    assert cfg.label.kind == "ase" and cfg.executor.kind == "dask" and cfg.executor.jobqueue["system"] == "slurm"
    labeler = cfg.build_labeler(tmp_path / "my-system.toml")       # imports ase's Vasp; runs nothing
    assert labeler.name == "vasp-pbe" and labeler.kwargs["command"] == "srun -n 32 vasp_std"
    structures = cfg.build_structures(tmp_path / "my-system.toml")
    systems = list(dict.fromkeys(str(a.info["system"]) for a in structures))
    schedule = build_schedule(cfg, systems, "my-system.toml")
    assert len(schedule.stages) == 5 and all(s.name.startswith("T=") for s in schedule.stages)
    assert schedule.stages[0].conditions.temperatures == (100.0,)
    assert schedule.stages[-1].conditions.temperatures == (1500.0,)


def test_the_quickstart_slurm_job_is_what_dask_jobqueue_takes():
    pytest.importorskip("dask_jobqueue")
    from pesgen.execute.jobqueue import jobqueue_keywords, make_jobqueue_cluster

    jobqueue = _config()["executor"]["jobqueue"]
    assert set(jobqueue) - {"system"} <= set(jobqueue_keywords("slurm"))
    cluster = make_jobqueue_cluster(jobqueue)       # submits nothing
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH --cpus-per-task=32" in script and "#SBATCH -A my-project" in script
    assert "module load vasp/6.4" in script and "--nthreads 1" in script
