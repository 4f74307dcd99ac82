"""An import batch's body (JSON lines) read and checked row by row against the center.

A bad row does not fail the batch: it is set aside with a reason that names the row and
the path (``row 17: subscriptions.offers.fax: this topic is offered on email, sms``) and
the other rows go on. Only a body in which no line is a JSON object is refused whole
(``400``): that is not an import batch at all (a JSON array, a CSV file...).

The choices of a row are checked by :func:`.choices.desired`, the API's own rules, and
applied as a ``PATCH``: what a row leaves out stays as it is. Legacy files repeat the
same few combinations of choices, so each distinct combination is checked and applied to
an empty state once per batch, and the rows sharing it share the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from functools import lru_cache
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct

from ...centers.model import Center
from ...errors import BadRequest, InvalidValues
from ...preferences import Preferences
from ...store.imports import Row
from . import choices
from .schemas import Email, Frequency, Id, PreferencesWrite, Short, State

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
    locale: Annotated[str, Meta(max_length=16)] | None = None
    subscriptions: msgspec.Raw = _NOTHING
    frequencies: msgspec.Raw = _NOTHING
    interests: msgspec.Raw = _NOTHING
    suppressed: bool = False
    legacy_source: Annotated[str, Meta(min_length=1, max_length=100)] | None = None
    legacy_date: Annotated[str, Meta(min_length=1, max_length=40)] | None = None


#: The types the choices are checked against, as in a PATCH body.
_PART_TYPES = {
    "subscriptions": dict[Id, dict[Id, State]],
    "frequencies": dict[Id, Frequency | None],
    "interests": Annotated[list[Id], Meta(max_length=200)],
}
_PARTS = tuple(_PART_TYPES)


@dataclass
class Batch:
    """The rows to import, the rows set aside (row number, reason), and how many records came."""

    rows: list[Row] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    records: int = 0


_decode = msgspec.json.Decoder(ImportRecord).decode
_decode_any = msgspec.json.Decoder().decode


def read_batch(body: bytes, center: Center, now: datetime) -> Batch:
    """Every line of ``body`` as a :class:`Row`, or rejected with its reason."""
    batch = Batch()
    checked = _Checked(center, now)
    first_row: dict[str, int] = {}  # external id -> the row that has it
    objects = 0
    for line_number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        batch.records += 1
        if batch.records > MAX_RECORDS:
            raise BadRequest(errors=[{"path": "body", "message": f"at most {MAX_RECORDS:,} records per request"}])
        try:
            record = _decode(line)
        except msgspec.ValidationError as exc:
            number, is_object = _row_of(line, line_number)
            objects += is_object
            batch.rejected.append((number, f"row {number}: {_decode_reason(exc)}"))
            continue
        except msgspec.DecodeError as exc:
            batch.rejected.append((line_number, f"row {line_number}: not a JSON object: {exc}"))
            continue
        objects += 1
        number = record.row or line_number
        checked_choices = checked.choices(record)
        problem = (checked.problem(record) or (checked_choices if isinstance(checked_choices, str) else None)
                   or _duplicate(first_row, record.external_id, number))
        if problem:
            batch.rejected.append((number, f"row {number}: {problem}"))
            continue
        write, parts = checked_choices
        since, evidence = checked.legacy(record)
        batch.rows.append(Row(number, record.external_id, record.email, record.locale, write, parts,
                              record.suppressed, since, evidence))
    if batch.records and not objects:
        raise BadRequest(errors=[{"path": "body", "message": "not JSON lines: send one JSON object per line "
                                                             "(application/x-ndjson)"}])
    return batch


def patch(current: Preferences, write: PreferencesWrite, *, center: Center) -> Preferences:
    """A row's choices applied to a subscriber's current state, as a PATCH applies them."""
    return choices.desired(center, current, write, replacing=False)


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


def _duplicate(first_row: dict[str, int], external_id: str, number: int) -> str | None:
    first = first_row.setdefault(external_id, number)
    return None if first == number else f"external_id: already in this batch (row {first})"


class _Checked:
    """What rows of one batch share: checked choices, parsed legacy dates, evidence."""

    def __init__(self, center: Center, now: datetime) -> None:
        self.center = center
        self.now = now
        self._parts: dict[tuple[str, bytes], tuple[Any, Preferences] | str] = {}
        self._evidence: dict[tuple, dict[str, Any]] = {}

    def problem(self, record: ImportRecord) -> str | None:
        """Why this record's locale or legacy date cannot be imported, or None."""
        if record.locale is not None and record.locale not in self.center.locales:
            return f"locale: not a locale of this center ({', '.join(self.center.locales)})"
        if record.legacy_date is not None:
            moment = _legacy_moment(record.legacy_date)
            if isinstance(moment, str):
                return f"legacy_date: {moment}"
            if moment[0] > self.now:
                return "legacy_date: in the future"
        return None

    def choices(self, record: ImportRecord) -> tuple[PreferencesWrite, tuple[Preferences, ...]] | str:
        """The record's write body and its parts (see ``store.imports.Row``), or why not."""
        values: dict[str, Any] = {}
        parts: list[Preferences] = []
        problems = []
        for name in _PARTS:
            raw = getattr(record, name)
            if not raw:
                continue
            key = (name, bytes(raw))
            known = self._parts.get(key)
            if known is None:
                known = self._parts[key] = self._part(name, raw)
            if isinstance(known, str):
                problems.append(known)
            else:
                values[name], part = known
                parts.append(part)
        if problems:
            return "; ".join(problems)
        return PreferencesWrite(**values, suppressed=record.suppressed or UNSET), tuple(parts)

    def _part(self, name: str, raw: msgspec.Raw) -> tuple[Any, Preferences] | str:
        """One kind of choices decoded, checked, and applied to an empty state; or why not."""
        try:
            value = msgspec.json.decode(raw, type=_PART_TYPES[name])
        except msgspec.ValidationError as exc:
            return _decode_reason(exc, name)
        try:
            return value, patch(Preferences(), PreferencesWrite(**{name: value}), center=self.center)
        except InvalidValues as invalid:
            return "; ".join(f"{e['path']}: {e['message']}" for e in invalid.extra["errors"])

    def legacy(self, record: ImportRecord) -> tuple[datetime, dict[str, Any]]:
        """The subscriptions' ``since`` and the event's evidence (one dict per distinct evidence)."""
        moment = _legacy_moment(record.legacy_date) if record.legacy_date is not None else None
        since, written = moment if isinstance(moment, tuple) else (self.now, None)
        key = (record.legacy_source, written)
        evidence = self._evidence.get(key)
        if evidence is None:
            evidence = self._evidence[key] = {"legacy_source": record.legacy_source, "legacy_date": written}
        return since, evidence


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
    moment = moment.astimezone(timezone.utc)
    return moment, moment.isoformat().replace("+00:00", "Z")
