"""What ``pesgen export`` writes: a run's (or a model file's) ensemble as one pesgen model file, or
as DeePMD-kit frozen models, one per member (:mod:`pesgen.model.deepmd_export`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pesgen.errors import PesgenError
from pesgen.loop.rundir import RunDir
from pesgen.model.io import ModelFileError, load

FORMATS = ("pesgen", "deepmd")


@dataclass
class ExportSource:
    """The model to export and where it came from."""

    model: object               # a DeepPot or Ensemble
    path: Path                  # its model file
    run: RunDir | None          # the run directory it belongs to, if exported from one


def export_source(source: str | Path, iteration: int | None = None) -> ExportSource:
    """The latest (or ``iteration``'s) ensemble of run directory ``source``, or the model file ``source``."""
    source = Path(source)
    if source.is_dir():
        run = RunDir(source)
        run.check()
        path = run.latest_model() if iteration is None else run.model_path(iteration)
        if not path.is_file():
            raise ModelFileError(f"{path}: iteration {iteration} has no trained model")
        return ExportSource(load(path), path, run)
    if iteration is not None:
        raise PesgenError(f"{source}: --iteration needs a run directory, not a model file")
    if not source.is_file():
        raise ModelFileError(f"{source}: no such run directory or model file")
    return ExportSource(load(source), source, None)


def run_min_neighbor_distance(run: RunDir, model) -> float | None:
    """The shortest interatomic distance (Å) of the run's labeled frames (within the model's rcut)."""
    from pesgen.data.store import Store
    from pesgen.model.stats import min_neighbor_distance

    with Store(run.store_path, readonly=True) as store:
        frames = store.frames()
    return min_neighbor_distance(frames, model.type_map, model.rcut)


def export_deepmd(src: ExportSource, out: Path, *, compress: bool = False, min_nbor_dist: float | None = None):
    """Write ``src``'s members as DeePMD-kit models into ``out``; ``min_nbor_dist`` (Å) defaults to
    the run's data when ``src`` is a run directory."""
    from pesgen.model.deepmd_export import write_deepmd

    if min_nbor_dist is None and src.run is not None:
        min_nbor_dist = run_min_neighbor_distance(src.run, src.model)
    return write_deepmd(src.model.module, out, min_nbor_dist=min_nbor_dist, compress=compress,
                        source=str(src.path))
