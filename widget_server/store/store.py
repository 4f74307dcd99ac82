"""The subscriber store: read a subscriber's preferences, write a change with its proof.

One interface over SQLAlchemy Core, for SQLite and PostgreSQL alike. Every write is a
single transaction that updates the state *and* appends the consent event chained to
the previous one, so there is never a state without its proof or a proof without its
state. The subscriber's ``version`` is bumped with a compare-and-set
(``UPDATE ... WHERE version = :seen``), which is what refuses a stale form on every
engine; on SQLite a process-wide lock plus ``BEGIN IMMEDIATE`` also queues writers
instead of letting them spin on ``SQLITE_BUSY``.

A write the database cannot store (a full disk, a read-only file or database, a server
out of reach: :func:`.engine.storage_fault` says which errors) is raised from
:meth:`Store.writing` as :class:`~widget_server.errors.StorageUnavailable`, whichever
surface wrote, and :class:`WriteHealth` remembers it until a write commits again, for
``/readyz``.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, TypeVar, cast

import anyio
from sqlalchemy import Connection, Engine, insert, text, update
from sqlalchemy.exc import DBAPIError

from ..chain_keys import ChainKeys
from ..errors import StorageUnavailable
from ..ledger import Anchor, Break, ChainReport, Change, EventContext, seal, verify_chain
from ..preferences import Basis, Preferences, diff, settle_bases
from . import chain, confirmations, contacts, feed, migrate, writes
from . import queries as q
from .engine import WRITE, outcome_unknown, storage_fault
from .notice_texts import NoticeTexts
from .tables import (
    subscribers,
)

Clock = Callable[[], datetime]
T = TypeVar("T")

log = logging.getLogger("widget_server.store")

#: The write ``/readyz`` tries while writes fail: it changes nothing, yet it commits (a
#: page of the WAL on SQLite, a row version on PostgreSQL), so it fails as a real one does.
PROBE = text("UPDATE alembic_version SET version_num = version_num")


def _next_second(moment: datetime) -> datetime:
    """The start of the second after ``moment``."""
    return moment.replace(microsecond=0) + timedelta(seconds=1)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Subscriber:
    """A subscriber as one center knows them, with their current preferences."""

    id: str
    center: str
    locale: str | None
    valid_after: datetime | None
    preferences: Preferences
    external_id: str | None = None
    updated_at: datetime | None = None  # the time of the latest change (its event's time)
    erased_at: datetime | None = None
    last_source: str | None = None  # where the latest change came from (web, kiosk, call_center...)


@dataclass(frozen=True)
class SaveResult:
    """What a save did: ``saved`` (an event was written), ``unchanged`` or ``repeat``."""

    outcome: str
    preferences: Preferences
    changes: tuple[Change, ...] = ()
    event_id: int | None = None


class StoreError(Exception):
    """Base of the store's errors."""


class UnknownSubscriber(StoreError):
    """No such subscriber in this center."""


class VersionConflict(StoreError):
    """The form was rendered from an older version and asks for something else.

    ``current`` is the fresh state, to show the person what changed meanwhile.
    """

    def __init__(self, current: Preferences) -> None:
        super().__init__(f"preferences changed meanwhile (now at version {current.version})")
        self.current = current


@dataclass(frozen=True)
class WriteFailure:
    """Writes are failing: why (the engine's words), since when, how many so far."""

    reason: str
    since: datetime
    count: int


