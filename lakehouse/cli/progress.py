"""Progress display for long commands (on stderr, only when it is a terminal)."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from lakehouse.cli.errors import err_console


def progress_bar() -> Progress:
    """A transient progress bar on stderr; disabled when stderr is a file or a pipe."""
    return Progress(
        TextColumn("{task.description}", markup=False),  # descriptions hold file names: literal text
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


class DbtNodeReporter:
    """Shows the dbt node being built and counts finished nodes (a ``NodeProgress`` callback)."""

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar = bar
        self._task = task
        self._finished = 0

    def __call__(self, unique_id: str, status: str) -> None:
        if status == "started":
            self._bar.update(self._task, description=f"dbt: {unique_id.split('.', 2)[-1]}")
        else:
            self._finished += 1
            self._bar.update(self._task, completed=self._finished)
