"""An import batch's body (JSON lines) read and checked row by row against the center.

A bad row does not fail the batch: it is set aside with a reason that names the row and
the path (``row 17: subscriptions.offers.fax: this topic is offered on email, sms``) and
the other rows go on. Only a body in which no line is a JSON object is refused whole
(``400``): that is not an import batch at all (a JSON array, a CSV file...).

The choices of a row are checked by :func:`.choices.desired`, the API's own rules, and
applied as a ``PATCH``: what a row leaves out stays as it is. Legacy files repeat the
same few subscriptions, frequencies and interests, so each distinct text of each is
decoded, checked and applied to an empty state once per batch, and the rows that share
it share the result (``store.imports.Row.parts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timezone
from functools import lru_cache
from typing import Annotated, Any, get_args

import msgspec
from msgspec import UNSET, Meta, Struct

from .... import countries
from ....centers.model import Center
from ....errors import BadRequest, InvalidValues
from ....preferences import Preferences
from ....store.imports import Row, paused_gc
from . import choices
from .bodies import PRINTABLE, Country, Email, Frequency, Id, Locale, PreferencesWrite, Short, WriteState

#: Records per request (docs/API.md); the body is also limited to 8 MB.
MAX_RECORDS = 10_000
_NOTHING = msgspec.Raw()


class ImportRecord(Struct, forbid_unknown_fields=True, kw_only=True):
    """One line of the body (docs/API.md, "Bulk import").

    The choices stay raw JSON here: they are decoded and checked once per distinct text
    (see :class:`_Checked`), not once per row.
    """

    external_id: Short
    row: Annotated[int, Meta(ge=1)] | None = None
    email: Email | None = None
    locale: Locale | None = None
    country: Country | None = None
    subscriptions: msgspec.Raw = _NOTHING
    frequencies: msgspec.Raw = _NOTHING
    interests: msgspec.Raw = _NOTHING
    suppressed: bool = False
    legacy_source: Annotated[str, Meta(min_length=1, max_length=100, pattern=PRINTABLE)] | None = None
    legacy_date: Annotated[str, Meta(min_length=1, max_length=40, pattern=PRINTABLE)] | None = None


#: How each kind of choices is typed, as in a PATCH body (a legacy subscription is a plain state:
#: its basis is consent, since the row's legacy_date).
PART_TYPES: dict[str, Any] = {
    "subscriptions": dict[Id, dict[Id, WriteState]],
    "frequencies": dict[Id, Frequency | None],
    "interests": Annotated[list[Id], Meta(max_length=200)],
}
_PART_DECODERS = {kind: msgspec.json.Decoder(typed).decode for kind, typed in PART_TYPES.items()}

_decode = msgspec.json.Decoder(ImportRecord).decode
_decode_any = msgspec.json.Decoder().decode


@dataclass
class Batch:
    """The rows to import, the rows set aside (row number, reason), and how many records came."""

    checked: _Checked
    rows: list[Row] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    records: int = 0

    def patch(self, current: Preferences, record: ImportRecord) -> Preferences:
        """A row's choices applied to a current state (``store.imports.Patch``)."""
        return self.checked.patch(current, record)


def read_batch(body: bytes, center: Center, now: datetime, double_opt_in: bool = False) -> Batch:
    """Every line of ``body`` as a :class:`Row`, or rejected with its reason. ``double_opt_in``:
    an opt-in the row's region (or the topic) asks to confirm becomes ``pending`` and is mailed a
    confirmation, as on every other surface; without it, legacy opt-ins are recorded as given."""
    with paused_gc():
        return _read_batch(body, center, now, double_opt_in)


