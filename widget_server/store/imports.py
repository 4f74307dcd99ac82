"""Bulk import: a batch of legacy rows written in a few statements, with its proof.

The rows arrive validated (``routes/api/import_rows.py``). For one batch this module
runs a handful of queries whatever its size (existing subscribers by external id,
their choices, the owners of the e-mail addresses, the suppressed ones), decides per
row what changes, and writes with one ``executemany`` per table. Every changed
subscriber gets one ``import`` event, hashed and chained exactly as
``Store._append_event`` does (the canonical bytes come from :func:`ledger.canonical`
itself, see :class:`_Hasher`), and one outbox row per active webhook endpoint, as
``queries.enqueue_deliveries`` writes them, here with one ``INSERT ... SELECT``.

Why the subscriber ids of a batch share a random prefix: every table is keyed by
subscriber id, and ids spread at random over a million-row B-tree make each batch touch
(and commit) most of its pages: on SQLite an import slowed from 19 to 75 seconds per
400,000 rows as the file grew. With one random prefix per batch and sorted random
suffixes, a batch appends to one narrow key range. The ids keep the usual format
(``sub_`` + 22 URL-safe characters) and 96 random bits each; what the prefix tells (these
subscribers were imported together) the events' common ``occurred_at`` already says.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence

from sqlalchemy import Connection, Integer, String, and_, bindparam, cast, func, literal, select
from sqlalchemy.engine import Dialect

from ..centers.model import Center
from ..ledger import HASHED_FIELDS, Change, canonical
from ..preferences import UNKNOWN, Preferences, diff, suppress_all
from . import feed
from .schema import (
    contact_points,
    events,
    subscriber_interests,
    subscribers,
    subscriptions,
    suppressions,
    topic_settings,
    webhook_deliveries,
    webhook_endpoints,
)

#: Ids per ``IN (...)`` list: far below SQLite's and PostgreSQL's limits on parameters.
CHUNK = 5000


class Row(NamedTuple):
    """One validated row (``routes/api/import_rows.py``); rows with equal choices share their parts."""

    number: int
    external_id: str
    email: str | None
    locale: str | None
    choices: Any  # the row's write body, for ``patch``
    parts: tuple[Preferences, ...]  # its subscriptions, frequencies, interests: each alone on an empty state
    suppress: bool  # the row says "suppressed": true
    since: datetime  # the legacy date, else the import's time
    evidence: Mapping[str, Any]  # {"legacy_source": ..., "legacy_date": ...}


#: ``patch(current, choices)``: the state a row asks for, from a subscriber's current one.
Patch = Callable[[Preferences, Any], Preferences]


@dataclass
class Outcome:
    """What a batch did (or, in a dry run, would do)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    changes: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(slots=True)
class _Current:
    id: str
    version: int
    locale: str | None
    last_hash: str | None
    preferences: Preferences
    has_email: bool = False


def import_rows(
    connection: Connection,
    center: Center,
    rows: Sequence[Row],
    *,
    patch: Patch,
    actor: str,
    lookup_key: bytes,
    now: datetime,
    dry_run: bool,
) -> Outcome:
    """Import ``rows`` in the caller's transaction (a write transaction unless ``dry_run``)."""
    outcome = Outcome()
    found = _existing(connection, center.id, [r.external_id for r in rows], lock=not dry_run)
    _load_choices(connection, found)
    hashes = {r.number: lookup_hash(lookup_key, center.id, r.email) for r in rows if r.email}
    owners, erased = _contact_owners(connection, center.id, list(hashes.values()))
    plan = _Plan(center, now, patch)
    for row in rows:
        current = found.get(row.external_id)
        email_hash = hashes.get(row.number)
        owner = owners.get(email_hash) if email_hash else None
        if owner is not None and (current is None or owner != current.id):
            outcome.rejected.append((row.number, f"row {row.number}: email: already a contact point of another "
                                                 "subscriber of this center"))
            continue
        adds_email = email_hash is not None and owner is None and (current is None or not current.has_email)
        if adds_email:
            owners[email_hash] = current.id if current else ""  # a later row with this address is refused
        else:
            email_hash = None
        suppress = email_hash is not None and email_hash in erased  # an erased address comes back suppressed
        if current is None:
            plan.create(row, email_hash, suppress)
            outcome.created += 1
        elif plan.update(row, current, email_hash, suppress):
            outcome.updated += 1
        else:
            outcome.unchanged += 1
    if not dry_run:
        plan.write(connection, actor=actor)
    outcome.changes = plan.tally()
    return outcome


