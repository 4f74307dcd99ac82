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
subscriber id, and ids spread at random over a large B-tree make each batch touch (and
write at commit) most of its pages. Writing the rows of 400,000 subscribers with plain
sqlite3 took 75 s with ids from ``new_subscriber_id()`` and 29 s with one random prefix
per batch of 5,000 and random suffixes, which land in one narrow key range. (The ids
are handed to rows in random order, so they do not follow the file's order.)
The ids keep the usual format (``sub_`` + 22 URL-safe characters) and 96 random bits
each; what the prefix tells (these subscribers were imported together) the events'
common ``occurred_at`` already says.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import hmac
import json
import re
import secrets
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence

from sqlalchemy import Connection, Integer, String, bindparam, cast, func, literal, select
from sqlalchemy.engine import Dialect

from ..centers.model import Center
from ..ledger import HASHED_FIELDS, Change, canonical
from ..preferences import OPTED_OUT, UNKNOWN, Preferences, diff, suppress_all
from .schema import (
    contact_points,
    events,
    subscriber_interests,
    subscribers,
    subscriptions,
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
    """Import ``rows`` in the caller's transaction: ``Store.writing()`` (which holds the feed's
    commit order from its start, as event ids require), or any transaction for a dry run."""
    with paused_gc():
        return _import_rows(connection, center, rows, patch, actor, lookup_key, now, dry_run)


def _import_rows(connection: Connection, center: Center, rows: Sequence[Row], patch: Patch, actor: str,
                 lookup_key: bytes, now: datetime, dry_run: bool) -> Outcome:
    outcome = Outcome()
    sql = _Sql(connection.dialect)
    found = _existing(connection, sql, center.id, [r.external_id for r in rows], lock=not dry_run)
    _load_choices(connection, sql, found)
    hashes = [lookup_hash(lookup_key, center.id, r.email) if r.email else None for r in rows]
    owners, erased = _contact_owners(connection, sql, sorted(h for h in hashes if h))
    plan = _Plan(center, now, patch, sql)
    claimed: dict[str, int] = {}  # address hash -> the row of this batch that gives it
    for row, email_hash in zip(rows, hashes, strict=True):
        current = found.get(row.external_id)
        owner = owners.get(email_hash) if email_hash else None
        if email_hash in claimed:
            outcome.rejected.append((row.number, f"row {row.number}: email: already in this batch "
                                                 f"(row {claimed[email_hash]})"))
            continue
        if owner is not None and (current is None or owner != current.id):
            outcome.rejected.append((row.number, f"row {row.number}: email: already a contact point of another "
                                                 "subscriber of this center"))
            continue
        if email_hash is not None:
            claimed[email_hash] = row.number
        if owner is not None or (current is not None and current.has_email):
            email_hash = None  # held already: an import adds an address, never replaces one
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


def _existing(connection: Connection, sql: _Sql, center: str, external_ids: list[str], *,
              lock: bool) -> dict[str, _Current]:
    """Subscribers of ``center`` holding these external ids (erased ones hold none), with their last hash."""
    found: dict[str, _Current] = {}
    query = ("SELECT s.id, s.external_id, s.version, s.locale, s.suppressed, s.paused_until, e.hash "
             "FROM subscribers s LEFT JOIN events e ON e.subscriber_id = s.id AND e.version = s.version "
             "WHERE s.center = {m} AND s.external_id IN ({marks})")
    if lock and sql.dialect.name == "postgresql":  # SQLite has one writer at a time
        query += " FOR UPDATE OF s"
    for sid, external_id, version, locale, suppressed, paused_until, last_hash in sql.select_in(
            connection, query, external_ids, center):
        prefs = Preferences(version=version, paused_until=sql.from_time(paused_until), suppressed=bool(suppressed))
        found[external_id] = _Current(sid, version, locale, last_hash, prefs)
    return found


def _load_choices(connection: Connection, sql: _Sql, found: dict[str, _Current]) -> None:
    """Fill in the current subscriptions, frequencies, interests and e-mail presence of ``found``."""
    if not found:
        return
    by_id = {c.id: c for c in found.values()}
    ids = list(by_id)
    subs: dict[str, dict] = defaultdict(dict)
    freqs: dict[str, dict] = defaultdict(dict)
    interests: dict[str, set] = defaultdict(set)
    for sid, topic, channel, state in sql.select_in(
            connection, "SELECT subscriber_id, topic, channel, state FROM subscriptions "
                        "WHERE subscriber_id IN ({marks})", ids):
        subs[sid][(topic, channel)] = state
    for sid, topic, frequency in sql.select_in(
            connection, "SELECT subscriber_id, topic, frequency FROM topic_settings "
                        "WHERE frequency IS NOT NULL AND subscriber_id IN ({marks})", ids):
        freqs[sid][topic] = frequency
    for sid, interest in sql.select_in(
            connection, "SELECT subscriber_id, interest FROM subscriber_interests WHERE subscriber_id IN ({marks})",
            ids):
        interests[sid].add(interest)
    for (sid,) in sql.select_in(
            connection, "SELECT subscriber_id FROM contact_points WHERE kind = 'email' AND subscriber_id IN ({marks})",
            ids):
        by_id[sid].has_email = True
    for sid, current in by_id.items():
        base = current.preferences
        current.preferences = Preferences(version=base.version, subscriptions=subs.get(sid, {}),
                                          frequencies=freqs.get(sid, {}), interests=frozenset(interests.get(sid, ())),
                                          paused_until=base.paused_until, suppressed=base.suppressed)


def _contact_owners(connection: Connection, sql: _Sql, hashes: list[str]) -> tuple[dict[str, str], set[str]]:
    """Who holds each address already, and which addresses were erased (by keyed hash).

    The hash covers the center, so an address held in another center does not match.
    """
    owners = dict(sql.select_in(
        connection, "SELECT lookup_hash, subscriber_id FROM contact_points WHERE lookup_hash IN ({marks})", hashes))
    erased = {h for (h,) in sql.select_in(
        connection, "SELECT lookup_hash FROM suppressions WHERE lookup_hash IN ({marks})", hashes)}
    return owners, erased


def lookup_hash(key: bytes, center: str, value: str) -> str:
    """``contacts.lookup_hash(key, center, "email", value)``, with the one-shot HMAC (twice as fast)."""
    return hmac.digest(key, f"{center}\x00email\x00{value.strip().lower()}".encode(), "sha256").hex()


# -- deciding and writing -------------------------------------------------------------


def _batch_ids(count: int) -> list[str]:
    """``count`` new subscriber ids: one random prefix, random suffixes (see the module docstring).

    Each suffix is 12 random bytes (16 characters); they are drawn all at once.
    """
    prefix = "sub_" + secrets.token_urlsafe(6)[:6]
    drawn = base64.urlsafe_b64encode(secrets.token_bytes(12 * count)).decode()
    # Handed out in random order: sorted, they would follow the file's order (often a CRM
    # number or a sign-up date) and say something. Rows are inserted sorted by id instead.
    return [prefix + drawn[i:i + 16] for i in range(0, 16 * count, 16)]


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while a batch builds its rows.

    A batch allocates hundreds of thousands of tuples that hold no cycles; the collector
    kept walking them (and the whole app) for nothing: a sixth of the time of a batch. A
    concurrent batch may switch it back on early, which only costs it that time.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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

    def __init__(self, center: Center, now: datetime, patch: Patch, sql: _Sql) -> None:
        self.center = center
        self.sql = sql
        self.now = now
        self.patch = patch
        self.new: list[tuple[Row, str | None, tuple[_Fresh, ...] | None]] = []
        self.updates: list[tuple] = []  # (row, current, desired, changes, email hash, locale)
        self._fresh: dict[int, _Fresh] = {}  # id(part) -> what it gives (the rows keep the parts alive)
        self._resolved = False
        self._counts: list[tuple[_Fresh, int]] = []  # each _Fresh, and how many new subscribers get it
        self._changes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def create(self, row: Row, email_hash: str | None, suppress: bool) -> None:
        if suppress or row.suppress:
            desired = self.patch(Preferences(), row.choices)
            if suppress:
                desired = suppress_all(self.center, desired)
            self.new.append((row, email_hash, (_Fresh.of(desired, diff(Preferences(), desired)),)))
        else:  # diff(empty, parts together) is the parts' diffs one after the other: see _resolve
            self.new.append((row, email_hash, None))

    def _resolve(self) -> None:
        """Give every new row its parts' :class:`_Fresh` (each made once) and count them for the report."""
        if self._resolved:
            return
        self._resolved = True
        fresh, made = self._fresh, []
        for i, (row, email_hash, parts) in enumerate(self.new):
            if parts is None:
                parts = tuple([fresh.get(id(p)) or self._fresh_of(p) for p in row.parts])
                self.new[i] = (row, email_hash, parts)
            made += parts
        counts = Counter(map(id, made))
        self._counts = [(f, counts[id(f)]) for f in {id(f): f for f in made}.values()]

    def _fresh_of(self, part: Preferences) -> _Fresh:
        made = self._fresh[id(part)] = _Fresh.of(part, diff(Preferences(), part))
        return made

    def update(self, row: Row, current: _Current, email_hash: str | None, suppress: bool) -> bool:
        """Plan the change of an existing subscriber; False when the row changes nothing."""
        before = current.preferences
        desired = keep_withdrawals(before, self.patch(before, row.choices))
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
        self._resolve()
        for fresh, count in self._counts:
            for change in fresh.changes:
                self._changes[change.path][_tally_key(change.after)] += count
        return {path: dict(sorted(counts.items())) for path, counts in sorted(self._changes.items())}

    def write(self, connection: Connection, *, actor: str) -> None:
        if not self.new and not self.updates:
            return
        self._resolve()
        sql, center = self.sql, self.center.id
        now = sql.time(self.now)
        hasher = _Hasher(center, actor, self.now, now)
        before = event_id = connection.scalar(_last_event_id)  # Store.writing holds the commit order since BEGIN
        times = sql.times
        new_subscribers, contacts, appended, states, settings, interests = [], [], [], [], [], []
        for sid, (row, email_hash, parts) in zip(_batch_ids(len(self.new)), self.new, strict=True):
            changed = [f for f in parts if f.changes]
            suppressed = len(parts) == 1 and parts[0].suppressed  # only a row's own _Fresh can suppress
            new_subscribers.append((sid, center, 1 if changed else 0, row.locale, suppressed, now, now,
                                    row.external_id))
            if email_hash:
                contacts.append((sid, "email", email_hash, row.email.strip()))
            if not changed:
                continue
            event_id += 1  # the ids the events will get, in this order (checked after inserting them)
            if len(changed) == 1:
                stored, hashed = "[" + changed[0].stored + "]", "[" + changed[0].hashed + "]"
            else:
                stored = "[" + ",".join(f.stored for f in changed) + "]"
                hashed = "[" + ",".join(f.hashed for f in changed) + "]"
            appended.append(hasher.event(sid, 1, None, row, stored, hashed))
            since = times.get(row.since) or sql.time(row.since)
            for fresh in changed:  # a part has rows for one table only
                if fresh.states:
                    states += [(sid, t, c, s, "consent", since, event_id) for t, c, s in fresh.states]
                if fresh.settings:
                    settings += [(sid, t, f) for t, f in fresh.settings]
                if fresh.interests:
                    interests += [(sid, i) for i in fresh.interests]
        bumps, cleared = [], ([], [], [])
        for row, current, desired, changes, email_hash, locale in self.updates:
            version = current.version + (1 if changes else 0)
            bumps.append((version, desired.suppressed, locale or current.locale, now, current.id, current.version))
            if email_hash:
                contacts.append((current.id, "email", email_hash, row.email.strip()))
            if changes:
                event_id += 1
                appended.append(hasher.event(current.id, version, current.last_hash, row, *hasher.changes(changes)))
                _changed_state_rows(sql, current, row, desired, event_id, states, settings, interests, cleared)
        sql.insert(connection, subscribers, ("id", "center", "version", "locale", "suppressed", "created_at",
                                             "updated_at", "external_id"), sorted(new_subscribers))
        if bumps and sql.update_versions(connection, bumps) != len(bumps):
            raise RuntimeError("a subscriber changed during the import batch")  # cannot happen under the write lock
        sql.insert(connection, contact_points, ("subscriber_id", "kind", "lookup_hash", "value"), sorted(contacts))
        if appended:
            sql.insert(connection, events, ("subscriber_id", "center", "version", "occurred_at", "source", "actor",
                                            "changes", "locale", "evidence", "prev_hash", "hash"), appended)
            if tuple(connection.execute(_appended_range, {"after": before}).one()) != (before + 1, event_id):
                states = _renumbered(connection, states, before)  # a sequence with gaps (PostgreSQL)
            connection.execute(_enqueue_since, {"after": before, "center": center, "now": self.now})
        sql.delete_changed(connection, *cleared)
        sql.insert(connection, subscriptions, ("subscriber_id", "topic", "channel", "state", "legal_basis", "since",
                                               "event_id"), states)
        sql.insert(connection, topic_settings, ("subscriber_id", "topic", "frequency"), settings)
        sql.insert(connection, subscriber_interests, ("subscriber_id", "interest"), interests)


def _renumbered(connection: Connection, states: list[tuple], before: int) -> list[tuple]:
    """The subscription rows with the event ids the events actually got."""
    ids = {sid: event_id for event_id, sid in connection.execute(_appended_since, {"after": before})}
    return [(*state[:-1], ids[state[0]]) for state in states]


def keep_withdrawals(before: Preferences, desired: Preferences) -> Preferences:
    """Legacy data never takes back a withdrawal: what is ``opted_out`` here stays so.

    A re-run of an old file after the person unsubscribed here must not re-subscribe
    them (and must report the row unchanged).
    """
    withdrawn = {key: state for key, state in before.subscriptions.items() if state == OPTED_OUT}
    if all(desired.state(*key) == OPTED_OUT for key in withdrawn):
        return desired
    return replace(desired, subscriptions={**desired.subscriptions, **withdrawn})


def _tally_key(value: Any) -> str:
    """The report counts changes per value reached: a state, a frequency, ``true``..."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "changed"  # interests: a list


def _changed_state_rows(sql: _Sql, current: _Current, row: Row, desired: Preferences, event_id: int, states: list,
                        settings: list, interests: list, cleared: tuple[list, list, list]) -> None:
    """What ``Store._write_state`` does for one subscriber, as rows for ``executemany``."""
    before, sid = current.preferences, current.id
    since = sql.time(row.since)
    changed = sorted(k for k in set(before.subscriptions) | set(desired.subscriptions)
                     if before.state(*k) != desired.state(*k))
    cleared[0].extend((sid, topic, channel) for topic, channel in changed)
    states.extend((sid, t, c, s, "consent", since, event_id) for t, c in changed
                  if (s := desired.state(t, c)) != UNKNOWN)
    if before.frequencies != desired.frequencies:
        cleared[1].append((sid,))
        settings.extend((sid, t, f) for t, f in sorted(desired.frequencies.items()))
    if before.interests != desired.interests:
        cleared[2].append((sid,))
        interests.extend((sid, i) for i in sorted(desired.interests))


_last_event_id = select(func.coalesce(func.max(events.c.id), 0))
_appended_since = select(events.c.id, events.c.subscriber_id).where(events.c.id > bindparam("after"))
_appended_range = select(func.min(events.c.id), func.max(events.c.id)).where(events.c.id > bindparam("after"))

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
        stored_as = subscribers.c.created_at.type.dialect_impl(dialect)
        self._to_driver = stored_as.bind_processor(dialect) or (lambda v: v)
        self._from_driver = stored_as.result_processor(dialect, None) or (lambda v: v)
        self.times: dict[datetime, Any] = {}  # datetime -> its stored form

    def from_time(self, stored: Any) -> datetime | None:
        return self._from_driver(stored) if stored is not None else None

    def select_in(self, connection: Connection, query: str, values: Sequence[Any], *before: Any) -> Iterator[tuple]:
        """Rows of ``query`` (``{m}`` a parameter, ``{marks}`` the ``IN`` list) for ``values``, chunk by chunk."""
        for start in range(0, len(values), CHUNK):
            chunk = list(values[start:start + CHUNK])
            text = query.format(m=self.mark, marks=", ".join([self.mark] * len(chunk)))
            yield from connection.exec_driver_sql(text, (*before, *chunk))

    def time(self, moment: datetime) -> Any:
        converted = self.times.get(moment)
        if converted is None:
            converted = self.times[moment] = self._to_driver(moment)
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

    def __init__(self, center: str, actor: str, occurred_at: datetime, occurred_stored: Any) -> None:
        self.center, self.actor, self.occurred = center, actor, occurred_stored
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
        self._evidence: dict[int, tuple[str, str]] = {}
        self._kept: list[Mapping[str, Any]] = []
        self._middles: dict[tuple[str, str | None], str] = {}

    def changes(self, changes: Sequence[Change]) -> tuple[str, str]:
        """(stored, hashed) JSON of a list of changes."""
        key = tuple((c.path, _hashable(c.before), _hashable(c.after)) for c in changes)
        known = self._changes.get(key)
        if known is None:
            items = [c.as_dict() for c in changes]
            known = self._changes[key] = (_json(items, sort_keys=False), _json(items))
        return known

    def event(self, subscriber_id: str, version: int, prev_hash: str | None, row: Row, stored: str,
              hashed: str) -> tuple:
        """An events row: ``stored`` and ``hashed`` are its changes as :meth:`changes` encodes them."""
        evidence, evidence_hashed = self._evidence_of(row.evidence)
        middle = self._middles.get((evidence_hashed, row.locale))
        if middle is None:
            literals = self._literals
            middle = literals[1] + evidence_hashed + literals[2] + _quoted(row.locale) + literals[3]
            self._middles[(evidence_hashed, row.locale)] = middle
        first, _, _, _, after_prev, after_id, last = self._literals
        prev, sid = _quoted(prev_hash), _quoted(subscriber_id)
        text = f"{first}{hashed}{middle}{prev}{after_prev}{sid}{after_id}{version}{last}"
        digest = hashlib.sha256(text.encode()).hexdigest()
        return (subscriber_id, self.center, version, self.occurred, "import", self.actor, stored, row.locale,
                evidence, prev_hash, digest)

    def _evidence_of(self, evidence: Mapping[str, Any]) -> tuple[str, str]:
        """(stored, hashed) JSON of an evidence; rows share their evidence dict, so it is encoded once."""
        known = self._evidence.get(id(evidence))
        if known is None:
            known = _evidence_json(evidence)
            self._evidence[id(evidence)] = known
            self._kept.append(evidence)  # its id stays its own while this hasher lives
        return known


def _evidence_json(evidence: Mapping[str, Any]) -> tuple[str, str]:
    if set(evidence) == {"legacy_source", "legacy_date"}:  # what imports record: no need for json.dumps
        source, day = _quoted(evidence["legacy_source"]), _quoted(evidence["legacy_date"])
        return (f'{{"legacy_source":{source},"legacy_date":{day}}}',
                f'{{"legacy_date":{day},"legacy_source":{source}}}')
    return _json(dict(evidence), sort_keys=False), _json(dict(evidence))


_PLAIN = re.compile(r'[^"\\\x00-\x1f]*')  # what json.dumps(ensure_ascii=False) writes as it is


def _quoted(text: Any) -> str:
    """``json.dumps(text, ensure_ascii=False)``, quicker when there is nothing to escape."""
    if text is None:
        return "null"
    if isinstance(text, str) and _PLAIN.fullmatch(text):
        return f'"{text}"'
    return _json(text)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
