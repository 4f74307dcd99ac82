"""Reading a legacy file through its mapping: rows in, canonical records (or reasons) out."""

from __future__ import annotations

import codecs
import csv
import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from ._import_mapping import (
    _FIELDS,
    _MAPPING_KEYS,
    ImportMappingError,
    _columns,
    _delimiter,
    _encoding,
    _format_of,
    _target_problem,
    _text,
    _texts,
    _value_problems,
    _values,
    _zone,
)
from ._models import CenterInfo

_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%f", "%p", "%z", "%c", "%X")
#: Distinct legacy dates remembered at once (a file of dates repeats them a lot).
DATE_CACHE = 10_000
#: The largest CSV cell read (the ``csv`` module's default is 128 KB).
FIELD_LIMIT = 1 << 20


@dataclass(frozen=True)
class _Entry:
    """One mapped column: where it goes, where it comes from, and how its values translate."""

    target: str  # a field of _FIELDS, "<topic>.<channel>" or "frequency.<topic>"
    column: str
    values: Mapping[str, Any] | None = None
    folded: Mapping[str, Any] | None = None  # the same map, keys case-folded

    def value(self, raw: str, row: int) -> Any:
        """The record's value for a non-empty cell (or one the map lists ``""`` for)."""
        if self.values is None:
            return raw
        if raw in self.values:
            return self.values[raw]
        folded = (self.folded or {}).get(raw.casefold(), _MISSING)
        if folded is _MISSING:
            known = ", ".join(sorted(repr(k) for k in self.values))
            raise _Rejected(f"row {row}: column {self.column}: {raw!r} is not in values.{self.target} ({known})")
        return folded


_MISSING = object()


class _Rejected(Exception):
    """A row the mapping cannot read (its reason is the message)."""