# -- reading what exists --------------------------------------------------------------


_existing_query = (
    select(subscribers.c.id, subscribers.c.external_id, subscribers.c.version, subscribers.c.locale,
           subscribers.c.suppressed, subscribers.c.paused_until, events.c.hash)
    .select_from(subscribers.outerjoin(events, and_(events.c.subscriber_id == subscribers.c.id,
                                                    events.c.version == subscribers.c.version)))
    .where(subscribers.c.center == bindparam("center"),
           subscribers.c.external_id.in_(bindparam("external_ids", expanding=True)))
)
_existing_locked = _existing_query.with_for_update(of=subscribers)  # PostgreSQL; SQLite has one writer

_subscriptions_of = select(subscriptions.c.subscriber_id, subscriptions.c.topic, subscriptions.c.channel,
                           subscriptions.c.state).where(
    subscriptions.c.subscriber_id.in_(bindparam("ids", expanding=True)))
_frequencies_of = select(topic_settings.c.subscriber_id, topic_settings.c.topic, topic_settings.c.frequency).where(
    topic_settings.c.subscriber_id.in_(bindparam("ids", expanding=True)), topic_settings.c.frequency.is_not(None))
_interests_of = select(subscriber_interests.c.subscriber_id, subscriber_interests.c.interest).where(
    subscriber_interests.c.subscriber_id.in_(bindparam("ids", expanding=True)))
_emails_of = select(contact_points.c.subscriber_id).where(
    contact_points.c.subscriber_id.in_(bindparam("ids", expanding=True)), contact_points.c.kind == "email")
_owners_of = (
    select(contact_points.c.lookup_hash, contact_points.c.subscriber_id)
    .join(subscribers, subscribers.c.id == contact_points.c.subscriber_id)
    .where(contact_points.c.lookup_hash.in_(bindparam("hashes", expanding=True)),
           subscribers.c.center == bindparam("center"))
)
_erased_of = select(suppressions.c.lookup_hash).where(suppressions.c.lookup_hash.in_(bindparam("hashes",
                                                                                                 expanding=True)))


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _existing(connection: Connection, center: str, external_ids: list[str], *, lock: bool) -> dict[str, _Current]:
    """Subscribers of ``center`` holding these external ids (erased ones hold none), with their last hash."""
    query = _existing_locked if lock else _existing_query
    found: dict[str, _Current] = {}
    for chunk in _chunks(external_ids):
        for sid, external_id, version, locale, suppressed, paused_until, last_hash in connection.execute(
                query, {"center": center, "external_ids": list(chunk)}):
            prefs = Preferences(version=version, paused_until=paused_until, suppressed=suppressed)
            found[external_id] = _Current(sid, version, locale, last_hash, prefs)
    return found


def _load_choices(connection: Connection, found: dict[str, _Current]) -> None:
    """Fill in the current subscriptions, frequencies, interests and e-mail presence of ``found``."""
    if not found:
        return
    by_id = {c.id: c for c in found.values()}
    subs: dict[str, dict] = defaultdict(dict)
    freqs: dict[str, dict] = defaultdict(dict)
    interests: dict[str, set] = defaultdict(set)
    for chunk in _chunks(list(by_id)):
        params = {"ids": list(chunk)}
        for sid, topic, channel, state in connection.execute(_subscriptions_of, params):
            subs[sid][(topic, channel)] = state
        for sid, topic, frequency in connection.execute(_frequencies_of, params):
            freqs[sid][topic] = frequency
        for sid, interest in connection.execute(_interests_of, params):
            interests[sid].add(interest)
        for (sid,) in connection.execute(_emails_of, params):
            by_id[sid].has_email = True
    for sid, current in by_id.items():
        base = current.preferences
        current.preferences = Preferences(version=base.version, subscriptions=subs.get(sid, {}),
                                          frequencies=freqs.get(sid, {}), interests=frozenset(interests.get(sid, ())),
                                          paused_until=base.paused_until, suppressed=base.suppressed)


