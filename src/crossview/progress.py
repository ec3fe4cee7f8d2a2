"""Progress bars for long work (rich), shown on stderr and hidden when not a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def progress_callback(label: str, total: int | None = None) -> Iterator[Callable[[int, int], None]]:
    """A ``(done, total)`` callback that drives one progress bar labelled ``label``."""
    cols = (
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*cols, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=total)

        def update(done: int, n: int) -> None:
            bar.update(task, completed=done, total=n)

        yield update