class WriteHealth:
    """Whether this process's writes are being stored: the last failure, cleared by the
    next write that commits. ``/readyz`` reads it; each change of state is logged once,
    each failed write in one line, naming the cause (never data)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failing: WriteFailure | None = None

    @property
    def failing(self) -> WriteFailure | None:
        return self._failing

    def failed(self, reason: str, now: datetime) -> None:
        with self._lock:
            was = self._failing
            self._failing = now_failing = WriteFailure(reason, was.since if was else now, was.count + 1 if was else 1)
        if was is None or was.reason != reason:
            log.error("writes failing: %s; writes are answered 503 until one is stored", reason)
        else:
            log.warning("write not stored: %s (%d failed since %s)", reason, now_failing.count,
                        now_failing.since.isoformat(timespec="seconds"))

    def succeeded(self) -> None:
        if self._failing is None:  # the usual case: no lock taken
            return
        with self._lock:
            was, self._failing = self._failing, None
        if was is not None:
            log.warning("writes succeed again, after %d failed since %s (%s)", was.count,
                        was.since.isoformat(timespec="seconds"), was.reason)


def new_subscriber_id() -> str:
    """Opaque and random: it must say nothing about the person."""
    return "sub_" + secrets.token_urlsafe(16)


class Store:
    """Subscribers, their preferences and their consent events."""

    def __init__(self, engine: Engine, *, lookup_key: bytes, clock: Clock = utcnow,
                 chain_keys: ChainKeys | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self._lookup_key = lookup_key
        # Without WIDGET_CHAIN_KEYS the chain is keyed under a key derived from the lookup key
        # (chain_keys.py says why that one).
        self.chain_keys = chain_keys or ChainKeys.of([lookup_key])
        # The hashes of the wording our surfaces show, which their events name (filled at start).
        self.notice_texts = NoticeTexts()
        self._serial = threading.Lock() if engine.dialect.name == "sqlite" else None
        self.write_health = WriteHealth()

    # -- lifecycle -------------------------------------------------------------------

    def migrate(self) -> None:
        migrate.upgrade(self.engine, self.chain_keys)

    def ready(self) -> tuple[bool, str]:
        """(ready, why not): the database answers, no migration is pending, writes are stored."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                read_only = self._read_only(connection)
            if migrate.pending(self.engine):
                return False, "migrations pending"
        except Exception as exc:  # noqa: BLE001 - any driver error means "not ready"
            return False, f"database unreachable ({type(exc).__name__})"
        failing = read_only or self._still_failing()
        return (False, f"writes failing: {failing}") if failing else (True, "ok")

    def _still_failing(self) -> str | None:
        """After a failed write, whether writes still fail: :data:`PROBE` is tried, so a
        recovery is seen without a visitor having to try first (a load balancer sends no
        one to a server that is not ready). Nothing is written while writes succeed."""
        if self.write_health.failing is None:
            return None
        try:
            with self.writing() as connection:
                connection.execute(PROBE)
        except StorageUnavailable as still:
            return still.reason
        return None

    @staticmethod
    def _read_only(connection: Connection) -> str | None:
        """On PostgreSQL, what the server says without a write: a standby, or read-only
        transactions by default. (SQLite has no such question: ``BEGIN IMMEDIATE`` succeeds on
        a read-only file, and only a write that needs space finds a full disk.)"""
        if connection.dialect.name != "postgresql":
            return None
        standby, read_only = connection.execute(
            text("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")).one()
        if standby:
            return "the server is a standby (in recovery)"
        return "cannot execute in a read-only transaction" if read_only == "on" else None

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction; on SQLite, one at a time in this process.

        The ``*_in`` methods take this connection, so a caller (the API) can put its own
        rows, such as an idempotency record, in the same transaction as a change.

        The one place where an engine's "cannot write" becomes
        :class:`~widget_server.errors.StorageUnavailable` (503): at the start, in a
        statement or at the commit; the transaction rolled back, nothing was changed.
        Except for a PostgreSQL connection lost during the COMMIT itself, which may have
        committed: that stays the error it was (a 500, logged), never "nothing changed".
        """
        committing = False
        try:
            with self._serial or nullcontext():
                with self.engine.connect().execution_options(**WRITE) as connection, connection.begin():
                    # Before any row lock, so writers queue in one order and cannot deadlock.
                    feed.hold_commit_order(connection)
                    yield connection
                    committing = True  # the body is done: leaving the block commits
        except (DBAPIError, sqlite3.Error) as error:
            reason = storage_fault(error)
            if reason is None:
                raise
            self.write_health.failed(reason, self.clock())
            if committing and outcome_unknown(error):
                raise
            raise StorageUnavailable(reason=reason) from error
        self.write_health.succeeded()

    # -- reading ---------------------------------------------------------------------

    def get(self, center: str, subscriber_id: str) -> Subscriber | None:
        with self.engine.connect() as connection:
            return self.get_in(connection, center, subscriber_id)

    def get_in(self, connection: Connection, center: str, subscriber_id: str) -> Subscriber | None:
        row = connection.execute(q.subscriber_row, {"sid": subscriber_id, "center": center}).first()
        if row is None:
            return None
        subscriptions_: dict[tuple[str, str], str] = {}
        frequencies: dict[str, str] = {}
        interests: set[str] = set()
        bases: dict[tuple[str, str], Basis] = {}
        rows = cast(Iterable[tuple[str, str, str, str, str, datetime, datetime | None, str | None]],
                    connection.execute(q.choices, {"sid": subscriber_id}))
        for kind, key, detail, value, legal_basis, since, until, reason in rows:
            if kind == "s":
                subscriptions_[(key, detail)] = value
                bases[(key, detail)] = Basis(legal_basis, since, until, reason)
            elif kind == "f":
                frequencies[key] = value
            else:
                interests.add(key)
        prefs = Preferences(
            version=row.version,
            subscriptions=subscriptions_,
            frequencies=frequencies,
            interests=frozenset(interests),
            paused_until=row.paused_until,
            suppressed=row.suppressed,
            bases=bases,
            country=row.country,
        )
        return Subscriber(row.id, row.center, row.locale, row.valid_after, prefs,
                          row.external_id, row.updated_at, row.erased_at, row.last_source)

    def events(self, subscriber_id: str) -> list[dict]:
        """Every event of a subscriber, oldest first, as plain dicts."""
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(q.events_of, {"sid": subscriber_id})]

    def last_event(self, subscriber_id: str) -> dict | None:
        """A subscriber's latest event (one row read, however long the history), or ``None``."""
        with self.engine.connect() as connection:
            row = connection.execute(q.last_event_of, {"sid": subscriber_id}).first()
        return dict(row._mapping) if row is not None else None

    def recent_events(self, subscriber_id: str, limit: int, before: int | None = None) -> list[dict]:
        """A subscriber's ``limit`` latest events (of versions below ``before``, for the next page),
        newest first: version, time, source, changes, evidence."""
        with self.engine.connect() as connection:
            rows = connection.execute(q.recent_events_of, {"sid": subscriber_id, "n": limit,
                                                           "before": before if before is not None else 2**31 - 1})
            return [dict(row._mapping) for row in rows]

    def verify_chain(self, subscriber_id: str) -> ChainReport:
        """One subscriber's chain checked under this store's keys, with its anchor
        (``store/verification.py`` checks a whole database)."""
        with self.engine.connect() as connection:
            row = connection.execute(q.anchor_of, {"sid": subscriber_id}).first()
            events = [dict(r._mapping) for r in connection.execute(q.events_of, {"sid": subscriber_id})]
        if row is None:  # events without their subscriber's row (or none at all): nothing anchors them
            found = verify_chain(events, self.chain_keys, subscriber_id=subscriber_id)
            gone = Break(None, None, "no subscriber row holds these events") if events else None
            return replace(found, breaks=(gone, *found.breaks)) if gone else found
        return verify_chain(events, self.chain_keys, anchor=Anchor(row.chain_count, row.chain_hash, row.chain_seal),
                            subscriber_id=subscriber_id, center=row.center, version=row.version)

    # -- writing ---------------------------------------------------------------------

    def create_subscriber(self, center: str, **details: Any) -> str:
        """A new subscriber (``details`` as for :meth:`create_in`), in its own transaction."""
        with self.writing() as connection:
            return self.create_in(connection, center, **details)

    def create_in(
        self,
        connection: Connection,
        center: str,
        *,
        locale: str | None = None,
        preferences: Preferences | None = None,
        email: str | None = None,
        external_id: str | None = None,
        context: EventContext | None = None,
    ) -> str:
        """A new subscriber, inside the caller's write transaction.

        Initial choices, if any, are recorded as its first event.
        """
        subscriber_id = new_subscriber_id()
        now = self.clock()
        connection.execute(
            insert(subscribers).values(
                id=subscriber_id, center=center, version=0, locale=locale, external_id=external_id,
                suppressed=False, created_at=now, updated_at=now,
                chain_count=0, chain_hash=None, chain_seal=seal(self.chain_keys, subscriber_id, 0, None),
            )
        )
        if email:
            contacts.add(connection, self._lookup_key, center, subscriber_id, "email", email)
        if preferences is not None:
            context = context or EventContext(source="system", actor="system")
            self._apply(connection, center, subscriber_id, Preferences(), preferences, context, None)
        return subscriber_id

    def save(
        self,
        center: str,
        subscriber_id: str,
        desired: Preferences,
        *,
        base_version: int,
        context: EventContext,
        submission_id: str | None = None,
        seen: Preferences | None = None,
    ) -> SaveResult:
        """Write ``desired`` if it was chosen from the current version.

        A form saved twice (same ``submission_id``) is a ``repeat``; a stale form that asks
        for exactly the current state is ``unchanged``; a stale form asking for anything
        else raises :class:`VersionConflict` rather than overwrite someone's newer choice.

        ``seen`` is the state the caller read and built ``desired`` from. When it is at
        ``base_version`` the write skips re-reading it: the version compare-and-set proves
        nothing changed since, and keeps the write lock short.
        """
        with self.writing() as connection:
            return self.save_in(connection, center, subscriber_id, desired, base_version=base_version,
                                context=context, submission_id=submission_id, seen=seen)

    def save_in(
        self,
        connection: Connection,
        center: str,
        subscriber_id: str,
        desired: Preferences,
        *,
        base_version: int,
        context: EventContext,
        submission_id: str | None = None,
        seen: Preferences | None = None,
        extra_changes: tuple[Change, ...] = (),
    ) -> SaveResult:
        """:meth:`save` inside the caller's write transaction.

        ``extra_changes`` are recorded besides the diff (an erasure says so in its event).
        """
        if seen is not None and seen.version == base_version:
            try:
                return self._apply(connection, center, subscriber_id, seen, desired, context, submission_id,
                                   extra_changes)
            except VersionConflict as stale:
                current = stale.current
        else:
            subscriber = self.get_in(connection, center, subscriber_id)
            if subscriber is None:
                raise UnknownSubscriber(subscriber_id)
            current = subscriber.preferences
        if current.version != base_version:
            # A repeat always arrives stale: saving it the first time moved the version on.
            if submission_id and self._seen_submission(connection, subscriber_id, submission_id):
                return SaveResult("repeat", current)
            if desired.same_choices(current):
                return SaveResult("unchanged", current)
            raise VersionConflict(current)
        return self._apply(connection, center, subscriber_id, current, desired, context, submission_id,
                           extra_changes)

    async def run_sync(self, call: Callable[..., T], *args: Any, large: bool = False) -> T:
        """Run a synchronous store call (a read) for an async caller.

        On SQLite a small read (one subscriber) takes less time than handing it to a
        thread, so it runs inline; on a networked engine, and for a ``large`` read whose
        size the caller chooses (a feed page, an export), it runs in a worker thread, so
        it cannot hold up every other request on the event loop.
        """
        if self._serial is not None and not large:
            return call(*args)
        return await anyio.to_thread.run_sync(call, *args)

    def revoke_links(self, subscriber_id: str) -> datetime | None:
        """Every link signed until now stops working (:meth:`revoke_links_in`, in its own transaction)."""
        with self.writing() as connection:
            return self.revoke_links_in(connection, subscriber_id)

    def revoke_links_in(self, connection: Connection, subscriber_id: str, center: str | None = None) -> datetime | None:
        """Every link signed until now stops working, inside the caller's write transaction.

        Links carry their signing time in whole seconds, so "valid after" is the start of
        the next second: a link signed in the very second of the revocation (the page's
        own, a moment before) is revoked with the others, and a new one works from the
        next second. Returns that instant, or None when there is no such subscriber (of
        ``center``, when given) or they are erased.
        """
        after = _next_second(self.clock())
        query = update(subscribers).where(subscribers.c.id == subscriber_id, subscribers.c.erased_at.is_(None))
        if center is not None:
            query = query.where(subscribers.c.center == center)
        done = connection.execute(query.values(valid_after=after))
        return after if done.rowcount == 1 else None

    def _seen_submission(self, connection: Connection, subscriber_id: str, submission_id: str) -> bool:
        seen = connection.execute(q.submission_seen, {"sid": subscriber_id, "submission": submission_id})
        return seen.first() is not None

    def _apply(
        self,
        connection: Connection,
        center: str,
        subscriber_id: str,
        current: Preferences,
        desired: Preferences,
        context: EventContext,
        submission_id: str | None,
        extra_changes: tuple[Change, ...] = (),
    ) -> SaveResult:
        now = self.clock()
        desired = settle_bases(current, desired, now)  # every changed subscription has its basis
        changes = diff(current, desired) + list(extra_changes)
        if not changes:
            return SaveResult("unchanged", current)
        version = current.version + 1
        # The wording a surface of ours showed: its region's notice is the one of the country it was shown for.
        context = self.notice_texts.attach(center, context, connection, current.country)
        link = chain.next_link(connection, subscriber_id)
        record = None
        if link is not None:
            record = chain.event_record(self.chain_keys, link, center, subscriber_id, version, now, changes,
                                        context, submission_id)
            bumped = connection.execute(q.bump_version, {
                "sid": subscriber_id, "seen": current.version, "version": version,
                "paused_until": desired.paused_until, "suppressed": desired.suppressed, "now": now,
                **chain.anchor(self.chain_keys, subscriber_id, version, record["hash"]),
            })
        if record is None or bumped.rowcount != 1:  # another writer got there first, or the subscriber is gone
            latest = self.get_in(connection, center, subscriber_id)
            if latest is None:
                raise UnknownSubscriber(subscriber_id)
            raise VersionConflict(latest.preferences)
        event_id = chain.append_event(connection, record)
        writes.write_preferences(connection, subscriber_id, current, desired, now, event_id)
        # A double opt-in's mail, in this transaction: it exists if and only if the write does.
        confirmations.queue_confirmation(connection, self._lookup_key, center, subscriber_id, changes,
                                         context.locale, now)
        return SaveResult("saved", replace(desired, version=version), tuple(changes), event_id)

    # -- contact points (see .contacts) -----------------------------------------------

    @property
    def lookup_key(self) -> bytes:
        """The key contact points are hashed under (bulk writers hash many at once)."""
        return self._lookup_key

    def lookup_hash(self, center: str, kind: str, value: str) -> str:
        return contacts.lookup_hash(self._lookup_key, center, kind, value)

    def find_by_contact(self, center: str, kind: str, value: str) -> str | None:
        """The subscriber id behind a contact point, found through its keyed hash."""
        with self.engine.connect() as connection:
            return contacts.subscriber_of(connection, self._lookup_key, center, kind, value)

    def find_by_external_id_in(self, connection: Connection, center: str, external_id: str) -> str | None:
        """The subscriber id the host's own reference (CRM id) names in ``center``."""
        return connection.scalar(q.by_external_id, {"center": center, "external_id": external_id})

    def find_by_contact_in(self, connection: Connection, center: str, kind: str, value: str) -> str | None:
        return contacts.subscriber_of(connection, self._lookup_key, center, kind, value)

    def is_suppressed_in(self, connection: Connection, center: str, kind: str, value: str) -> bool:
        """Was this contact point erased before (see ``gdpr``)?"""
        from .gdpr import is_suppressed

        return is_suppressed(connection, self._lookup_key, center, kind, value)

    def contact(self, subscriber_id: str, kind: str) -> str | None:
        with self.engine.connect() as connection:
            return contacts.value_of(connection, subscriber_id, kind)