def _contact_owners(connection: Connection, center: str, hashes: list[str]) -> tuple[dict[str, str], set[str]]:
    """Who holds each address already (by keyed hash), and which addresses were erased."""
    owners: dict[str, str] = {}
    erased: set[str] = set()
    for chunk in _chunks(hashes):
        params = {"hashes": list(chunk), "center": center}
        owners.update((h, sid) for h, sid in connection.execute(_owners_of, params))
        erased.update(h for (h,) in connection.execute(_erased_of, params))
    return owners, erased


def lookup_hash(key: bytes, center: str, value: str) -> str:
    """``contacts.lookup_hash(key, center, "email", value)``, with the one-shot HMAC (twice as fast)."""
    return hmac.digest(key, f"{center}\x00email\x00{value.strip().lower()}".encode(), "sha256").hex()


# -- deciding and writing -------------------------------------------------------------


def _batch_ids(count: int) -> list[str]:
    """``count`` new subscriber ids: one random prefix, sorted random suffixes (see the module docstring)."""
    prefix = "sub_" + secrets.token_urlsafe(6)[:6]
    return sorted(prefix + secrets.token_urlsafe(12) for _ in range(count))


@dataclass(slots=True)
class _Fresh:
    """What a new subscriber with some choices gets: shared by the rows that make the same choices."""

    changes: list[Change]
    stored: str  # the changes as JSON items, comma-separated, as stored
    hashed: str  # the same, encoded as ledger.canonical encodes them
    states: list[tuple[str, str, str]]  # (topic, channel, state), unknown left out
    settings: list[tuple[str, str]]  # (topic, frequency)
    interests: list[str]
    suppressed: bool = False

    @classmethod
    def of(cls, desired: Preferences, changes: list[Change]) -> _Fresh:
        items = [c.as_dict() for c in changes]
        return cls(changes, _json(items, sort_keys=False)[1:-1], _json(items)[1:-1],
                   [(t, c, s) for (t, c), s in sorted(desired.subscriptions.items()) if s != UNKNOWN],
                   sorted(desired.frequencies.items()), sorted(desired.interests), desired.suppressed)


