"""Progress of long work (training, evaluation, benchmarks) on stderr, drawn by rich."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn
from rich.progress import TimeElapsedColumn, TimeRemainingColumn

_CONSOLE = Console(stderr=True)


class Progress:
    """A bar for `total` steps (None: a count with no end known): `update(n, info)` advances it,
    `close()` ends it. On a terminal rich redraws it in place; elsewhere (a log file) it is one
    line when the work is done. Disabled, it shows nothing."""

    def __init__(self, total: int | None, label: str = "", enabled: bool = True):
        self._bar, self._enabled, self._label = None, enabled, label
        self._done, self._info, self._start = 0, "", time.monotonic()
        if enabled and _CONSOLE.is_terminal:
            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                     console=_CONSOLE)
            self._task = self._bar.add_task(label, total=None if total is None else max(1, total), info="")
            self._bar.start()

    def update(self, n: int = 1, info: str = "") -> None:
        self._done, self._info = self._done + n, info
        if self._bar is not None:
            self._bar.update(self._task, advance=n, info=info)

    def close(self, finished: bool = True) -> None:
        """End the bar; unfinished (an error), it is taken off the screen, so that the error is
        the only line left."""
        if self._bar is not None:
            self._bar.live.transient = not finished
            self._bar.stop()
        elif self._enabled and finished:
            note(f"{self._label}: {self._done} done in {time.monotonic() - self._start:.1f} s  {self._info}".rstrip())
        self._bar, self._enabled = None, False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, error_type, *_) -> None:
        self.close(finished=error_type is None)


def note(message: str, quiet: bool = False) -> None:
    """One line of what long work is doing, on stderr."""
    if not quiet:
        _CONSOLE.print(message, highlight=False, markup=False, soft_wrap=True)