class _Reader:
    """A file and its mapping: rows in, canonical records (or reasons) out."""

    def __init__(self, path: str | os.PathLike[str], mapping: Mapping[str, Any] | None) -> None:
        self.path = Path(path)
        if mapping is not None and not isinstance(mapping, Mapping):
            raise ImportMappingError(f"a mapping is a table of keys (a dict), not {type(mapping).__name__}")
        mapping = dict(mapping or {})
        unknown = set(mapping) - _MAPPING_KEYS
        if unknown:
            raise ImportMappingError(f"unknown mapping keys {sorted(unknown)}; known: {sorted(_MAPPING_KEYS)}")
        self.format = mapping.get("format") or _format_of(self.path)
        if self.format not in ("csv", "jsonl"):
            raise ImportMappingError(f"format must be csv or jsonl (got {self.format!r})")
        self.delimiter = _delimiter(mapping.get("delimiter", ","))
        self.encoding = _encoding(mapping.get("encoding", "utf-8-sig"))
        self.separator = _text("separator", mapping.get("separator", ";"))
        self.legacy_source = None if mapping.get("legacy_source") is None else _text(
            "legacy_source", mapping["legacy_source"])
        self.date_formats = _texts("date_formats", mapping.get("date_formats") or ())
        self.zone = _zone(mapping.get("timezone", "UTC"))
        self.columns: dict[str, str] | None = _columns(mapping["columns"]) if "columns" in mapping else None
        self.values: dict[str, Mapping[str, Any]] = _values(mapping.get("values") or {})
        if self.columns is not None and "external_id" not in self.columns:
            raise ImportMappingError("columns.external_id is required: the column holding your CRM id")
        self.center: CenterInfo | None = None
        self.entries: list[_Entry] = []
        self._dates: dict[str, str] = {}
        self.seen: dict[str, int] = {}  # external id -> the first row that has it
        self.seen_emails: dict[str, int] = {}  # e-mail address (lower case) -> the first row that has it

    # -- checks, before anything is sent ----------------------------------------------------

    def check(self, center: CenterInfo) -> None:
        """Refuse a mapping that names a topic, channel, frequency, interest or locale the center lacks.

        Columns taken from the file's header (no ``columns`` in the mapping) are checked
        when the header is read, still before anything is sent.
        """
        self.center = center
        targets = set(self.columns or {}) | (set(self.values) - {"states", "frequencies"})
        problems = [p for p in (_target_problem(center, t) for t in sorted(targets)) if p]
        for target, values in self.values.items():
            problems.extend(_value_problems(center, target, values))
        if problems:
            raise ImportMappingError("the mapping does not fit this center: " + "; ".join(problems))

    # -- rows ---------------------------------------------------------------------------------

    def batches(self, size: int) -> Iterator[tuple[list[dict[str, Any]], list[tuple[int, str]], int]]:
        """(records to send, rows rejected here, rows read) for every ``size`` records."""
        records: list[dict[str, Any]] = []
        rejected: list[tuple[int, str]] = []
        rows = 0
        for row, record in self.rows():
            rows += 1
            if isinstance(record, str):
                rejected.append((row, record))
                continue
            records.append(record)
            if len(records) == size:
                yield records, rejected, rows
                records, rejected, rows = [], [], 0
        if records or rejected or rows:
            yield records, rejected, rows

    def rows(self) -> Iterator[tuple[int, Any]]:
        for row, record in (self._csv_rows() if self.format == "csv" else self._jsonl_rows()):
            if isinstance(record, dict):
                record = self._unique(row, record)
            yield row, record

    def count(self) -> int | None:
        """The rows :meth:`rows` will yield, by a quick read of the file alone (for a progress total).

        None when the file cannot be read that way: the real read then says why.
        """
        try:
            if self.format == "csv":
                if csv.field_size_limit() < FIELD_LIMIT:
                    csv.field_size_limit(FIELD_LIMIT)
                with open(self.path, newline="", encoding=self.encoding) as stream:
                    return max(sum(1 for cells in csv.reader(stream, delimiter=self.delimiter) if cells) - 1, 0)
            with open(self.path, encoding=self.encoding) as stream:
                return sum(1 for line in stream if line.strip())
        except (OSError, csv.Error, UnicodeDecodeError):
            return None

    def _unique(self, row: int, record: dict[str, Any]) -> dict[str, Any] | str:
        """The record, unless its external id or e-mail address came in an earlier row (then that one wins).

        Checked here, across the whole file, so the outcome does not depend on where the
        batches happen to split nor on the order in which they commit.
        """
        external_id = record.get("external_id")
        if not isinstance(external_id, str) or not external_id:
            return f"row {row}: external_id: empty"
        first = self.seen.setdefault(external_id, row)
        if first != row:
            return f"row {row}: external_id: already in row {first}"
        email = record.get("email")
        if isinstance(email, str) and email:
            first = self.seen_emails.setdefault(email.strip().lower(), row)
            if first != row:
                return f"row {row}: email: already in row {first}"
        return record

    def _csv_rows(self) -> Iterator[tuple[int, Any]]:
        if csv.field_size_limit() < FIELD_LIMIT:
            csv.field_size_limit(FIELD_LIMIT)
        row = 0  # the last row read whole: an error is in the next one
        with open(self.path, newline="", encoding=self.encoding) as stream:
            reader = csv.reader(stream, delimiter=self.delimiter)
            try:
                header = next(reader, None)
                if header is None:
                    return
                row = 1
                self._bind(header)
                for row, cells in enumerate(reader, start=2):  # row 1 is the header, as a spreadsheet shows it
                    if not cells:
                        continue
                    yield row, self._record(row, cells)
            except csv.Error as error:
                raise ImportMappingError(
                    f"{self.path.name}: row {row + 1} cannot be read as CSV ({error}): a cell is read up to "
                    f"{FIELD_LIMIT // (1 << 20)} MB; is a quote left open, or is the delimiter not "
                    f"{self.delimiter!r}?") from None
            except UnicodeDecodeError as error:
                raise self._not_text(error) from None

    def _jsonl_rows(self) -> Iterator[tuple[int, Any]]:
        with open(self.path, encoding=self.encoding) as stream:
            try:
                yield from self._json_lines(stream)
            except UnicodeDecodeError as error:
                raise self._not_text(error) from None

    def _json_lines(self, stream: Any) -> Iterator[tuple[int, Any]]:
        bound = False
        for row, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                yield row, f"row {row}: not JSON: {exc}"
                continue
            if not isinstance(item, dict):
                yield row, f"row {row}: not a JSON object"
                continue
            if self.columns is None:  # canonical records: sent as they are
                yield row, {**item, "row": row}
                continue
            if not bound:
                self._bind(list(self.columns.values()), strict=False)
                bound = True
            yield row, self._record(row, [_cell(item.get(column), self.separator) for column in self._names])

    def _not_text(self, error: UnicodeDecodeError) -> ImportMappingError:
        """Where the file stops being text in the mapping's encoding, and what to do about it."""
        line = _first_undecodable_line(self.path, self.encoding)
        byte = error.object[error.start:error.start + 1].hex() if error.object else "?"
        return ImportMappingError(
            f"{self.path.name}: line {line} is not {self.encoding} text (byte 0x{byte}): say the file's encoding "
            'in the mapping, e.g. encoding = "cp1252" (Excel on Windows) or encoding = "latin-1"')

    def _bind(self, header: list[str], *, strict: bool = True) -> None:
        """Resolve the mapping's columns to positions in ``header``."""
        columns = self.columns if self.columns is not None else {
            name: name for name in header if name in _FIELDS or "." in name}
        if "external_id" not in columns:
            raise ImportMappingError("no external_id column: name the column holding your CRM id in "
                                     "columns.external_id")
        if self.columns is None and self.center is not None:
            problems = [p for p in (_target_problem(self.center, t) for t in columns) if p]
            if problems:
                raise ImportMappingError(f"the columns of {self.path.name} do not fit this center: "
                                         + "; ".join(problems))
        missing = sorted(c for c in columns.values() if c not in header)
        if strict and missing:
            raise ImportMappingError(f"columns not in {self.path.name}: {', '.join(missing)} "
                                     f"(its columns: {', '.join(header)})")
        counts = Counter(header)
        twice = sorted({c for c in columns.values() if counts[c] > 1})
        if strict and twice:
            raise ImportMappingError(f"{self.path.name} has more than one column named {', '.join(twice)}: "
                                     "rename or remove the copies, so that it is clear which one to read")
        self._names = list(header)
        position = {name: i for i, name in enumerate(header)}
        self.entries = []
        for target, column in columns.items():
            values = self.values.get(target)
            if values is None and target.count(".") == 1 and not target.startswith("frequency."):
                values = self.values.get("states")
            elif values is None and target.startswith("frequency."):
                values = self.values.get("frequencies")
            folded = {str(k).casefold(): v for k, v in values.items()} if values is not None else None
            self.entries.append(_Entry(target, column, values, folded))
        self._positions = [position[e.column] for e in self.entries]

    def _record(self, row: int, cells: list[str]) -> dict[str, Any] | str:
        record: dict[str, Any] = {"row": row}
        if self.legacy_source is not None:
            record["legacy_source"] = self.legacy_source
        try:
            for entry, at in zip(self.entries, self._positions, strict=True):
                raw = cells[at].strip() if at < len(cells) else ""
                if not raw and (entry.values is None or "" not in entry.values):
                    continue
                self._put(record, entry, raw, row)
        except _Rejected as rejected:
            return str(rejected)
        return record

    def _put(self, record: dict[str, Any], entry: _Entry, raw: str, row: int) -> None:
        target = entry.target
        if target == "interests":
            items = [i.strip() for i in raw.split(self.separator) if i.strip()]
            record["interests"] = sorted({entry.value(i, row) for i in items})
            return
        value = entry.value(raw, row)
        if target == "legacy_date":
            value = self._date(value, entry.column, row)
        elif target == "suppressed":
            value = _boolean(value, entry.column, row)
        if "." not in target:
            record[target] = value
        elif target.startswith("frequency."):
            record.setdefault("frequencies", {})[target.removeprefix("frequency.")] = value
        else:
            topic, channel = target.split(".")
            record.setdefault("subscriptions", {}).setdefault(topic, {})[channel] = value

    def _date(self, raw: Any, column: str, row: int) -> str:
        """A legacy date as the API takes it: ``2019-04-02``, or an ISO time with its offset."""
        known = self._dates.get(raw)
        if known is None:
            if len(self._dates) >= DATE_CACHE:  # timestamps are mostly distinct: keep memory flat
                self._dates.clear()
            known = self._dates[raw] = self._parse_date(str(raw)) or ""
        if not known:
            formats = ", ".join(self.date_formats) or "ISO 8601, e.g. 2019-04-02"
            raise _Rejected(f"row {row}: column {column}: {raw!r} is not a date ({formats})")
        return known

    def _parse_date(self, raw: str) -> str | None:
        for parse, with_time in self._parsers():
            try:
                moment = parse(raw)
            except ValueError:
                continue
            if not with_time or not isinstance(moment, datetime):  # a date alone
                return (moment.date() if isinstance(moment, datetime) else moment).isoformat()
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.zone)
            return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        return None

    def _parsers(self) -> list[tuple[Callable[[str], date], bool]]:
        """``(parse, whether it reads a time too)`` for each date format; a ``datetime`` is a ``date``."""
        if not self.date_formats:
            return [(_iso_date_or_time, True)]
        return [(_strptime(f), any(d in f for d in _TIME_DIRECTIVES)) for f in self.date_formats]


def _iso_date_or_time(text: str) -> date:
    return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)


def _strptime(date_format: str) -> Callable[[str], date]:
    return lambda text: datetime.strptime(text, date_format)


def _first_undecodable_line(path: Path, encoding: str) -> int:
    """The line (from 1) where ``encoding`` fails on the file's bytes."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with open(path, "rb") as stream:
        for chunk in stream:
            try:
                line += decoder.decode(chunk).count("\n")
            except UnicodeDecodeError:
                return line
    return line


def _cell(value: Any, separator: str) -> str:
    """A JSON value as a cell's text (a list, of interests, joined with the separator)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return separator.join(str(v) for v in value)
    return str(value)


def _boolean(value: Any, column: str, row: int) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise _Rejected(f"row {row}: column {column}: {value!r} is not yes or no (map it in values.suppressed)")