class _Plan:
    """The decisions for one batch, then its rows gathered per table."""

    def __init__(self, center: Center, now: datetime, patch: Patch) -> None:
        self.center = center
        self.now = now
        self.patch = patch
        self.new: list[tuple[Row, str | None, tuple[_Fresh, ...]]] = []
        self.updates: list[tuple] = []  # (row, current, desired, changes, email hash, locale)
        self._fresh: dict[int, _Fresh] = {}  # id(part) -> what it gives (the rows keep the parts alive)
        self._counts: dict[int, list] = {}  # id(_Fresh) -> [_Fresh, how many new subscribers get it]
        self._changes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def create(self, row: Row, email_hash: str | None, suppress: bool) -> None:
        if suppress or row.suppress:
            desired = self.patch(Preferences(), row.choices)
            if suppress:
                desired = suppress_all(self.center, desired)
            parts = (_Fresh.of(desired, diff(Preferences(), desired)),)
        else:  # diff(empty, parts together) is the parts' diffs one after the other
            parts = tuple(self._fresh_of(part) for part in row.parts)
        for fresh in parts:
            counted = self._counts.get(id(fresh))
            if counted is None:
                self._counts[id(fresh)] = [fresh, 1]
            else:
                counted[1] += 1
        self.new.append((row, email_hash, parts))

    def _fresh_of(self, part: Preferences) -> _Fresh:
        fresh = self._fresh.get(id(part))
        if fresh is None:
            fresh = self._fresh[id(part)] = _Fresh.of(part, diff(Preferences(), part))
        return fresh

    def update(self, row: Row, current: _Current, email_hash: str | None, suppress: bool) -> bool:
        """Plan the change of an existing subscriber; False when the row changes nothing."""
        before = current.preferences
        desired = self.patch(before, row.choices)
        if suppress or before.suppressed:  # an import is not the person's act: it never lifts a suppression
            desired = suppress_all(self.center, desired)
        changes = diff(before, desired)
        locale = row.locale if row.locale and row.locale != current.locale else None
        if not (changes or locale or email_hash):
            return False
        self.updates.append((row, current, desired, changes, email_hash, locale))
        for change in changes:
            self._changes[change.path][_tally_key(change.after)] += 1
        return True

    def tally(self) -> dict[str, dict[str, int]]:
        """Changes per path and value reached, for the report."""
        for fresh, count in self._counts.values():
            for change in fresh.changes:
                self._changes[change.path][_tally_key(change.after)] += count
        return {path: dict(sorted(counts.items())) for path, counts in sorted(self._changes.items())}

    def write(self, connection: Connection, *, actor: str) -> None:
        if not self.new and not self.updates:
            return
        sql = _Sql(connection.dialect)
        now = sql.time(self.now)
        hasher = _Hasher(self.center.id, actor, self.now)
        center = self.center.id
        new_subscribers, contacts, appended, states, settings, interests = [], [], [], [], [], []
        for sid, (row, email_hash, parts) in zip(_batch_ids(len(self.new)), self.new, strict=True):
            changed = [f for f in parts if f.changes]
            suppressed = any(f.suppressed for f in parts)
            new_subscribers.append((sid, center, 1 if changed else 0, row.locale, suppressed, now, now,
                                    row.external_id))
            if email_hash:
                contacts.append((sid, "email", email_hash, row.email.strip()))
            if not changed:
                continue
            if len(changed) == 1:
                stored, hashed = "[" + changed[0].stored + "]", "[" + changed[0].hashed + "]"
            else:
                stored = "[" + ",".join(f.stored for f in changed) + "]"
                hashed = "[" + ",".join(f.hashed for f in changed) + "]"
            appended.append((sid, 1, None, row, stored, hashed))
            since = sql.time(row.since)
            for fresh in changed:
                states.extend((sid, t, c, s, since) for t, c, s in fresh.states)
                settings.extend((sid, t, f) for t, f in fresh.settings)
                interests.extend((sid, i) for i in fresh.interests)
        bumps, cleared = [], ([], [], [])
        for row, current, desired, changes, email_hash, locale in self.updates:
            version = current.version + (1 if changes else 0)
            bumps.append((version, desired.suppressed, locale or current.locale, now, current.id, current.version))
            if email_hash:
                contacts.append((current.id, "email", email_hash, row.email.strip()))
            if changes:
                appended.append((current.id, version, current.last_hash, row, *hasher.changes(changes)))
                _changed_state_rows(sql, current, row, desired, states, settings, interests, cleared)
        sql.insert(connection, subscribers, ("id", "center", "version", "locale", "suppressed", "created_at",
                                             "updated_at", "external_id"), new_subscribers)
        if bumps and sql.update_versions(connection, bumps) != len(bumps):
            raise RuntimeError("a subscriber changed during the import batch")  # cannot happen under the write lock
        sql.insert(connection, contact_points, ("subscriber_id", "kind", "lookup_hash", "value"), contacts)
        event_ids = self._append_events(connection, sql, hasher, appended)
        sql.delete_changed(connection, *cleared)
        sql.insert(connection, subscriptions, ("subscriber_id", "topic", "channel", "state", "legal_basis", "since",
                                               "event_id"),
                   [(sid, t, c, s, "consent", since, event_ids[sid]) for sid, t, c, s, since in states])
        sql.insert(connection, topic_settings, ("subscriber_id", "topic", "frequency"), settings)
        sql.insert(connection, subscriber_interests, ("subscriber_id", "interest"), interests)

    def _append_events(self, connection: Connection, sql: _Sql, hasher: _Hasher, appended: list) -> dict[str, int]:
        """Insert the events, chained and hashed; queue their webhook deliveries; answer their ids."""
        if not appended:
            return {}
        occurred, center, actor = sql.time(self.now), self.center.id, hasher.actor
        rows = []
        for sid, version, prev_hash, row, stored, hashed in appended:
            evidence = hasher.evidence(row.evidence)
            digest = hasher.hash(sid, version, prev_hash, hashed, row.evidence, row.locale)
            rows.append((sid, center, version, occurred, "import", actor, stored, row.locale, evidence, prev_hash,
                         digest))
        feed.hold_commit_order(connection)
        before = connection.scalar(_last_event_id)
        sql.insert(connection, events, ("subscriber_id", "center", "version", "occurred_at", "source", "actor",
                                        "changes", "locale", "evidence", "prev_hash", "hash"), rows)
        ids = {sid: event_id for event_id, sid in connection.execute(_appended_since, {"after": before})}
        connection.execute(_enqueue_since, {"after": before, "center": center, "now": self.now})
        return ids