def _read_batch(body: bytes, center: Center, now: datetime, double_opt_in: bool) -> Batch:
    batch = Batch(_Checked(center, now, double_opt_in))
    row_of_record = batch.checked.row
    rows, rejected = batch.rows, batch.rejected
    first_row: dict[str, int] = {}  # external id -> the row that has it
    objects = 0
    for line_number, line in enumerate(body.split(b"\n"), start=1):
        if not line or line.isspace():
            continue
        batch.records += 1
        if batch.records > MAX_RECORDS:
            raise BadRequest(errors=[{"path": "body", "message": f"at most {MAX_RECORDS:,} records per request"}])
        try:
            record = _decode(line)
        except msgspec.ValidationError as exc:
            number, is_object = _row_of(line, line_number)
            objects += is_object
            rejected.append((number, f"row {number}: {_decode_reason(exc)}"))
            continue
        except msgspec.DecodeError as exc:
            rejected.append((line_number, f"row {line_number}: not a JSON object: {exc}"))
            continue
        objects += 1
        number = record.row or line_number
        if record.external_id in first_row:  # the first row wins, even a bad one
            first = first_row[record.external_id]
            rejected.append((number, f"row {number}: external_id: already in this batch (row {first})"))
            continue
        first_row[record.external_id] = number
        row = row_of_record(record, number)
        if isinstance(row, str):
            rejected.append((number, f"row {number}: {row}"))
        else:
            rows.append(row)
    if batch.records and not objects:
        raise BadRequest(errors=[{"path": "body", "message": "not JSON lines: send one JSON object per line "
                                                             "(application/x-ndjson)"}])
    return batch


def _row_of(line: bytes, line_number: int) -> tuple[int, bool]:
    """The ``row`` a line that failed validation names (else its line number), and whether it is an object."""
    try:
        loose = _decode_any(line)
    except msgspec.DecodeError:
        return line_number, False
    if not isinstance(loose, dict):
        return line_number, False
    row = loose.get("row")
    return (row if isinstance(row, int) and not isinstance(row, bool) and row >= 1 else line_number), True


def _decode_reason(exc: msgspec.ValidationError, prefix: str = "") -> str:
    """msgspec's message with its JSON path first: ``subscriptions.offers.email: Invalid enum value 'yes'``."""
    message, found, where = str(exc).partition(" - at `$")
    if not found:
        return f"{prefix}: {message}" if prefix else message
    path = ".".join(p for p in (prefix, where.rstrip("`").lstrip(".")) if p)
    return f"{path or 'record'}: {message}"


