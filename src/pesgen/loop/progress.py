"""Progress display of long steps (training steps, MD steps, label tasks) with rich."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class LoopProgress:
    """One progress bar per running step; ``quiet`` shows none.

    Usage::

        with progress.bar("iter 3 train", total=2000) as advance:
            advance(1, "rmse_f 0.05")
    """

    def __init__(self, console: Console | None = None, quiet: bool = False) -> None:
        self.console = console or Console()
        self.quiet = quiet

    @contextmanager
    def bar(self, description: str, total: int) -> Iterator[Callable[..., None]]:
        if self.quiet or not self.console.is_terminal:
            yield lambda n=1, note=None: None
            return
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("{task.fields[note]}"))
        with Progress(*columns, console=self.console, transient=True) as progress:
            task = progress.add_task(description, total=total, note="")

            def advance(n: int = 1, note: str | None = None) -> None:
                if note is None:
                    progress.advance(task, n)
                else:
                    progress.update(task, advance=n, note=note)

            yield advance
