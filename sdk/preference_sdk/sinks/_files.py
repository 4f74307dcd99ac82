"""Append-only files: a JSON-lines journal of the feed, or a flat CSV of every change.

Both are idempotent the same way: ids only grow, so the last id in the file says what is
already there, and an event at or below it is skipped. That only holds within one
center's feed (event ids are shared by every center), so a file holds one center: its
last event says which, and events of another center are refused with ``SinkError``.

A write that fails (a full disk) is cut off again before ``write`` raises. Opening a file
also cuts what a crash left (a torn last line, or in CSV the first rows of an event whose
other rows never made it, as ``part`` says: ``2/3`` is row 2 of 3): those events were never
acknowledged, so the cursor was not saved and they come again, whole.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Self, Sequence

from .._models import Change, Event
from .._sync import SinkError, fsync_directory

__all__ = ["CSV_COLUMNS", "CsvSink", "JsonLinesSink", "change_json", "event_json"]

log = logging.getLogger("preference_sdk.sync")

#: The columns of ``CsvSink``, one row per change, in this order unless ``columns=`` says otherwise;
#: ``legal_basis``, ``since`` and ``until`` are a subscription change's basis (empty on other paths).
CSV_COLUMNS = ("id", "part", "center", "occurred_at", "subscriber_id", "external_id", "source", "actor", "path",
               "from", "to", "legal_basis", "since", "until")
#: The default columns before SDK 0.3: a file begun with them goes on with them.
CSV_COLUMNS_0_2 = CSV_COLUMNS[:11]
#: The columns a ``CsvSink`` cannot do without: how replays, centers and cut writes are recognised.
CSV_REQUIRED = ("id", "part", "center")

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
        "changes": [change_json(c) for c in event.changes],
        "evidence": None if event.evidence is None else dict(event.evidence),
    }


def change_json(change: Change) -> dict[str, Any]:
    """A change as the feed writes it: with its ``basis`` when it is a subscription's."""
    shown: dict[str, Any] = {"path": change.path, "from": change.before, "to": change.after}
    if change.basis is not None:
        basis = change.basis
        shown["basis"] = {"legal_basis": basis.legal_basis, "since": wire_time(basis.since),
                          "until": wire_time(basis.until) if basis.until else None, "reason": basis.reason}
    return shown


