"""Keep a host system (a CRM table, a file, a CRM's HTTP API) in step with the change feed.

The loop is small on purpose, because its order is the whole guarantee::

    cursor = store.load()
    page = source.events(after=cursor, limit=batch)
    sink.write(page.events)        # durable when it returns, idempotent by event id
    store.save(page.next_cursor)   # only now

A crash anywhere re-reads at most the last page, and the sink skips what it already
holds, so the host ends in exactly the state of a run that never stopped. A sink that
raises stops the run before the checkpoint: fix the cause and run it again.

Event ids are global across centers, so a cursor is one center's: a store that can
(``bind_center``) remembers whose it is and refuses to resume another center's feed from
it, which would skip that center's events below the cursor without a word.
"""

from __future__ import annotations

import inspect
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol, Sequence, runtime_checkable

import anyio
import anyio.to_thread

from ._exceptions import PreferenceSDKError
from ._models import Event, FeedPage

__all__ = [
    "AsyncFeedSource",
    "CursorStore",
    "FeedSource",
    "FileCursorStore",
    "MemoryCursorStore",
    "Sink",
    "SinkError",
    "SyncReport",
    "async_sync",
    "sync",
]

log = logging.getLogger("preference_sdk.sync")

#: ``stop=``: a ``threading.Event`` (or an asyncio or anyio ``Event`` for ``async_sync``), or a callable.
Stop = Any


class SinkError(PreferenceSDKError):
    """A sink could not store events (the CRM refused them, a column is missing...).

    Nothing was checkpointed: the next run starts again from the same events.
    """


@runtime_checkable
class FeedSource(Protocol):
    """Where events come from: the SDK's ``Client`` (``client.events``), or anything alike."""

    def events(self, *, after: int, limit: int) -> FeedPage: ...


@runtime_checkable
class AsyncFeedSource(Protocol):
    """The async twin: ``AsyncClient``."""

    async def events(self, *, after: int, limit: int) -> FeedPage: ...


@runtime_checkable
class Sink(Protocol):
    """Where events go.

    ``write`` must be idempotent by event id (an event it already holds is harmless: a crash
    between a write and its checkpoint hands it the same page again) and must return only
    once the events are durably stored. It may be ``async def`` for ``async_sync``.
    ``close()`` is optional.
    """

    def write(self, events: Sequence[Event]) -> None: ...


@runtime_checkable
class CursorStore(Protocol):
    """Where the position in the feed is kept: ``load()`` is 0 before the first run;
    ``save()`` is durable when it returns.

    Optional: ``bind_center(center)``. ``sync`` calls it with the feed's center (the
    client's ``center_id``, else the center of the first events) before it trusts the
    cursor: a store holding another center's cursor raises ``SinkError`` there, and one
    that can records the center with the cursor.
    """

    def load(self) -> int: ...

    def save(self, cursor: int) -> None: ...


class MemoryCursorStore:
    """A cursor in memory: for tests, and for a run that always starts from ``cursor``."""

    def __init__(self, cursor: int = 0) -> None:
        self.cursor = cursor

    def load(self) -> int:
        return self.cursor

    def save(self, cursor: int) -> None:
        self.cursor = cursor

    def __repr__(self) -> str:
        return f"MemoryCursorStore({self.cursor})"