def _tally_key(value: Any) -> str:
    """The report counts changes per value reached: a state, a frequency, ``true``..."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "changed"  # interests: a list


def _changed_state_rows(sql: _Sql, current: _Current, row: Row, desired: Preferences, states: list,
                        settings: list, interests: list, cleared: tuple[list, list, list]) -> None:
    """What ``Store._write_state`` does for one subscriber, as rows for ``executemany``."""
    before, sid = current.preferences, current.id
    since = sql.time(row.since)
    changed = sorted(k for k in set(before.subscriptions) | set(desired.subscriptions)
                     if before.state(*k) != desired.state(*k))
    cleared[0].extend((sid, topic, channel) for topic, channel in changed)
    states.extend((sid, t, c, s, since) for t, c in changed if (s := desired.state(t, c)) != UNKNOWN)
    if before.frequencies != desired.frequencies:
        cleared[1].append((sid,))
        settings.extend((sid, t, f) for t, f in sorted(desired.frequencies.items()))
    if before.interests != desired.interests:
        cleared[2].append((sid,))
        interests.extend((sid, i) for i in sorted(desired.interests))


_last_event_id = select(func.coalesce(func.max(events.c.id), 0))
_appended_since = select(events.c.id, events.c.subscriber_id).where(events.c.id > bindparam("after"))

# queries.enqueue_deliveries, for every event appended after a cursor at once.
_NOW = bindparam("now", type_=webhook_deliveries.c.created_at.type)
_enqueue_since = webhook_deliveries.insert().from_select(
    ["endpoint_id", "event_id", "subscriber_id", "status", "attempts", "next_attempt_at", "created_at"],
    select(webhook_endpoints.c.id, cast(events.c.id, Integer), cast(events.c.subscriber_id, String),
           literal("pending"), literal(0), _NOW, _NOW)
    .select_from(events.join(webhook_endpoints, webhook_endpoints.c.center == events.c.center))
    .where(events.c.id > bindparam("after"), events.c.center == bindparam("center"),
           webhook_endpoints.c.disabled_at.is_(None))
    .order_by(events.c.id, webhook_endpoints.c.id),
)


class _Sql:
    """``executemany`` with values already in the driver's form: no per-row type processing.

    Times are converted once per distinct value by the column type's own bind processor,
    so they are stored exactly as SQLAlchemy stores them.
    """

    JSON_COLUMNS = frozenset({"changes", "evidence"})

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.mark = "%s" if dialect.paramstyle in ("format", "pyformat") else "?"
        self._to_driver = subscribers.c.created_at.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
        self._times: dict[datetime, Any] = {}

    def time(self, moment: datetime) -> Any:
        converted = self._times.get(moment)
        if converted is None:
            converted = self._times[moment] = self._to_driver(moment)
        return converted

    def _marks(self, columns: Sequence[str]) -> str:
        json_mark = f"CAST({self.mark} AS JSON)" if self.dialect.name == "postgresql" else self.mark
        return ", ".join(json_mark if c in self.JSON_COLUMNS else self.mark for c in columns)

    def insert(self, connection: Connection, table: Any, columns: Sequence[str], rows: list[tuple]) -> None:
        if rows:
            quote = self.dialect.identifier_preparer.quote
            names = ", ".join(quote(c) for c in columns)
            sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({self._marks(columns)})"
            connection.exec_driver_sql(sql, rows)

    def update_versions(self, connection: Connection, rows: list[tuple]) -> int:
        m = self.mark
        return connection.exec_driver_sql(
            f"UPDATE subscribers SET version = {m}, suppressed = {m}, locale = {m}, updated_at = {m} "
            f"WHERE id = {m} AND version = {m}", rows).rowcount

    def delete_changed(self, connection: Connection, states: list, settings: list, interests: list) -> None:
        m = self.mark
        if states:
            connection.exec_driver_sql(
                f"DELETE FROM subscriptions WHERE subscriber_id = {m} AND topic = {m} AND channel = {m}", states)
        if settings:
            connection.exec_driver_sql(f"DELETE FROM topic_settings WHERE subscriber_id = {m}", settings)
        if interests:
            connection.exec_driver_sql(f"DELETE FROM subscriber_interests WHERE subscriber_id = {m}", interests)


def _json(value: Any, *, sort_keys: bool = True) -> str:
    """JSON as :func:`ledger.canonical` writes it (for the hashed form) or compactly (for storage)."""
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)


class _Hasher:
    """``ledger.event_hash`` for the events of one batch, without encoding again what they share.

    An event's canonical bytes are a JSON object with sorted keys: the fields the batch's
    events share (source, actor, center, time, the empty ones) are literal text between
    the ones that vary. The template is cut out of :func:`ledger.canonical`'s own output
    for a record whose varying fields are placeholders, so the encoding cannot drift from
    the ledger's; an event then costs a few concatenations and one SHA-256. Encodings of
    changes, evidence and locale are kept per distinct value (a batch repeats them).
    """

    VARYING = ("changes", "evidence", "locale", "prev_hash", "subscriber_id", "version")  # in sorted order

    def __init__(self, center: str, actor: str, occurred_at: datetime) -> None:
        self.actor = actor
        record: dict[str, Any] = {name: None for name in HASHED_FIELDS}
        record.update(center=center, actor=actor, occurred_at=occurred_at, source="import")
        marks = {name: f"\x00{name}\x00" for name in self.VARYING}
        record.update(marks)
        text = canonical(record).decode()
        if sorted(self.VARYING, key=lambda name: text.index(_json(marks[name]))) != list(self.VARYING):
            raise RuntimeError("ledger.canonical no longer orders fields by name: update _Hasher")
        self._literals: list[str] = []
        for name in self.VARYING:
            head, text = text.split(_json(marks[name]), 1)
            self._literals.append(head)
        self._literals.append(text)
        self._changes: dict[tuple, tuple[str, str]] = {}
        self._evidence: dict[int, tuple[Mapping[str, Any], str, str]] = {}
        self._middles: dict[tuple[int, str | None], str] = {}

    def changes(self, changes: Sequence[Change]) -> tuple[str, str]:
        """(stored, hashed) JSON of a list of changes."""
        key = tuple((c.path, _hashable(c.before), _hashable(c.after)) for c in changes)
        known = self._changes.get(key)
        if known is None:
            items = [c.as_dict() for c in changes]
            known = self._changes[key] = (_json(items, sort_keys=False), _json(items))
        return known

    def evidence(self, evidence: Mapping[str, Any]) -> str:
        """The evidence as stored (rows share their evidence dict: it is encoded once)."""
        return self._evidence_of(evidence)[1]

    def _evidence_of(self, evidence: Mapping[str, Any]) -> tuple[Mapping[str, Any], str, str]:
        known = self._evidence.get(id(evidence))
        if known is None:  # the dict is kept in the entry, so its id is not reused meanwhile
            known = self._evidence[id(evidence)] = (evidence, _json(dict(evidence), sort_keys=False),
                                                    _json(dict(evidence)))
        return known

    def hash(self, subscriber_id: str, version: int, prev_hash: str | None, changes: str,
             evidence: Mapping[str, Any], locale: str | None) -> str:
        """The event's hash; ``changes`` is its hashed JSON (see :meth:`changes`)."""
        middle = self._middles.get((id(evidence), locale))
        if middle is None:
            literals = self._literals
            middle = literals[1] + self._evidence_of(evidence)[2] + literals[2] + _json(locale) + literals[3]
            self._middles[(id(evidence), locale)] = middle
        first, _, _, _, after_prev, after_id, last = self._literals
        prev, sid = _quoted(prev_hash), _quoted(subscriber_id)
        text = f"{first}{changes}{middle}{prev}{after_prev}{sid}{after_id}{version}{last}"
        return hashlib.sha256(text.encode()).hexdigest()


_PLAIN = re.compile(r"[A-Za-z0-9_-]*")


def _quoted(text: str | None) -> str:
    """``json.dumps(text)``, quicker for ids and hashes (nothing to escape in them)."""
    if text is not None and _PLAIN.fullmatch(text):
        return f'"{text}"'
    return _json(text)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
