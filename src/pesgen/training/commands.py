"""``pesgen train``: train an ensemble on a store or on labeled files, with a progress bar."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from pesgen.training.curve import learning_curve_table

console = Console()


def _load_settings(path: Path | None, overrides: dict):
    """The training settings of ``path`` (its top level or its [train] table) with ``overrides``."""
    from pesgen.schema import parse, read_toml
    from pesgen.training.config import TrainSettings

    settings: dict = {} if path is None else read_toml(path)[1]
    settings = dict(settings.get("train", settings))
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return parse(TrainSettings, settings, str(path or "command line"))


def train_command(
    data: list[Path] = typer.Argument(..., help="A pesgen store (.db) or labeled files (DeePMD npy/raw, extxyz, ...)."),
    out: Path = typer.Option(Path("ensemble.pt"), "--out", "-o", help="Where to write the trained ensemble."),
    config: Path | None = typer.Option(None, "--config", "-c",
                                       help="TOML with training settings (top level or a [train] table)."),
    steps: int | None = typer.Option(None, "--steps", help="numb_steps (overrides the config)."),
    members: int | None = typer.Option(None, "--members", help="Ensemble size (overrides the config)."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (overrides the config)."),
    init: Path | None = typer.Option(None, "--init", help="Warm start from this ensemble file."),
    type_map: str | None = typer.Option(None, "--type-map",
                                        help="Species order, e.g. Al,Mg (default: by atomic number)."),
) -> None:
    """Train an ensemble of Deep Potentials (all members at once) and save it."""
    from pesgen.data.importers import read_labeled
    from pesgen.model.io import load
    from pesgen.training.trainer import train

    settings = _load_settings(config, {"numb_steps": steps, "n_members": members, "seed": seed})
    frames = [frame.to_atoms() for path in data for frame in read_labeled(path)]
    previous = load(init) if init is not None else None
    tmap = [s.strip() for s in type_map.split(",")] if type_map else None
    console.print(f"training {settings.n_members} members for {settings.numb_steps} steps on {len(frames)} frames")
    with Progress(TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task("train", total=settings.numb_steps, status="")

        def progress(step: int, total: int, point: dict | None) -> None:
            status = ""
            if point is not None and "rmse_f_val" in point:
                status = f"val rmse_f {max(point['rmse_f_val']):.4f} eV/Å"
            bar.update(task, completed=step, **({"status": status} if status else {}))

        ensemble = train(frames, settings, init=previous, type_map=tmap, progress=progress)
    console.print(learning_curve_table(ensemble.metadata))
    path = ensemble.save(out)
    console.print(f"saved {path}")
