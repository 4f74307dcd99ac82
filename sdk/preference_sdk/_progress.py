"""What a long command (``import``, ``sync``) shows a person while it runs: a total, a rate, the time left.

On a terminal it is a progress bar drawn by `rich <https://rich.readthedocs.io>`_
(``pip install 'preference-sdk[progress]'``; a server install has it already, Litestar
needs it): rows or events done of the total, their rate a second, the time elapsed and
an estimate of the time left. Without rich, a terminal gets one plain line per step
(done of total), so the SDK itself still needs only httpx and itsdangerous. When stderr
is not a terminal (cron, a pipe, a CI log) nothing is shown at all: the command's own
summary is what a log wants, not a line per batch.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import IO, Any, Callable

try:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text
except ImportError:  # an optional dependency: pip install 'preference-sdk[progress]'
    Console = None  # type: ignore[assignment,misc]

__all__ = ["Meter", "meter"]


class Meter:
    """Counts shown as they grow; ``update(done, total=)`` after each step, ``close()`` at the end.

    The base class shows nothing (not a terminal); :func:`meter` picks the right one.
    """

    #: Whether anything is shown.
    visible = False

    def __init__(self, noun: str, total: int | None) -> None:
        self.noun = noun
        self.total = total
        self.done = 0

    def update(self, done: int, *, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total

    def close(self) -> None:
        """Leave the last state on screen (nothing to do when nothing is shown)."""

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class _Lines(Meter):
    """A terminal without rich: one line per step, ``5,000 of 12,000 rows``."""

    visible = True

    def __init__(self, noun: str, total: int | None, stream: IO[str]) -> None:
        super().__init__(noun, total)
        self.stream = stream

    def update(self, done: int, *, total: int | None = None) -> None:
        super().update(done, total=total)
        of = f" of {self.total:,}" if self.total is not None else ""
        print(f"  {done:,}{of} {self.noun}", file=self.stream, flush=True)


class _Bar(Meter):
    """rich's progress bar, on stderr: done of the total, the rate, the time left (fits 80 columns)."""

    visible = True

    def __init__(self, noun: str, total: int | None, console: Any) -> None:
        super().__init__(noun, total)
        self.progress = Progress(
            BarColumn(bar_width=20), _Counts(noun), TimeRemainingColumn(), TextColumn("left"),
            console=console, transient=False, refresh_per_second=4,
        )
        self.task = self.progress.add_task(noun, total=total)
        self.progress.start()

    def update(self, done: int, *, total: int | None = None) -> None:
        super().update(done, total=total)
        self.progress.update(self.task, completed=done, total=self.total)

    def close(self) -> None:
        self.progress.stop()


if Console is not None:
    class _Counts(ProgressColumn):
        """``19,000 of 20,000 rows, 5,547/s``: rich measures the rate over the last 30 s (none until it can)."""

        def __init__(self, noun: str) -> None:
            super().__init__()
            self.noun = noun

        def render(self, task: Task) -> Text:
            of = "" if task.total is None else f" of {task.total:,.0f}"
            speed = task.finished_speed or task.speed
            rate = "" if speed is None else f", {speed:,.0f}/s"
            return Text(f"{task.completed:,.0f}{of} {self.noun}{rate}", style="progress.download", no_wrap=True)


def meter(noun: str, total: Callable[[], int | None], *, stream: IO[str] | None = None,
          enabled: bool = True) -> Meter:
    """The meter for ``stream`` (stderr): rich's bar on a terminal, plain lines without rich, else nothing.

    ``total`` is called only when something is shown: counting may cost a read of the file.
    """
    stream = sys.stderr if stream is None else stream
    if not enabled or not _is_terminal(stream):
        return Meter(noun, None)
    if Console is None:
        return _Lines(noun, total(), stream)
    return _Bar(noun, total(), Console(file=stream, force_terminal=True))


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False