class FileCursorStore:
    """The cursor in a small text file, replaced atomically on each save.

    Written to a temporary file in the same directory, fsynced, then renamed over the old
    one (and the directory fsynced), so a crash leaves either the old cursor or the new
    one, never a torn file. Once ``sync`` has told it the center, the file reads
    ``<cursor> <center>`` (``1841 maison-lumiere``), and a file of another center is
    refused; a file holding only a number (an older one) is taken as this center's.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.center: str | None = None  # whose feed this store follows, once bound
        self.stored_center: str | None = None  # whose cursor the file held when last read

    def bind_center(self, center: str) -> None:
        """Follow ``center``'s feed; raise ``SinkError`` when the file holds another center's cursor."""
        self.center = center
        _check_same_center(self.stored_center, center, self._whose)

    def load(self) -> int:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return 0
        number, _, center = text.partition(" ")
        if not number.isdigit() or any(c.isspace() for c in center):
            raise ValueError(
                f"{self.path} does not hold a feed cursor (a non-negative integer, then maybe a center id): "
                "fix or delete it (deleting replays the whole feed, which sinks skip)"
            )
        self.stored_center = center or None
        if self.center is not None:
            _check_same_center(self.stored_center, self.center, self._whose)
        return int(number)

    def save(self, cursor: int) -> None:
        if cursor < 0:
            raise ValueError(f"a feed cursor is never negative, got {cursor}")
        center = self.center or self.stored_center
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"{cursor} {center}\n" if center else f"{cursor}\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        fsync_directory(directory)
        self.stored_center = center

    def _whose(self, stored: str, center: str) -> str:
        return (f"{self.path} holds the feed cursor of center {stored!r}, not {center!r}: event ids are shared "
                "by every center, so resuming from it would skip events; give each center its own cursor file")

    def __repr__(self) -> str:
        return f"FileCursorStore({str(self.path)!r})"


def _check_same_center(stored: str | None, center: str, message: Callable[[str, str], str]) -> None:
    if stored is not None and stored != center:
        raise SinkError(message(stored, center))


def _feed_center(source: Any) -> str | None:
    """The center whose feed ``source`` reads, when it says (``Client.center_id``)."""
    center = getattr(source, "center_id", None)
    return center if isinstance(center, str) and center else None


def _bind_to_center(cursor_store: Any, center: str | None, events: Sequence[Event] = ()) -> str | None:
    """Tell the cursor store whose feed this is (once known), and refuse a page of another center.

    Returns the center, learnt from the events when the source did not say.
    """
    known = center
    for event in events:
        if center is None:
            center = event.center
        elif event.center != center:
            raise SinkError(f"the feed of center {center!r} handed over an event of {event.center!r} "
                            f"(event {event.id}): a sync follows one center's feed")
    if center is not None and (known is None or not events):
        bind = getattr(cursor_store, "bind_center", None)
        if bind is not None:
            bind(center)
    return center


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True)
class SyncReport:
    """What a run did: ``events`` handed to the sink in ``pages`` pages, ending at ``cursor``."""

    events: int
    pages: int
    cursor: int


class _Progress:
    """The part both loops share: the checkpoint rule and the counts."""

    def __init__(self, cursor: int) -> None:
        self.cursor = cursor
        self.events = 0
        self.pages = 0

    def advanced(self, page: FeedPage) -> bool:
        """Count a stored page; True when the cursor moves (so it must be saved)."""
        if page.events:
            self.events += len(page.events)
            self.pages += 1
        moved = page.next_cursor > self.cursor  # an empty page may repeat the cursor: never go back
        self.cursor = max(self.cursor, page.next_cursor)
        return moved

    def more(self, page: FeedPage, moved: bool) -> bool:
        """Read the next page at once? Only when the server says so and we moved (no busy loop)."""
        return page.has_more and moved

    def report(self) -> SyncReport:
        return SyncReport(self.events, self.pages, self.cursor)


def sync(
    source: FeedSource,
    sink: Sink,
    cursor_store: CursorStore,
    *,
    batch: int = 500,
    follow: bool = False,
    poll_interval: float = 2.0,
    stop: Stop = None,
    on_progress: Callable[[SyncReport], None] | None = None,
) -> SyncReport:
    """Hand every event after the stored cursor to ``sink``, a page at a time.

    The cursor is saved only after ``sink.write`` returned, so an exception (from the feed or
    the sink) propagates with the cursor still at the last page stored. Without ``follow``
    the run ends when the feed is up to date (a cron job); with it, it waits
    ``poll_interval`` seconds and reads again, until ``stop`` (a ``threading.Event`` or a
    callable returning True) is set. ``stop`` is checked between pages, never inside one.
    ``on_progress`` gets the report so far after each page stored (its cursor saved).
    """
    _check_batch(batch)
    should_stop, wait = _stopper(stop)
    center = _bind_to_center(cursor_store, _feed_center(source))
    progress = _Progress(cursor_store.load())
    while not should_stop():
        page = source.events(after=progress.cursor, limit=batch)
        if page.events:
            center = _bind_to_center(cursor_store, center, page.events)
            sink.write(page.events)
        moved = progress.advanced(page)
        if moved:
            cursor_store.save(progress.cursor)
            log.debug("stored %d events, cursor %d", len(page.events), progress.cursor)
            if on_progress is not None:
                on_progress(progress.report())
        if progress.more(page, moved):
            continue
        if not follow:
            break
        wait(poll_interval)
    return progress.report()


async def async_sync(
    source: AsyncFeedSource,
    sink: Any,
    cursor_store: CursorStore,
    *,
    batch: int = 500,
    follow: bool = False,
    poll_interval: float = 2.0,
    stop: Stop = None,
    on_progress: Callable[[SyncReport], None] | None = None,
) -> SyncReport:
    """``sync`` for an ``AsyncClient``, under asyncio or trio (through anyio, like the client).

    An ``async def write`` is awaited; a plain one (every sink shipped here: SQL, files,
    HTTP) runs in a worker thread, one page at a time, so its fsyncs and commits never
    block the event loop and pages still land in order. The cursor store's calls run in a
    thread too. ``stop`` may be an ``asyncio.Event`` or ``anyio.Event`` (the wait between
    polls ends as soon as it is set), a ``threading.Event`` or a callable. ``on_progress``
    (a plain function) as for ``sync``.
    """
    _check_batch(batch)
    should_stop, _ = _stopper(stop)
    write = _async_writer(sink)
    center = await anyio.to_thread.run_sync(_bind_to_center, cursor_store, _feed_center(source))
    progress = _Progress(await anyio.to_thread.run_sync(cursor_store.load))
    while not should_stop():
        page = await source.events(after=progress.cursor, limit=batch)
        if page.events:
            center = await anyio.to_thread.run_sync(_bind_to_center, cursor_store, center, page.events)
            await write(page.events)
        moved = progress.advanced(page)
        if moved:
            await anyio.to_thread.run_sync(cursor_store.save, progress.cursor)
            if on_progress is not None:
                on_progress(progress.report())
        if progress.more(page, moved):
            continue
        if not follow:
            break
        await _async_wait(stop, poll_interval)
    return progress.report()


def _check_batch(batch: int) -> None:
    if not 1 <= batch <= 1000:
        raise ValueError(f"batch must be between 1 and 1000 (the feed's page limit), got {batch}")


def _async_writer(sink: Any) -> Callable[[Sequence[Event]], Awaitable[None]]:
    write: Callable[[Sequence[Event]], object] = sink.write
    if inspect.iscoroutinefunction(write):
        return write

    async def in_thread(events: Sequence[Event]) -> None:
        await anyio.to_thread.run_sync(sink.write, events)

    return in_thread


def _stopper(stop: Stop) -> tuple[Callable[[], bool], Callable[[float], object]]:
    """``(is it set?, wait up to N seconds or until it is set)`` for any kind of ``stop``."""
    if stop is None:
        return (lambda: False), time.sleep
    if isinstance(stop, threading.Event):
        return stop.is_set, stop.wait
    if hasattr(stop, "is_set"):  # an asyncio or anyio Event: only its flag can be read from here
        return stop.is_set, time.sleep
    if callable(stop):
        return (lambda: bool(stop())), lambda seconds: _sleep_until(stop, seconds)
    raise TypeError(f"stop must be a threading.Event, an asyncio.Event or a callable, not {type(stop).__name__}")


def _sleep_until(stop: Callable[[], Any], seconds: float, *, step: float = 0.1) -> None:
    deadline = time.monotonic() + seconds
    while not stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(step, left))


async def _async_wait(stop: Stop, seconds: float) -> None:
    if stop is not None and inspect.iscoroutinefunction(getattr(stop, "wait", None)):
        with anyio.move_on_after(seconds):
            await stop.wait()
        return
    is_set, _ = _stopper(stop)
    deadline = time.monotonic() + seconds
    while not is_set() and (left := deadline - time.monotonic()) > 0:
        await anyio.sleep(min(0.1, left))
