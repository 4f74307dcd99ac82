"""The change feed: every committed event of a center, in commit order, from a cursor.

The cursor is the event id. The trap (docs/DOMAIN.md): ids taken from a sequence are not
committed in id order when writers run concurrently, so a reader that has seen id 12
could miss id 11 committing a moment later. Event ids are therefore taken in commit
order: SQLite allows one writer at a time (``BEGIN IMMEDIATE``), and on PostgreSQL every
write transaction first takes a transaction-scoped advisory lock, held until its commit,
so no later-numbered event can commit before an earlier one. Taking it first, before any
row lock, also means writers queue in one order and cannot deadlock. The price is that
PostgreSQL writes are serialized like SQLite's; a finer scheme (a lock per center, or
exposing only events below the oldest running transaction's snapshot) belongs to the
PostgreSQL backend's own work, and ``tests/integration/test_feed_postgres.py`` guards it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text

from .tables import events, subscribers

#: The advisory lock key serializing event appends on PostgreSQL ("feed" in ASCII).
FEED_LOCK = 0x66656564

_page = (
    select(
        events.c.id, events.c.subscriber_id, subscribers.c.external_id, events.c.center, events.c.version,
        events.c.occurred_at, events.c.source, events.c.actor, events.c.locale, events.c.notice_version,
        events.c.notice_text, events.c.changes, events.c.evidence,
    )
    .join(subscribers, subscribers.c.id == events.c.subscriber_id)
    .where(events.c.center == bindparam("center"), events.c.id > bindparam("after"))
    .order_by(events.c.id)
    .limit(bindparam("limit"))
)

#: Events after a cursor (every event has its subscriber: a foreign key), counted on (center, id).
_remaining = (
    select(func.count()).select_from(events)
    .where(events.c.center == bindparam("center"), events.c.id > bindparam("after"))
)

_one = (
    select(*_page.selected_columns)
    .join_from(events, subscribers, subscribers.c.id == events.c.subscriber_id)
    .where(events.c.id == bindparam("id"))
)

_lock = text("SELECT pg_advisory_xact_lock(:key)")


def hold_commit_order(connection: Connection) -> None:
    """At the start of a write transaction: ids commit in order (a no-op on SQLite)."""
    if connection.dialect.name == "postgresql":
        connection.execute(_lock, {"key": FEED_LOCK})


def page(connection: Connection, center: str, after: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` events after ``after``, and whether more follow."""
    rows = connection.execute(_page, {"center": center, "after": after, "limit": limit + 1}).mappings().all()
    return [dict(r) for r in rows[:limit]], len(rows) > limit


def remaining(connection: Connection, center: str, after: int) -> int:
    """How many events follow ``after``: the total a reader's progress counts toward.

    Asked for, not sent with every page: it reads every later entry of the index.
    """
    return int(connection.execute(_remaining, {"center": center, "after": after}).scalar_one())


def event(connection: Connection, event_id: int) -> dict[str, Any] | None:
    """One event in the feed's shape (webhook payloads)."""
    row = connection.execute(_one, {"id": event_id}).mappings().first()
    return dict(row) if row else None
