"""The iteration state machine: initial data, then train -> explore -> select -> label until done.

``run_loop(config_or_run_dir, run_dir)`` validates everything first (config, structures, stages),
then creates or reopens the run directory and performs the steps that are not yet marked done in
its state file. Each step writes its outputs and then marks itself done, so the same call on a
run directory whose process was stopped or killed continues where it stopped.
"""

from __future__ import annotations

import logging
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from pesgen.loop.config import RunConfig, config_digest, parse_config, read_toml
from pesgen.loop.context import RunContext
from pesgen.loop.errors import ConfigError, RunDirError
from pesgen.loop.progress import LoopProgress
from pesgen.loop.rundir import RunDir
from pesgen.loop.schedule import build_schedule
from pesgen.loop.summaries import RunState

log = logging.getLogger("pesgen.loop")


@dataclass
class RunResult:
    """How a run ended (what :func:`run` and :func:`run_loop` return).

    Attributes:
        run_dir: the run directory.
        finished: the run ended (converged, or ``max_iterations`` / a stage's iteration cap reached).
        converged: the last stage converged (``pesgen run`` exits 0; else 3).
        reason: why it ended, with the rule and its numbers.
        iterations: iterations with at least one step done.
        model: the latest trained ensemble's file (``pesgen.load(model)``); None before any training.
        labels: labeled frames in the store (initial, explored, audit and imported).
        failed_labels: labels that failed (recorded, never trained on).
        audit: the last audited iteration's errors pooled over its stage's systems (``rmse_f``
            eV/Å, ``rmse_e`` meV/atom, their ``upper_*`` confidence bounds, ``n`` frames,
            ``confidence``) and ``per_system`` (system -> ``n``, ``rmse_f``, ``rmse_e``,
            ``max_force_error``); None without an audit. The model of ``model`` was trained
            on these frames afterwards, so they bound its error from above.
    """

    run_dir: Path
    finished: bool
    converged: bool
    reason: str
    iterations: int
    model: Path | None
    labels: int = 0
    failed_labels: int = 0
    audit: dict[str, Any] | None = None

    @property
    def exit_status(self) -> int:
        """``pesgen run``'s exit status: 0 converged, 3 finished (or stopped) without converging."""
        return 0 if self.converged else 3


def default_run_dir(config_path: Path, cfg: RunConfig) -> Path:
    """``run-<name>`` in the current folder (name: the config's ``name``, else its file or folder name)."""
    name = cfg.name or (config_path.parent.name if config_path.stem == "config" else config_path.stem)
    return Path.cwd() / f"run-{name or 'pesgen'}"


def prepare(config_path: Path, text: str, data: dict[str, Any], base: Path):
    """Validate the config and build the labeler, structures and stages (once); nothing is written."""
    cfg = parse_config(data, config_path, base)
    structures = cfg.build_structures(config_path) if cfg.initial.structures is not None else (
        _structures_from_files(cfg, config_path))
    labeler = cfg.build_labeler(config_path)
    systems = list(dict.fromkeys(str(a.info["system"]) for a in structures))
    schedule = build_schedule(cfg, systems, str(config_path))
    return cfg, structures, labeler, schedule


def _structures_from_files(cfg: RunConfig, config_path: Path) -> list:
    """Walkers start from the imported frames when no structures are generated."""
    from pesgen.data.errors import DataError
    from pesgen.data.importers import read_labeled

    out = []
    for src in list(cfg.initial.files) + ([cfg.initial.store] if cfg.initial.store else []):
        try:
            frames = read_labeled(src, cfg.initial.format, cfg.elements)
        except DataError as exc:
            raise ConfigError(config_path, [("initial.files", str(exc))]) from None
        for f in frames:
            a = f.atoms.copy()
            a.info = {"system": f.provenance.system or a.get_chemical_formula()}
            out.append(a)
    return out