class _AppendOnlyFile:
    """What both sinks share: open once, learn the last id and the center, append, fsync."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.last_id: int | None = None  # known once the file is opened
        self.center: str | None = None  # whose feed the file holds, once it holds an event
        self._handle: IO[bytes] | None = None

    def write(self, events: Sequence[Event]) -> None:
        """Append the events after the file's last id; return once they are on disk."""
        handle = self._open()
        events = sorted(events, key=lambda e: e.id)
        self._check_center(events)
        last = self.last_id or 0
        fresh = [e for e in events if e.id > last]
        if not fresh:
            return
        data = "".join(self._lines(fresh)).encode("utf-8")
        size = os.fstat(handle.fileno()).st_size
        try:
            _write_all(handle, data)
            os.fsync(handle.fileno())
        except BaseException:
            self._cut_back(handle, size)
            raise
        self.last_id, self.center = fresh[-1].id, fresh[-1].center

    def close(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_center(self, events: Sequence[Event]) -> None:
        center = self.center or (events[0].center if events else None)
        other = next((e for e in events if e.center != center), None)
        if other is None:
            return
        holds = "holds the feed of" if self.center else "was given events of"
        raise SinkError(f"{self.path} {holds} center {center!r}, and event {other.id} is of center "
                        f"{other.center!r}: event ids are shared by every center, so one file can follow only one "
                        "center's feed; write each center to its own file")

    def _cut_back(self, handle: IO[bytes], size: int) -> None:
        """Undo a write that failed part-way, so a replay writes its events whole; then reopen next time."""
        try:
            os.ftruncate(handle.fileno(), size)
            os.fsync(handle.fileno())
        except OSError as error:  # the next open still cuts what it can recognise
            log.warning("%s: could not cut a failed write back (%s)", self.path, error.strerror or error)
        self.close()

    def _open(self) -> IO[bytes]:
        if self._handle is not None:
            return self._handle
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists()
        first, last = _recover(self.path) if existed else (None, None)
        self._check_header(first)
        if last is not None:
            last = self._complete(last)
        self.last_id, self.center = self._last_event(last) if last is not None else (0, None)
        handle = open(self.path, "ab", buffering=0)  # noqa: SIM115 - held open until close()
        self._handle = handle
        if first is None:
            try:
                self._start(handle)
            except BaseException:
                self._cut_back(handle, 0)
                raise
            fsync_directory(self.path.parent)
        return handle

    # What the two formats decide.
    def _lines(self, events: Sequence[Event]) -> list[str]:
        raise NotImplementedError

    def _last_event(self, line: str) -> tuple[int, str | None]:
        """The id and the center of the file's last line (0 and None for a header)."""
        raise NotImplementedError

    def _complete(self, last: str) -> str:
        """Cut the rows of an event the file holds only in part; the new last line."""
        return last

    def _check_header(self, first: str | None) -> None:
        """A file written with other columns is refused rather than mixed."""

    def _start(self, handle: IO[bytes]) -> None:
        """Begin a new, empty file (the CSV header)."""


class JsonLinesSink(_AppendOnlyFile):
    """One line per event, in the API's wire format: a replayable local journal of the feed."""

    def _lines(self, events: Sequence[Event]) -> list[str]:
        return [json.dumps(event_json(e), ensure_ascii=False, separators=(",", ":")) + "\n" for e in events]

    def _last_event(self, line: str) -> tuple[int, str | None]:
        try:
            item = json.loads(line)
            return int(item["id"]), str(item["center"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{self.path}: the last line is not an event of the feed ({error}); "
                             "is this the right file?") from None

    def __repr__(self) -> str:
        return f"JsonLinesSink({str(self.path)!r})"


class CsvSink(_AppendOnlyFile):
    """One row per change (an event that changes nothing still gets one row, so its id is kept).

    Lists (``interests``) are comma-joined, booleans ``true``/``false``, none an empty cell;
    line breaks inside a value become spaces, so each row is one line. ``columns`` picks and
    orders among ``CSV_COLUMNS``; ``id``, ``part`` and ``center`` are required: ``id`` is how
    replays are recognised, ``part`` (``k/n``: row k of the event's n rows) how an event cut
    short by a crash is, and ``center`` whose feed the file holds.
    """

    def __init__(self, path: str | os.PathLike[str], *, columns: Sequence[str] | None = None) -> None:
        super().__init__(path)
        self._default = columns is None
        columns = CSV_COLUMNS if columns is None else columns
        unknown = [c for c in columns if c not in CSV_COLUMNS]
        if unknown or any(c not in columns for c in CSV_REQUIRED) or len(set(columns)) != len(columns):
            raise ValueError(f"CsvSink columns are chosen among {', '.join(CSV_COLUMNS)}, once each, and must "
                             f"include {', '.join(CSV_REQUIRED)}; got {', '.join(columns)}")
        self.columns = tuple(columns)
        self._id, self._part, self._center = (self.columns.index(c) for c in CSV_REQUIRED)

    def _lines(self, events: Sequence[Event]) -> list[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for event in events:
            changes = event.changes or (None,)
            for k, change in enumerate(changes, start=1):
                part = f"{k}/{len(changes)}"
                writer.writerow([part if name == "part" else _cell(_FIELDS[name](event, change))
                                 for name in self.columns])
        return [buffer.getvalue()]

    def _start(self, handle: IO[bytes]) -> None:
        _write_all(handle, _csv_line(self.columns).encode("utf-8"))
        os.fsync(handle.fileno())

    def _check_header(self, first: str | None) -> None:
        if self._default and first == _csv_line(CSV_COLUMNS_0_2).rstrip("\n"):
            self.columns = CSV_COLUMNS_0_2  # begun by an older SDK: its rows go on as they were
        if first is not None and first != _csv_line(self.columns).rstrip("\n"):
            header = set(next(csv.reader([first])))
            why = ("it was written before CsvSink had the columns part and center (SDK 0.1): start a new file"
                   if not {"part", "center"} <= header else "start a new file, or pass the file's columns")
            raise ValueError(f"{self.path} has the columns {first!r}, not {','.join(self.columns)!r}: {why}")

    def _row(self, line: str) -> list[str]:
        row = next(csv.reader([line]))
        if len(row) != len(self.columns):
            raise ValueError(f"{self.path}: the last row has {len(row)} cells, not {len(self.columns)}; "
                             "is this the right file?")
        return row

    def _last_event(self, line: str) -> tuple[int, str | None]:
        row = self._row(line)
        if row[self._id] == "id":
            return 0, None  # only the header: nothing written yet
        return int(row[self._id]), row[self._center] or None

    def _complete(self, last: str) -> str:
        row = self._row(last)
        if row[self._id] == "id":
            return last
        k, n = _part(row[self._part], self.path)
        if k == n:
            return last
        # Rows k, k-1... 1 of this event end the file: cut them, the event comes again whole.
        return _cut_last_lines(self.path, k, lambda line: self._row(line)[self._id] == row[self._id])

    def __repr__(self) -> str:
        return f"CsvSink({str(self.path)!r})"


def _part(cell: str, path: Path) -> tuple[int, int]:
    k, slash, n = cell.partition("/")
    if not (slash and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise ValueError(f"{path}: the last row's part is {cell!r}, not k/n; is this the right file?")
    return int(k), int(n)


def _write_all(handle: IO[bytes], data: bytes) -> None:
    """All of ``data``, however many calls the operating system takes."""
    view = memoryview(data)
    while view:
        written = handle.write(view)
        view = view[written:]


_FIELDS: dict[str, Callable[[Event, Any], Any]] = {
    "id": lambda e, c: e.id,
    "center": lambda e, c: e.center,
    "occurred_at": lambda e, c: wire_time(e.occurred_at),
    "subscriber_id": lambda e, c: e.subscriber_id,
    "external_id": lambda e, c: e.external_id,
    "source": lambda e, c: e.source,
    "actor": lambda e, c: e.actor,
    "path": lambda e, c: c.path if c else None,
    "from": lambda e, c: c.before if c else None,
    "to": lambda e, c: c.after if c else None,
    "legal_basis": lambda e, c: c.basis.legal_basis if c and c.basis else None,
    "since": lambda e, c: wire_time(c.basis.since) if c and c.basis else None,
    "until": lambda e, c: wire_time(c.basis.until) if c and c.basis and c.basis.until else None,
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


def _cut_last_lines(path: Path, count: int, belongs: Callable[[str], bool]) -> str:
    """Cut the file's last ``count`` lines, each of which must satisfy ``belongs``; the new last line."""
    with open(path, "r+b") as handle:
        end = handle.seek(0, os.SEEK_END)
        cut = end
        for _ in range(count):
            start = _last_newline(handle, cut - 1) + 1
            handle.seek(start)
            line = handle.read(cut - start).decode("utf-8").rstrip("\r\n")
            if start == 0 or not belongs(line):
                raise ValueError(f"{path}: the last event's rows are not together at the end; is this the right file?")
            cut = start
        log.warning("%s: cut the first %d rows of event whose other rows never made it to disk "
                    "(a write that never returned)", path, count)
        handle.truncate(cut)
        handle.flush()
        os.fsync(handle.fileno())
        start = _last_newline(handle, cut - 1) + 1
        handle.seek(start)
        return handle.read(cut - start).decode("utf-8").rstrip("\r\n")


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
