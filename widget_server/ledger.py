"""Consent events and the hash chain that makes their history tamper-evident.

Each event of a subscriber carries the hash of that subscriber's previous event, and
its own hash covers every recorded field plus that previous hash. The hash is computed
over a canonical JSON encoding (sorted keys, no spaces, UTC ISO-8601 times), so it does
not depend on how an engine stores JSON or datetimes.

Two formats, told apart by the event's ``key_id``:

* **keyed** (every event written since migration 0006): HMAC-SHA256 under the chain key
  that ``key_id`` names (``chain_keys``), over the fields of :data:`KEYED_FIELDS`, which
  add the event's own ``id`` (its place in the feed), ``key_id`` and ``notice_text`` (the
  hash of the wording shown) to the legacy ones. Without the key, nobody can recompute it.
* **legacy** (``key_id`` NULL: events written before): plain SHA-256 over
  :data:`HASHED_FIELDS`. They still verify, as "legacy", but only as a prefix of a chain:
  a legacy event after a keyed one is a forgery (a downgrade), and once a keyed event
  follows them its ``prev_hash`` fixes them for good.

The chain is anchored to the subscriber: their row holds the count and the hash of the
latest event, and a seal (:func:`seal`: an HMAC of subscriber, count and hash under a
chain key) that no one without the key can produce for another count. So deleting the
newest events, or all of them, is seen (the anchor says more), and so is rolling the
anchor back to an earlier event's hash (its seal does not match). What an anchor
cannot see: a subscriber deleted together with all their events, and an anchor restored
from an older copy of the database along with the events it covered; a signed checkpoint
of the whole ledger kept outside the database does (``store/checkpoints.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Mapping

if TYPE_CHECKING:
    from .chain_keys import ChainKeys

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

#: What a keyed event's HMAC covers: the legacy fields, plus the event's id (swapping two
#: events' ids changes both), its key's id and the hash of the notice text shown.
KEYED_FIELDS = (*HASHED_FIELDS, "id", "key_id", "notice_text")


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
    notice_text: str | None = None  # the hash of the wording shown (store/notice_texts.py), when known

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


def canonical(record: Mapping[str, Any], fields: tuple[str, ...] = HASHED_FIELDS) -> bytes:
    """The bytes an event's hash is computed over (legacy fields unless told)."""
    return canonical_json({name: record.get(name) for name in fields}).encode()


def event_hash(record: Mapping[str, Any]) -> str:
    """The legacy hash: plain SHA-256, what events before migration 0006 carry."""
    return hashlib.sha256(canonical(record)).hexdigest()


def keyed_hash(keys: ChainKeys, record: Mapping[str, Any]) -> str:
    """A keyed event's hash: HMAC-SHA256 under the key its ``key_id`` names."""
    return keys.mac(record["key_id"], canonical(record, KEYED_FIELDS))


def seal_bytes(subscriber_id: str, count: int, head: str | None) -> bytes:
    """What an anchor's seal covers: whose chain, how many events, the latest one's hash."""
    return f"widget-server anchor\x00{subscriber_id}\x00{count}\x00{head or ''}".encode()


def seal(keys: ChainKeys, subscriber_id: str, count: int, head: str | None, key_id: str | None = None) -> str:
    """The seal of an anchor, ``<key id>:<hmac>``, under the current key unless named."""
    name = key_id or keys.current
    return f"{name}:{keys.mac(name, seal_bytes(subscriber_id, count, head))}"


@dataclass(frozen=True)
class Anchor:
    """What the subscriber's row says of their chain: the count and hash of the latest
    event, and the seal over both."""

    count: int | None
    head: str | None
    seal: str | None


@dataclass(frozen=True)
class Break:
    """One thing wrong in a chain: which event (``None`` for the anchor) and what."""

    event_id: int | None
    version: int | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "version": self.version, "reason": self.reason}


@dataclass(frozen=True)
class ChainReport:
    """The result of checking one subscriber's chain."""

    events: int
    breaks: tuple[Break, ...] = ()
    legacy: int = 0  # events in the legacy format (plain SHA-256), intact as far as it can tell
    anchored: bool = False  # an anchor was checked, and matched

    @property
    def intact(self) -> bool:
        return not self.breaks

    @property
    def broken_at(self) -> list[int]:
        """Versions of the events found wrong."""
        return sorted({b.version for b in self.breaks if b.version is not None})


