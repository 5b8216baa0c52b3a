"""Progress of long commands, on stderr.

On a terminal, a transient rich bar (:class:`Steps` draws one). Elsewhere (CI, a log file, a pipe),
one line per step with its count and duration, so a long build in a log is not silent::

    build acme: model customers ok (0.8 s) [3]
    build acme: test not_null_customers_customer_id ok (0.1 s) [4]
    build acme: 14 step(s) in 12.3 s

Lines never start with ``error:`` (the one line of a failure). :func:`progress_bar` is the bar alone
(nothing at all off a terminal).
"""

from __future__ import annotations

import math
import time
from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from lakehouse.cli.errors import err_console


def interactive() -> bool:
    """Whether stderr is a terminal (bars) rather than a file or a pipe (lines)."""
    return bool(err_console.is_terminal)


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


class Steps:
    """The progress of one command: a bar on a terminal, else one line per step on stderr.

    Args:
        title: what runs, e.g. ``build acme``; each line starts with it.
        total: the number of steps, if known (``[3/14]``; else ``[3]``).
        min_interval: off a terminal, seconds between two lines at least (the last step always
            gets its line); 0 prints every step.
        unit: what a step is, for the last line (``14 step(s) in 12.3 s``).
        quiet_seconds: off a terminal, no line until the command has run this long (a short run
            stays silent; a long one in a log is not); the last line only if a step's line was.
        bars: bars (True) or lines (False); None: bars when stderr is a terminal (:func:`interactive`).
    """

    def __init__(
        self,
        title: str,
        total: int | None = None,
        min_interval: float = 0.0,
        unit: str = "step(s)",
        bars: bool | None = None,
        quiet_seconds: float = 0.0,
    ) -> None:
        self.title = title
        self.unit = unit
        self.total = total
        self.done = 0
        self._min_interval = min_interval
        self._bar = progress_bar() if (interactive() if bars is None else bars) else None
        self._task: TaskID | None = None
        self._started = time.monotonic()
        self._last_line = -math.inf
        self._quiet_seconds = quiet_seconds
        self._lines = 0

    def __enter__(self) -> Steps:
        if self._bar is not None:
            self._bar.__enter__()
            self._task = self._bar.add_task(self.title, total=self.total)
        self._started = time.monotonic()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, exc, tb)
        elif kind is None and self.done and (self._lines or not self._quiet_seconds):
            self._line(f"{self.done:,} {self.unit} in {time.monotonic() - self._started:.1f} s")

    def working_on(self, description: str) -> None:
        """Show what runs now (on the bar only: lines are written when a step is done)."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=f"{self.title}: {description}")

    def step(
        self,
        description: str,
        seconds: float | None = None,
        done: int | None = None,
        total: int | None = None,
    ) -> None:
        """Record a finished step (the next one, or ``done`` steps in all) and show it."""
        self.done = self.done + 1 if done is None else done
        if total is not None:
            self.total = total
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task, description=f"{self.title}: {description}", completed=self.done, total=self.total
            )
            return
        now = time.monotonic()
        if now - self._started < self._quiet_seconds:
            return
        last = self.total is not None and self.done >= self.total
        if now - self._last_line < self._min_interval and not last:
            return
        self._last_line = now
        self._lines += 1
        took = f" ({seconds:.1f} s)" if seconds is not None else ""
        count = f"[{self.done:,}/{self.total:,}]" if self.total is not None else f"[{self.done:,}]"
        self._line(f"{description}{took} {count}")

    def _line(self, text: str) -> None:
        err_console.print(f"{self.title}: {text}", markup=False, emoji=False, highlight=False)


#: dbt's node statuses, as a line says them.
_STATUS_WORDS = {"success": "ok", "pass": "ok"}


class DbtNodeReporter:
    """dbt's node progress (a ``NodeProgress`` callback) on :class:`Steps`: the node being built on
    the bar, and one line per finished node (``model customers ok (0.8 s)``) off a terminal."""

    def __init__(self, steps: Steps) -> None:
        self._steps = steps
        self._started: dict[str, float] = {}

    def __call__(self, unique_id: str, status: str) -> None:
        kind, _, rest = unique_id.partition(".")
        name = rest.split(".", 1)[-1] if rest else unique_id
        if status == "started":
            self._started[unique_id] = time.monotonic()
            self._steps.working_on(f"dbt {kind} {name}")
            return
        began = self._started.pop(unique_id, None)
        seconds = None if began is None else time.monotonic() - began
        self._steps.step(f"{kind} {name} {_STATUS_WORDS.get(status, status)}", seconds)


class IngestReporter:
    """The ingest's progress (``BronzeIngest.run``'s ``progress``, called before each file with the
    files done so far, and once more before the commit) on :class:`Steps`: the file being read on the
    bar, and one line per file once it is done (with how long it took) off a terminal."""

    def __init__(self, steps: Steps) -> None:
        self._steps = steps
        self._current: tuple[str, float] | None = None

    def __call__(self, label: str, done: int, total: int) -> None:
        if self._current is not None and done > 0:
            finished, began = self._current
            self._steps.step(finished, time.monotonic() - began, done=done, total=total)
        self._steps.working_on(label)
        self._current = (label, time.monotonic())
