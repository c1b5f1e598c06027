"""TRAIN: fit the ensemble on every labeled frame of the store.

Frames are sorted by task id, so the training set (and with the derived seed, the ensemble) does
not depend on the order in which labels arrived: a resumed run trains the same models.
After the first iteration training starts from the previous ensemble (``[warm_start]``); the first
iteration of a run started ``--from`` another starts from that run's ensemble
(:mod:`pesgen.loop.continuation`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from pesgen.loop.context import RunContext
from pesgen.loop.continuation import base_ensemble
from pesgen.loop.errors import RunStopped
from pesgen.loop.seeds import step_seed
from pesgen.loop.summaries import TrainSummary
from pesgen.training.config import TrainSettings

log = logging.getLogger("pesgen.loop")


def training_frames(store) -> list:
    """All labeled frames of ``store`` in task-id order (deterministic)."""
    frames = store.frames()
    return sorted(frames, key=lambda a: (a.info["provenance"].task_id or "", a.info.get("id", 0)))


def iteration_settings(ctx: RunContext, iteration: int) -> tuple[TrainSettings, bool]:
    """Training settings of ``iteration`` and whether it warm-starts (iteration 0 of a run started
    ``--from`` another warm-starts from that run's ensemble)."""
    cfg = ctx.cfg
    values = cfg.train.model_dump()
    values["seed"] = step_seed(cfg.seed, iteration, "train")
    warm = (iteration > 0 and cfg.warm_start.enabled) or (iteration == 0 and ctx.run.base_model_path.is_file())
    if warm:
        values["numb_steps"] = cfg.warm_start.numb_steps or max(1, cfg.train.numb_steps // 4)
        if cfg.warm_start.start_lr is not None:
            values["start_lr"] = cfg.warm_start.start_lr
            values["stop_lr"] = min(values["stop_lr"], values["start_lr"])
        values["refresh_statistics"] = cfg.warm_start.refresh_statistics
        values["decay_steps"] = None if cfg.train.decay_steps is None else min(
            cfg.train.decay_steps, values["numb_steps"])
    return TrainSettings(**values), warm


def _mean_last(curve: list[dict[str, Any]], key: str) -> float | None:
    for point in reversed(curve):
        if key in point:
            return float(np.mean(point[key]))
    return None


def train_step(ctx: RunContext, iteration: int) -> TrainSummary:
    """Train iteration ``iteration``'s ensemble; writes model.pt and train.json."""
    from pesgen.model.io import load
    from pesgen.training.trainer import train

    start = time.perf_counter()
    frames = training_frames(ctx.store)
    if not frames:
        raise RunStopped(f"{ctx.run.store_path}: no labeled frames to train on (all initial labels failed?)")
    settings, warm = iteration_settings(ctx, iteration)
    if iteration == 0:
        init = base_ensemble(ctx, frames, settings.seed)
    else:
        init = load(ctx.run.model_path(iteration - 1)) if warm else None
    log.info("iteration %d: training %d members on %d frames, %d steps%s", iteration, settings.n_members,
             len(frames), settings.numb_steps, " (warm start)" if warm else "")
    with ctx.progress.bar(f"iter {iteration} train", settings.numb_steps) as advance:
        def progress(done: int, total: int, point: dict | None) -> None:
            note = None
            if point is not None and "rmse_f_trn" in point:
                note = f"rmse_f trn {np.mean(point['rmse_f_trn']):.3f}"
                if "rmse_f_val" in point:
                    note += f" val {np.mean(point['rmse_f_val']):.3f}"
            advance(1, note)

        ensemble = train(frames, settings, init=init, type_map=ctx.cfg.elements, progress=progress)
    ensemble.save(ctx.run.model_path(iteration))
    curve = ensemble.metadata.get("learning_curve", [])
    summary = TrainSummary(
        iteration, len(frames), settings.numb_steps, warm, settings.seed,
        rmse_e_trn=_mean_last(curve, "rmse_e_trn"), rmse_f_trn=_mean_last(curve, "rmse_f_trn"),
        rmse_e_val=_mean_last(curve, "rmse_e_val"), rmse_f_val=_mean_last(curve, "rmse_f_val"),
        learning_curve=[{k: (float(np.mean(v)) if isinstance(v, list) else v) for k, v in p.items()} for p in curve],
        wall_time=time.perf_counter() - start,
        n_valid=ensemble.metadata["training_history"][-1]["n_frames_valid"])
    ctx.run.write_summary(summary)
    return summary