class ChainCheck:
    """Checks one subscriber's events, fed one at a time in version order (the CLI streams
    a million of them through this without holding them)."""

    def __init__(self, keys: ChainKeys | None, subscriber_id: str | None = None, center: str | None = None) -> None:
        self.keys, self.subscriber_id, self.center = keys, subscriber_id, center
        self.breaks: list[Break] = []
        self.count = self.legacy = 0
        self.previous: str | None = None
        self.expected_version = 1
        self.keyed_seen = False

    def add(self, record: Mapping[Any, Any]) -> None:
        self.count += 1
        event_id, version = record.get("id"), record["version"]

        def wrong(reason: str) -> None:
            self.breaks.append(Break(event_id, version, reason))

        if version != self.expected_version:
            wrong(f"version {version} where {self.expected_version} was expected (an event is missing or moved)")
        if record["prev_hash"] != self.previous:
            wrong("its prev_hash does not name the event before it")
        if self.subscriber_id is not None and record.get("subscriber_id") != self.subscriber_id:
            wrong("it names another subscriber")
        if self.center is not None and record.get("center") != self.center:
            wrong(f"its center {record.get('center')!r} is not the subscriber's {self.center!r}")
        wrong_hash = self._hash_problem(record)
        if wrong_hash:
            wrong(wrong_hash)
        self.previous = record["hash"]
        self.expected_version = version + 1

    def _hash_problem(self, record: Mapping[Any, Any]) -> str | None:
        key_id = record.get("key_id")
        if key_id is None:
            if self.keyed_seen:
                return "a legacy (unkeyed) hash after a keyed event: rewritten without the key"
            self.legacy += 1
            return None if event_hash(record) == record["hash"] else "its hash does not match its content"
        self.keyed_seen = True
        if self.keys is None or key_id not in self.keys.keys:
            return f"keyed under key {key_id!r}, which this server does not hold: unverifiable"
        expected = keyed_hash(self.keys, record)
        return None if hmac.compare_digest(expected, record["hash"] or "") else "its hash does not match its content"

    def finish(self, anchor: Anchor | None = None, version: int | None = None) -> ChainReport:
        """The report; ``anchor`` (the subscriber row's) is checked against what was found."""
        anchored = False
        if anchor is not None:
            problems = self._anchor_problems(anchor, version)
            self.breaks.extend(Break(None, None, p) for p in problems)
            anchored = not problems
        return ChainReport(self.count, tuple(self.breaks), self.legacy, anchored)

    def _anchor_problems(self, anchor: Anchor, version: int | None) -> list[str]:
        problems = []
        if anchor.count is None:
            return ["the subscriber has no anchor (count and hash of the latest event)"]
        if anchor.count != self.count:
            problems.append(f"the anchor says {anchor.count} events, {self.count} found")
        if anchor.head != self.previous:
            problems.append("the anchor's hash is not the latest event's")
        if version is not None and version != anchor.count:
            problems.append(f"the subscriber is at version {version}, the anchor at {anchor.count}")
        if anchor.seal is None:
            problems.append("the anchor is not sealed")
        else:
            name = anchor.seal.partition(":")[0]
            if self.keys is None or name not in self.keys.keys:
                problems.append(f"the anchor is sealed under key {name!r}, which this server does not hold")
            elif not hmac.compare_digest(seal(self.keys, self.subscriber_id or "", anchor.count, anchor.head, name),
                                         anchor.seal):
                problems.append("the anchor's seal does not match it (rewritten without the key)")
        return problems


def verify_chain(records: Iterable[Mapping[str, Any]], keys: ChainKeys | None = None, *,
                 anchor: Anchor | None = None, subscriber_id: str | None = None, center: str | None = None,
                 version: int | None = None) -> ChainReport:
    """Check the records of one subscriber, given in version order (and their anchor, when given)."""
    check = ChainCheck(keys, subscriber_id, center)
    for record in records:
        check.add(record)
    return check.finish(anchor, version)