def _setup_log(run: RunDir) -> logging.Handler:
    handler = logging.FileHandler(run.log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger("pesgen")
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler


def open_run(source: str | Path, run_dir: str | Path | None = None):
    """(config path, text, data, base folder, RunDir) for a config file or an existing run directory."""
    source = Path(source)
    if source.is_dir():
        run = RunDir(source)
        run.check()
        text, data = read_toml(run.config_path)
        base = Path(run.info().get("config_dir", str(source)))
        return run.config_path, text, data, base, run
    text, data = read_toml(source)
    return source, text, data, source.resolve().parent, (RunDir(run_dir) if run_dir is not None else None)


def iteration_line(run: RunDir, it: int, state: RunState) -> str:
    """A one-line summary of an iteration."""
    rec = run.iteration_record(it)
    parts = [f"iter {it:3d}"]
    if se := rec.select:
        r = se.ratios
        parts.append(f"{se.stage_name}: {se.counts.total} frames, accurate {100 * r['accurate']:.1f}% "
                     f"candidate {100 * r['candidate']:.1f}% failed {100 * r['failed']:.1f}%")
    if (au := rec.audit) and au.stage_errors["n"]:
        _, wf = au.worst("rmse_f")
        _, we = au.worst("rmse_e")
        parts.append(f"audit {au.stage_errors['n']} frames: worst system F {wf:.3f} eV/Å, E {we:.1f} meV/atom")
    if la := rec.label:
        parts.append(f"labeled {la.report.n_labeled_total} (failed {la.report.n_failed_total}), dataset {la.n_store}")
    if rec.train and rec.train.rmse_f_val is not None:
        parts.append(f"rmse_f val {rec.train.rmse_f_val:.3f} eV/Å")
    parts.append(f"{state.wall_time(it):.0f} s")
    return " | ".join(parts)


def run(config: str | Path | Mapping[str, Any] | RunConfig, run_dir: str | Path | None = None, *,
        quiet: bool = True, console: Console | None = None) -> RunResult:
    """Run (or resume) the active-learning loop: ``pesgen.run(config, run_dir)``, the Python form of
    ``pesgen run CONFIG --dir RUN_DIR``.

    Args:
        config: a TOML config file, a run directory to resume, a dict of the config's tables
            (as ``tomllib`` reads a file), or a :class:`~pesgen.loop.config.RunConfig`. Relative
            paths in a dict or config object are relative to the current folder; the run
            directory keeps the config as ``config.toml``, so ``pesgen run RUN_DIR`` resumes it.
        run_dir: the run directory (default ``./run-NAME``; ignored when ``config`` is one).
        quiet: no progress bars (the default here; the log still goes to ``RUN_DIR/log.txt``).
        console: where the iteration lines go (default: stdout).

    Returns:
        A :class:`RunResult`: whether it converged and why, the latest model, the labels, and
        the last audited errors.

    Raises:
        ConfigError: the config is invalid (nothing written).
        RunDirError: the run directory holds another config, or another driver runs in it.
        RunStopped: a step cannot go on (e.g. too many failed labels); progress is kept.
    """
    if isinstance(config, str | Path):
        return run_loop(config, run_dir, console=console, quiet=quiet)
    data = config.model_dump(mode="json", exclude_none=True) if isinstance(config, RunConfig) else dict(config)
    return run_loop(TOML_SOURCE, run_dir, console=console, quiet=quiet, config_text=config_toml(data))


#: how a config given as a dict or RunConfig is named in messages and in RUN/run.json
TOML_SOURCE = "<python config>"


def config_toml(data: Mapping[str, Any]) -> str:
    """The TOML text of a config table (what the run directory keeps); None values are dropped
    (TOML has no null: an unset key takes its default)."""
    import tomlkit

    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    return tomlkit.dumps(clean(data))


def run_loop(source: str | Path, run_dir: str | Path | None = None, *, console: Console | None = None,
             quiet: bool = False, config_text: str | None = None,
             from_run: str | Path | None = None, retry_failed: bool = False) -> RunResult:
    """Run (or resume) the active-learning loop of a config file or run directory (or of
    ``config_text``, a config's TOML text, whose relative paths are relative to the current
    folder; ``source`` then only names it in messages); ``from_run`` starts a new run from another
    run's labels and latest ensemble (:mod:`pesgen.loop.continuation`).

    Failed labels are labeled again when they failed under other label settings ([label],
    [label_policy]) than the config's, or all of them with ``retry_failed``.

    Raises:
        ConfigError: the config is invalid (nothing written).
        RunDirError: the run directory holds another config.
        RunStopped: a step cannot go on (e.g. too many failed labels); progress is kept.
    """
    console = console or Console()
    if config_text is None:
        config_path, text, data, base, run = open_run(source, run_dir)
    else:
        config_path, text, base = Path.cwd() / str(source), config_text, Path.cwd()
        data = tomllib.loads(text)
        run = RunDir(run_dir) if run_dir is not None else None
    cfg, structures, labeler, schedule = prepare(config_path, text, data, base)
    if run is None:
        run = RunDir(default_run_dir(config_path, cfg))
    if run.is_foreign():
        raise RunDirError(f"{run.path} exists, is not empty and is not a pesgen run directory")
    continued = None
    if from_run is not None:
        from pesgen.loop.continuation import check_source

        continued = check_source(from_run, cfg, run)
    with run.driver_lock():
        return _drive(run, config_path, text, cfg, structures, labeler, schedule, console, quiet, continued,
                      retry_failed)


def _drive(run: RunDir, config_path: Path, text: str, cfg, structures, labeler, schedule, console: Console,
           quiet: bool, continued=None, retry_failed: bool = False) -> RunResult:
    """run_loop's body, under the run directory's driver lock."""
    from pesgen.loop.summaries import ContinuedSummary

    digest = config_digest(text)
    if run.exists():
        from pesgen.loop.check import require_whole

        stored = config_digest(run.config_path.read_text())
        if stored != digest:
            raise RunDirError(f"{run.path} holds a run of a different config (digest {stored}, "
                              f"{config_path} has {digest}); choose another --dir, run `pesgen run "
                              f"{run.path}` to resume it with its own config, or start a new run from it: "
                              f"`pesgen run {config_path} --from {run.path} --dir NEWRUN`")
        before = run.read_summary(ContinuedSummary)
        if continued is not None and (before is None or before.source_run != continued.source_run):
            raise RunDirError(f"{run.path} is a run of its own{'' if before is None else ' from ' + before.source_run}"
                              f"; --from {continued.source_run} starts a new run: give it another --dir")
        continued = continued or before
        if not run.run_json.is_file():  # killed between writing config.toml and run.json
            run.create(text, config_path, digest)
        require_whole(run)  # a damaged store or iteration file stops the run here, named
        resumed = True
    else:
        run.create(text, config_path, digest)
        if continued is not None:  # written first: a killed run resumes the step without --from
            run.write_summary(continued)
        resumed = False
    state = run.load_state()
    started = run.info().get("config_digest", digest) if resumed else digest
    if state.finished and started != digest:
        raise RunDirError(f"{run.config_path} was edited after the run finished (digest {started}, now {digest}); "
                          f"a finished run does not go on. To go on with the edited config, copy it out of the run "
                          f"directory and start a new run from this one: "
                          f"`pesgen run EDITED.toml --from {run.path} --dir NEWRUN`")
    if started != digest:  # an unfinished run resumed with its config edited in place (e.g. a fixed labeler)
        from pesgen.loop.rundir import write_json

        write_json(run.run_json, run.info() | {"config_digest": digest})
    if state.schedule:
        schedule.restore(state.schedule)
    handler = _setup_log(run)
    ctx = RunContext(cfg, run, str(config_path), structures, labeler, schedule, state,
                     LoopProgress(console, quiet), console, retry_failed=retry_failed)
    ctx.continued = continued
    import torch

    threads = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _iterate(ctx, resumed)
    finally:
        torch.set_num_threads(threads)
        ctx.close()
        logging.getLogger("pesgen").removeHandler(handler)
        handler.close()


def _say(ctx: RunContext, text: str) -> None:
    log.info("%s", text)
    ctx.console.print(text, highlight=False, soft_wrap=True)   # one line in a log, however long


def _finish(ctx: RunContext, reason: str, converged: bool) -> None:
    ctx.state.finished, ctx.state.converged, ctx.state.reason = True, converged, reason
    ctx.state.schedule = ctx.schedule.to_dict()
    ctx.run.save_state(ctx.state)


def _iterate(ctx: RunContext, resumed: bool) -> RunResult:
    from pesgen.loop.audit_step import audit_step
    from pesgen.loop.exploration_step import explore_step
    from pesgen.loop.labeling_step import initial_step, label_step
    from pesgen.loop.selection_step import select_step
    from pesgen.loop.training_step import train_step

    run, cfg, state = ctx.run, ctx.cfg, ctx.state
    if state.finished:
        _say(ctx, f"run already finished: {state.reason}")
        return _result(ctx)
    if resumed:
        _say(ctx, f"resuming {run.path} ({len(state.done)} steps done)")
    else:
        _say(ctx, f"new run in {run.path}")
    if ctx.continued is not None and not state.is_done("continued"):
        from pesgen.loop.continuation import continue_step

        t0 = time.perf_counter()
        summary = continue_step(ctx, ctx.continued)
        ctx.mark_done("continued", time.perf_counter() - t0)
        _say(ctx, f"continued from {summary.source_run}: {summary.imported} labels imported, iteration 0 starts "
                  f"from its ensemble of iteration {summary.source_iteration}"
                  + (f", extended to {summary.added_elements}" if summary.added_elements else ""))
    if not state.is_done("initial"):
        t0 = time.perf_counter()
        summary = initial_step(ctx)
        ctx.mark_done("initial", time.perf_counter() - t0)
        failed = summary.labeled.n_failed_total if summary.labeled else 0
        _say(ctx, f"initial data: {summary.n_frames} labeled, {failed} failed ({time.perf_counter() - t0:.0f} s)")
    steps = (("train", train_step), ("explore", explore_step)) + (
        (("audit", audit_step),) if cfg.audit.enabled else ()) + (("select", select_step),)
    it = 0
    while True:
        for name, fn in steps:
            key = f"{it}/{name}"
            if not state.is_done(key):
                t0 = time.perf_counter()
                fn(ctx, it)
                ctx.mark_done(key, time.perf_counter() - t0)
        if ctx.schedule.finished:
            reason = _schedule_reason(ctx, it)
            _say(ctx, iteration_line(run, it, state))
            _finish(ctx, reason, ctx.schedule.converged)
            break
        if it + 1 >= cfg.max_iterations:
            _say(ctx, iteration_line(run, it, state))
            _finish(ctx, f"not converged: stopped at max_iterations={cfg.max_iterations} before the last stage "
                         f"converged (at {ctx.schedule.stage_label(ctx.schedule.current_stage)}, stages 0 to "
                         f"{len(ctx.schedule.stages) - 1}); "
                         f"last iteration: {_verdict_text(ctx, it)}{_hint(ctx, it)}", False)
            break
        key = f"{it}/label"
        if not state.is_done(key):
            t0 = time.perf_counter()
            label_step(ctx, it)
            ctx.mark_done(key, time.perf_counter() - t0)
        _say(ctx, iteration_line(run, it, state))
        it += 1
    _say(ctx, f"run ended: {state.reason}")
    return _result(ctx)


def _hint(ctx: RunContext, it: int) -> str:
    """The schedule's advice when iteration ``it`` found no candidates to learn from ('' if none)."""
    prefix = f"iteration {it}: "
    notes = [e[len(prefix):] for e in ctx.schedule.events if e.startswith(prefix) and "no candidates" in e]
    return f"; {notes[-1]}" if notes else ""


def _verdict_text(ctx: RunContext, it: int) -> str:
    """The convergence verdict of iteration ``it`` (which rules hold, with their numbers)."""
    from pesgen.loop.summaries import SelectSummary

    se = ctx.run.read_summary(SelectSummary, it)
    return (se.convergence or {}).get("text", "no verdict recorded") if se else "not selected"


def _schedule_reason(ctx: RunContext, it: int) -> str:
    sched = ctx.schedule
    last = sched.stage_label(len(sched.stages) - 1)
    if sched.converged:
        return f"converged: the last stage, {last}, converged at iteration {it}: {_verdict_text(ctx, it)}"
    events = [e for e in sched.events if "max_iterations" in e]
    why = events[-1] if events else "the last stage ended"
    return f"not converged: {why}"


def _result(ctx: RunContext) -> RunResult:
    from pesgen.loop.summaries import AuditSummary

    state = ctx.state
    try:
        model = ctx.run.latest_model()
    except RunDirError:
        model = None
    audit = None
    for it in reversed(ctx.run.iterations()):
        if (au := ctx.run.read_summary(AuditSummary, it)) is not None and au.stage_errors.get("n"):
            audit = {**au.stage_errors, "iteration": it, "per_system": au.per_system}
            break
    return RunResult(ctx.run.path, state.finished, bool(state.converged), str(state.reason or ""),
                     len(state.iterations()), model, labels=len(ctx.store), failed_labels=ctx.store.count_failed(),
                     audit=audit)
