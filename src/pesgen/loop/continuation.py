"""A run started from another: ``pesgen run NEW.toml --from RUN [--dir NEWRUN]``.

The new run has its own config (more stages or iterations, new systems, other trust levels, more
elements) and its own directory. Its first step (``continued``, before the initial data) imports
every labeled frame of RUN's store (origin "imported"; iteration, system, conditions, deviation,
labeler and task id kept) and copies RUN's latest ensemble to ``base_model.pt``; iteration 0 then
trains from that ensemble with the ``[warm_start]`` settings instead of from scratch. Initial
structures whose labels RUN already holds (same structure, same labeler) are not labeled again.

When NEW.toml has elements RUN's model lacks, iteration 0 first extends the ensemble to them
(:func:`pesgen.model.extend.extend_type_map`: the old species keep their nets, the new get fresh
ones with statistics and energy bias from the labels), so the new species need labeled frames:
initial structures that hold them.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from pesgen.loop.config import RunConfig
from pesgen.loop.context import RunContext
from pesgen.loop.errors import RunDirError
from pesgen.loop.rundir import RunDir
from pesgen.loop.summaries import ContinuedSummary

log = logging.getLogger("pesgen.loop")


def check_source(source: str | Path, cfg: RunConfig, target: RunDir) -> ContinuedSummary:
    """What a new run in ``target`` takes from the run ``source`` (nothing written).

    Raises:
        RunDirError: ``source`` is no run directory, has no trained model, is the target itself, or
            its model has species the new config lacks.
    """
    from pesgen.model.io import load

    src = RunDir(source)
    src.check()
    if target.path.resolve() == src.path.resolve():
        raise RunDirError(f"{src.path}: --from names the run directory itself; give the new run its own --dir")
    model = src.latest_model()
    old = load(model).type_map
    if dropped := [el for el in old if el not in cfg.elements]:
        raise RunDirError(f"{model}: the model knows {old}; the new config's elements {cfg.elements} lack "
                          f"{dropped} (a run can add species, not drop them)")
    return ContinuedSummary(source_run=str(src.path.resolve()), source_model=str(model.resolve()),
                            source_iteration=int(model.parent.name.split(".")[1]), source_elements=list(old),
                            added_elements=[el for el in cfg.elements if el not in old])


def continue_step(ctx: RunContext, summary: ContinuedSummary) -> ContinuedSummary:
    """Import the source run's labels and copy its ensemble (writes continued.json)."""
    from pesgen.data.importers import read_labeled

    start = time.perf_counter()
    src = RunDir(summary.source_run)
    frames = read_labeled(src.store_path, "store", keep_provenance=True)
    if extra := sorted({s for f in frames for s in f.atoms.get_chemical_symbols()} - set(ctx.cfg.elements)):
        raise RunDirError(f"{src.store_path}: holds {extra}, which are not in the new config's elements")
    known = ctx.store.task_ids()
    new = [f._replace(provenance=f.provenance.replace(origin="imported")) for f in frames
           if f.provenance.task_id not in known]
    ctx.store.add_many(new)
    tmp = ctx.run.path / ".base_model.pt.tmp"
    shutil.copyfile(summary.source_model, tmp)
    tmp.replace(ctx.run.base_model_path)
    summary.imported, summary.imported_skipped = len(new), len(frames) - len(new)
    summary.wall_time = time.perf_counter() - start
    ctx.run.write_summary(summary)
    log.info("continued from %s: %d labels imported, ensemble of iteration %d%s", summary.source_run, len(new),
             summary.source_iteration, f" (to be extended to {summary.added_elements})" if summary.added_elements
             else "")
    return summary


def base_ensemble(ctx: RunContext, frames: list, seed: int):
    """The source run's ensemble for iteration 0 (None when the run was not started with --from),
    extended to the config's elements when it lacks some."""
    if not ctx.run.base_model_path.is_file():
        return None
    from pesgen.model.extend import extend_type_map
    from pesgen.model.io import load

    ens = load(ctx.run.base_model_path)
    if ens.type_map == list(ctx.cfg.elements):
        return ens
    sel = ctx.cfg.train.model.sel
    ens = extend_type_map(ens, ctx.cfg.elements, frames, sel=None if sel == "auto" else sel, seed=seed)
    log.info("ensemble extended from %s to %s (sel %s)", ens.metadata["type_map_history"][-1]["from"],
             ens.type_map, ens.module.hyper.sel)
    return ens