class _Checked:
    """What the rows of one batch share: their choices checked once per distinct text, dates, evidence."""

    KINDS = ("subscriptions", "frequencies", "interests")  # in the order preferences.diff lists them

    def __init__(self, center: Center, now: datetime, double_opt_in: bool = False) -> None:
        self.center = center
        self.now = now
        self.pending = double_opt_in
        self.locales = frozenset(center.locales)
        # (kind, raw JSON, country) -> (value, the choices alone on an empty state) or why not; the
        # country only for subscriptions, whose bases (and pending rule) follow the row's region
        self._parts: dict[tuple[str, bytes, str | None], tuple[Any, Preferences] | str] = {}
        self._countries: dict[str | None, Preferences] = {}
        self._legacy: dict[tuple[str | None, str | None], tuple[datetime, dict[str, Any]] | str] = {}

    def row(self, record: ImportRecord, number: int) -> Row | str:
        """The record as a :class:`Row`, or why it cannot be imported."""
        if record.locale is not None and record.locale not in self.locales:
            return f"locale: not a locale of this center ({', '.join(self.center.locales)})"
        if record.country is not None and (problem := countries.problem(record.country)):
            return f"country: {problem}"
        key = (record.legacy_source, record.legacy_date)
        legacy = self._legacy.get(key)
        if legacy is None:
            legacy = self._legacy[key] = self._read_legacy(record)
        if isinstance(legacy, str):
            return legacy
        parts = []
        for kind, raw in zip(self.KINDS, (record.subscriptions, record.frequencies, record.interests), strict=True):
            if raw:
                part = self._part(kind, raw, record.country)
                if isinstance(part, str):
                    return self._problems(record)
                parts.append(part[1])
        if record.country is not None:  # a part of its own: the country's change, after the others (as diff lists it)
            parts.append(self._countries.setdefault(record.country, Preferences(country=record.country)))
        since, evidence = legacy
        return Row(number, record.external_id, record.email, record.locale, record, tuple(parts), record.suppressed,
                   since, evidence, record.country)

    def patch(self, current: Preferences, record: ImportRecord) -> Preferences:
        """A row's choices applied to a subscriber's current state, as a PATCH applies them."""
        values = {kind: self._part(kind, raw, record.country)[0]  # row() ruled out the errors
                  for kind, raw in zip(self.KINDS, (record.subscriptions, record.frequencies, record.interests),
                                       strict=True) if raw}
        write = PreferencesWrite(**values, suppressed=True if record.suppressed else UNSET)  # type: ignore[arg-type]
        return choices.desired(self.center, current, write, replacing=False, now=self.now, pending=self.pending,
                               country=UNSET if record.country is None else record.country)

    def _problems(self, record: ImportRecord) -> str:
        found = (self._part(kind, raw, record.country) for kind, raw in zip(
            self.KINDS, (record.subscriptions, record.frequencies, record.interests), strict=True) if raw)
        return "; ".join(p for p in found if isinstance(p, str))

    def _part(self, kind: str, raw: msgspec.Raw, country: str | None) -> tuple[Any, Preferences] | str:
        key = (kind, bytes(raw), country if kind == "subscriptions" else None)
        known = self._parts.get(key)
        if known is None:
            known = self._parts[key] = self._check(kind, key[1], key[2])
        return known

    def _check(self, kind: str, raw: bytes, country: str | None) -> tuple[Any, Preferences] | str:
        """One kind of choices decoded, checked, and applied to an empty state (of the row's country:
        it picks the subscriptions' rules; the part itself holds no country); or why not."""
        try:
            value: Any = _PART_DECODERS[kind](raw)  # the type of the field named by kind
        except msgspec.ValidationError as exc:
            return _named_problem(kind, raw) or _decode_reason(exc, kind)
        try:
            write = PreferencesWrite(**{kind: value})
            applied = choices.desired(self.center, Preferences(country=country), write, replacing=False, now=self.now,
                                      pending=self.pending)
            return value, replace(applied, country=None)
        except InvalidValues as invalid:
            return "; ".join(f"{e['path']}: {e['message']}" for e in invalid.extra["errors"])

    def _read_legacy(self, record: ImportRecord) -> tuple[datetime, dict[str, Any]] | str:
        """The subscriptions' ``since`` and the event's evidence (one dict for the rows that share them)."""
        since, written = self.now, None
        if record.legacy_date is not None:
            moment = _legacy_moment(record.legacy_date)
            if isinstance(moment, str):
                return f"legacy_date: {moment}"
            since, written = moment
            if since > self.now:
                return "legacy_date: in the future"
        return since, {"legacy_source": record.legacy_source, "legacy_date": written}


_STATES = frozenset(get_args(WriteState))
_FREQUENCIES = frozenset(get_args(Frequency))


def _named_problem(kind: str, raw: bytes) -> str | None:
    """A value that is not a state or frequency, with its path (msgspec names no dict key)."""
    loose = _decode_any(raw)
    if kind == "subscriptions" and isinstance(loose, dict):
        for topic, channels in loose.items():
            for channel, state in (channels.items() if isinstance(channels, dict) else ()):
                if not isinstance(state, str) or state not in _STATES:
                    return (f"subscriptions.{topic}.{channel}: {state!r} is not a state "
                            f"({', '.join(get_args(WriteState))})")
    if kind == "frequencies" and isinstance(loose, dict):
        for topic, frequency in loose.items():
            if frequency is not None and (not isinstance(frequency, str) or frequency not in _FREQUENCIES):
                return f"frequencies.{topic}: {frequency!r} is not a frequency ({', '.join(get_args(Frequency))})"
    return None


@lru_cache(maxsize=4096)
def _legacy_moment(text: str) -> tuple[datetime, str] | str:
    """A legacy date (``2019-04-02``) or instant with its offset, as (UTC time, written form); else why not."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(), timezone.utc), day.isoformat()
        moment = datetime.fromisoformat(text)
    except ValueError:
        return "a date (2019-04-02) or an ISO 8601 time with its offset (2019-04-02T10:30:00+02:00)"
    if moment.tzinfo is None:
        return "give a time zone (2019-04-02T10:30:00Z), or a date alone"
    try:
        moment = moment.astimezone(timezone.utc)
    except OverflowError:
        return "a time between the years 1 and 9999 in UTC"
    return moment, moment.isoformat().replace("+00:00", "Z")
