"""Append-only files: a JSON-lines journal of the feed, or a flat CSV of every change.

Both are idempotent the same way: ids only grow, so the last id in the file says what is
already there, and an event at or below it is skipped. Opening a file first cuts a torn
last line (a crash in the middle of a write, before the fsync that would have let the
write return): those events were never acknowledged, so the cursor was not saved and they
come again.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Sequence

from .._models import Event
from .._sync import fsync_directory

__all__ = ["CSV_COLUMNS", "CsvSink", "JsonLinesSink", "event_json"]

log = logging.getLogger("preference_sdk.sync")

#: The columns of ``CsvSink``, one row per change, in this order unless ``columns=`` says otherwise.
CSV_COLUMNS = ("id", "occurred_at", "subscriber_id", "external_id", "source", "actor", "path", "from", "to")

_CHUNK = 64 * 1024


def wire_time(moment: datetime) -> str:
    """An instant as the API writes it: UTC, ``Z``, milliseconds unless finer ones are set."""
    moment = moment.astimezone(timezone.utc)
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def event_json(event: Event) -> dict[str, Any]:
    """An event in the API's wire format (``docs/API.md``, "The change feed")."""
    return {
        "id": event.id,
        "subscriber_id": event.subscriber_id,
        "external_id": event.external_id,
        "center": event.center,
        "version": event.version,
        "occurred_at": wire_time(event.occurred_at),
        "source": event.source,
        "actor": event.actor,
        "locale": event.locale,
        "notice_version": event.notice_version,
        "changes": [{"path": c.path, "from": c.before, "to": c.after} for c in event.changes],
        "evidence": None if event.evidence is None else dict(event.evidence),
    }


class _AppendOnlyFile:
    """What both sinks share: open once, learn the last id, append, flush and fsync."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.last_id: int | None = None  # known once the file is opened
        self._handle: IO[str] | None = None

    def write(self, events: Sequence[Event]) -> None:
        """Append the events after the file's last id; return once they are on disk."""
        handle = self._open()
        last = self.last_id or 0
        fresh = [e for e in sorted(events, key=lambda e: e.id) if e.id > last]
        if not fresh:
            return
        try:
            handle.write("".join(self._lines(fresh)))
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            self.close()  # the next write reopens, cuts a torn line and reads the last id again
            raise
        self.last_id = fresh[-1].id

    def close(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.close()

    def __enter__(self):  # noqa: ANN204
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _open(self) -> IO[str]:
        if self._handle is not None:
            return self._handle
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists()
        first, last = _recover(self.path) if existed else (None, None)
        self._check_header(first)
        self.last_id = self._last_id(last) if last is not None else 0
        handle = open(self.path, "a", encoding="utf-8", newline="")
        self._handle = handle
        if first is None:
            self._start(handle)
            fsync_directory(self.path.parent)
        return handle

    # What the two formats decide.
    def _lines(self, events: Sequence[Event]) -> list[str]:
        raise NotImplementedError

    def _last_id(self, line: str) -> int:
        raise NotImplementedError

    def _check_header(self, first: str | None) -> None:
        """A file written with other columns is refused rather than mixed."""

    def _start(self, handle: IO[str]) -> None:
        """Begin a new, empty file (the CSV header)."""


class JsonLinesSink(_AppendOnlyFile):
    """One line per event, in the API's wire format: a replayable local journal of the feed."""

    def _lines(self, events: Sequence[Event]) -> list[str]:
        return [json.dumps(event_json(e), ensure_ascii=False, separators=(",", ":")) + "\n" for e in events]

    def _last_id(self, line: str) -> int:
        try:
            return int(json.loads(line)["id"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{self.path}: the last line is not an event of the feed ({error}); "
                             "is this the right file?") from None

    def __repr__(self) -> str:
        return f"JsonLinesSink({str(self.path)!r})"


class CsvSink(_AppendOnlyFile):
    """One row per change (an event that changes nothing still gets one row, so its id is kept).

    Lists (``interests``) are comma-joined, booleans ``true``/``false``, none an empty cell;
    line breaks inside a value become spaces, so each row is one line. ``columns`` picks and
    orders among ``CSV_COLUMNS``; ``id`` is required (it is how replays are recognised).
    """

    def __init__(self, path: str | os.PathLike[str], *, columns: Sequence[str] = CSV_COLUMNS) -> None:
        super().__init__(path)
        unknown = [c for c in columns if c not in CSV_COLUMNS]
        if unknown or "id" not in columns:
            raise ValueError(f"CsvSink columns are chosen among {', '.join(CSV_COLUMNS)} and must include id; "
                             f"got {', '.join(columns)}")
        self.columns = tuple(columns)

    def _lines(self, events: Sequence[Event]) -> list[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for event in events:
            for change in event.changes or (None,):
                writer.writerow([_cell(_FIELDS[name](event, change)) for name in self.columns])
        return [buffer.getvalue()]

    def _start(self, handle: IO[str]) -> None:
        handle.write(_csv_line(self.columns))
        handle.flush()
        os.fsync(handle.fileno())

    def _check_header(self, first: str | None) -> None:
        if first is not None and first != _csv_line(self.columns).rstrip("\n"):
            raise ValueError(f"{self.path} has the columns {first!r}, not {','.join(self.columns)!r}: "
                             "write to a new file, or pass the file's columns")

    def _last_id(self, line: str) -> int:
        row = next(csv.reader([line]))
        cell = row[self.columns.index("id")]
        return 0 if cell == "id" else int(cell)  # only the header: nothing written yet

    def __repr__(self) -> str:
        return f"CsvSink({str(self.path)!r})"


_FIELDS: dict[str, Callable[[Event, Any], Any]] = {
    "id": lambda e, c: e.id,
    "occurred_at": lambda e, c: wire_time(e.occurred_at),
    "subscriber_id": lambda e, c: e.subscriber_id,
    "external_id": lambda e, c: e.external_id,
    "source": lambda e, c: e.source,
    "actor": lambda e, c: e.actor,
    "path": lambda e, c: c.path if c else None,
    "from": lambda e, c: c.before if c else None,
    "to": lambda e, c: c.after if c else None,
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, sort_keys=True)
    return " ".join(str(value).splitlines())


def _csv_line(values: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def _recover(path: Path) -> tuple[str | None, str | None]:
    """The first and the last complete lines, after cutting a torn last line off the file."""
    with open(path, "r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        end = _last_newline(handle, size) + 1
        if end != size:
            log.warning("%s: cut a torn last line of %d bytes (a write that never returned)", path, size - end)
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
        if end == 0:
            return None, None
        start = _last_newline(handle, end - 1) + 1
        handle.seek(start)
        last = handle.read(end - start)
        handle.seek(0)
        first = handle.readline()
    return first.decode("utf-8").rstrip("\r\n"), last.decode("utf-8").rstrip("\r\n")


def _last_newline(handle: IO[bytes], before: int) -> int:
    """The offset of the last ``\\n`` before ``before``, or -1: read backwards, a chunk at a time."""
    position = before
    while position > 0:
        start = max(0, position - _CHUNK)
        handle.seek(start)
        found = handle.read(position - start).rfind(b"\n")
        if found >= 0:
            return start + found
        position = start
    return -1
