"""Consent events and the hash chain that makes their history tamper-evident.

Each event of a subscriber carries the hash of that subscriber's previous event, and
its own hash covers every recorded field plus that previous hash. Editing, removing or
reordering any stored event breaks the chain from that point on, which
:func:`verify_chain` reports. The hash is computed over a canonical JSON encoding
(sorted keys, no spaces, UTC ISO-8601 times), so it does not depend on how an engine
stores JSON or datetimes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

#: Where a change came from (docs/DOMAIN.md).
SOURCES = ("web", "app", "kiosk", "call_center", "email_link", "api", "import", "system")

#: The fields an event's hash covers, in the order they are listed in receipts.
HASHED_FIELDS = (
    "subscriber_id",
    "center",
    "version",
    "occurred_at",
    "source",
    "actor",
    "changes",
    "notice_version",
    "locale",
    "evidence",
    "context",
    "submission_id",
    "prev_hash",
)


@dataclass(frozen=True)
class Change:
    """One path that changed, e.g. ``offers.email`` from ``opted_out`` to ``opted_in``."""

    path: str
    before: Any
    after: Any

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "from": self.before, "to": self.after}


@dataclass(frozen=True)
class EventContext:
    """Who made a change, from where, under which wording."""

    source: str
    actor: str
    locale: str | None = None
    notice_version: str | None = None
    evidence: Mapping[str, Any] | None = None
    context: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown event source {self.source!r}; known: {', '.join(SOURCES)}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="microseconds")
    raise TypeError(f"cannot hash a {type(value).__name__}")


def canonical_json(value: Any, *, sort_keys: bool = True) -> str:
    """The one JSON encoding of the hashed form: compact, keys sorted, UTF-8 as it is.

    Bulk imports build the same text piece by piece (``store/imports/proof.py``) from
    this function's output, so the two cannot drift apart.
    """
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False, default=_jsonable)


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes an event's hash is computed over."""
    return canonical_json({name: record.get(name) for name in HASHED_FIELDS}).encode()


def event_hash(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """The result of checking one subscriber's chain."""

    events: int
    broken_at: list[int]  # versions whose hash or link does not match

    @property
    def intact(self) -> bool:
        return not self.broken_at


def verify_chain(records: Iterable[Mapping[str, Any]]) -> ChainReport:
    """Check records of one subscriber, given in version order."""
    broken: list[int] = []
    previous: str | None = None
    expected_version = 1
    count = 0
    for record in records:
        count += 1
        ok = (
            record["prev_hash"] == previous
            and record["version"] == expected_version
            and event_hash(record) == record["hash"]
        )
        if not ok:
            broken.append(record["version"])
        previous = record["hash"]
        expected_version = record["version"] + 1
    return ChainReport(count, broken)
