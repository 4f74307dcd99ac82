"""The mail outbox: mails owed, and the count the new-link limits read.

A request puts a row in (:func:`queue_within_limits`, in its own write transaction); the
mail worker (``workers/mail.py``) claims due rows with a lease, as the webhook worker
does, resolves the recipient and sends; :func:`settle` records the outcome under the
claim that made it.

What a row holds is the least that lets the mail be sent later: the center, the kind,
the locale, the keyed hash of the recipient's address (``contacts.lookup_hash``) and, when
an expired link named them, the subscriber; never the address, never a token. The
address is resolved and the link minted at send time, and a settled row is blanked.
Settled rows are kept until the limits' window has passed, since the rows *are* the
count: "at most N per address (per client) in the window", read under the write lock,
so every process sees the same count and two requests cannot both take the last one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, insert, select, update

from .tables import contact_points, mail_outbox, subscribers

PENDING, DONE, FAILED = "pending", "done", "failed"
#: The kinds of mail: a new ``login`` link; a double opt-in's confirmation (queued with the
#: write that made a subscription pending, or resent); a re-permission reminder before a basis
#: ends (queued by the lifecycle worker); an erasure's confirmation (asked on the history page).
FRESH_LINK, CONFIRM, REPERMISSION, ERASURE = "fresh_link", "confirm", "repermission", "erasure"
KINDS = (FRESH_LINK, CONFIRM, REPERMISSION, ERASURE)
M = mail_outbox


@dataclass(frozen=True)
class Limits:
    """At most ``per_address`` mails to one address and ``per_client`` from one client, per
    center, in any ``window``."""

    per_address: int
    per_client: int
    window: timedelta


@dataclass(frozen=True)
class Mail:
    """A mail to queue: ``address_hash`` is the recipient's keyed hash."""

    center: str
    kind: str
    address_hash: str
    client_hash: str
    locale: str | None
    subscriber_id: str | None = None


def address_hash_of(connection: Connection, subscriber_id: str, kind: str = "email") -> str | None:
    """The keyed hash under which a subscriber's address is stored (its ``lookup_hash``)."""
    owned = (contact_points.c.subscriber_id == subscriber_id, contact_points.c.kind == kind)
    return connection.scalar(select(contact_points.c.lookup_hash).where(*owned))


def queue_within_limits(connection: Connection, mail: Mail, limits: Limits, now: datetime) -> int | None:
    """Queue ``mail`` unless a limit is reached; then the seconds until it will not be.

    Both limits are read every time, and a refusal writes nothing: a known and an
    unknown address take the very same statements.
    """
    since = now - limits.window
    waits = [
        _wait(connection, M.c.address_hash == mail.address_hash, mail.center, since, limits, limits.per_address, now),
        _wait(connection, M.c.client_hash == mail.client_hash, mail.center, since, limits, limits.per_client, now),
    ]
    refused = [w for w in waits if w is not None]
    if refused:
        return max(refused)
    queue(connection, mail, now)
    return None


def queue(connection: Connection, mail: Mail, now: datetime) -> int:
    """Queue ``mail`` with no limit read: for mails the product owes by itself (a confirmation in
    the transaction of the write that made a subscription pending, a re-permission reminder), which
    no visitor can repeat at will. The row still counts toward its address's limit. Its id."""
    inserted = connection.execute(insert(M).values(
        center=mail.center, kind=mail.kind, address_hash=mail.address_hash, client_hash=mail.client_hash,
        locale=mail.locale, subscriber_id=mail.subscriber_id, status=PENDING, attempts=0, next_attempt_at=now,
        created_at=now,
    ))
    key = inserted.inserted_primary_key
    assert key is not None  # an INSERT of one row always has its key
    return int(key[0])


def _wait(connection: Connection, key: ColumnElement[bool], center: str, since: datetime, limits: Limits, limit: int,
          now: datetime) -> int | None:
    """Seconds until fewer than ``limit`` rows of ``key`` are in the window, or None when already so.

    The ``limit``-th newest row is the one whose leaving the window frees a place.
    """
    nth = connection.scalar(
        select(M.c.created_at).where(M.c.center == center, key, M.c.created_at > since)
        .order_by(M.c.created_at.desc()).limit(1).offset(max(limit, 1) - 1)
    )
    if nth is None:
        return None
    return max(math.ceil((nth + limits.window - now).total_seconds()), 1)


def due(connection: Connection, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Pending rows whose time has come and that nobody holds."""
    query = (
        select(M.c.id).where(M.c.status == PENDING, M.c.next_attempt_at <= now,
                             M.c.lease_until.is_(None) | (M.c.lease_until < now))
        .order_by(M.c.id).limit(limit)
    )
    return [dict(r) for r in connection.execute(query).mappings()]


def next_due(connection: Connection) -> datetime | None:
    """When the earliest pending row falls due (a retry's time, usually)."""
    return connection.scalar(select(func.min(M.c.next_attempt_at)).where(M.c.status == PENDING))


def claim(connection: Connection, mail_id: int, now: datetime, lease: timedelta) -> dict[str, Any] | None:
    """Take a row until ``now + lease``: the row, with its ``lease`` (the claim's token), or None if taken."""
    until = now + lease
    taken = connection.execute(update(M).where(
        M.c.id == mail_id, M.c.status == PENDING, M.c.lease_until.is_(None) | (M.c.lease_until < now),
    ).values(lease_until=until))
    if taken.rowcount != 1:
        return None
    row = connection.execute(
        select(M.c.id, M.c.center, M.c.kind, M.c.address_hash, M.c.subscriber_id, M.c.locale, M.c.attempts)
        .where(M.c.id == mail_id)
    ).mappings().one()
    return {**row, "lease": until}


def recipient(connection: Connection, center: str, address_hash: str, subscriber_id: str | None,
              kind: str = "email") -> tuple[str, str] | None:
    """(subscriber id, address) of a row, or None when it names nobody of ``center`` (now)."""
    cp = contact_points
    query = (
        select(cp.c.subscriber_id, cp.c.value)
        .join(subscribers, subscribers.c.id == cp.c.subscriber_id)
        .where(subscribers.c.center == center, subscribers.c.erased_at.is_(None), cp.c.kind == kind)
    )
    if subscriber_id is not None:  # an expired link's holder: their address as it is now
        query = query.where(cp.c.subscriber_id == subscriber_id)
    else:
        query = query.where(cp.c.lookup_hash == address_hash)
    row = connection.execute(query).first()
    return (row[0], row[1]) if row else None


def settle(connection: Connection, mail_id: int, lease: datetime, *, now: datetime, error: str | None,
           retry_at: datetime | None) -> None:
    """Record an attempt: done (blanked), retried at ``retry_at``, or failed (blanked) when that is None.

    Only under the claim that made the attempt: a late settle after the lease ran out and
    another worker took the row changes nothing.
    """
    values: dict[str, Any] = {"attempts": M.c.attempts + 1, "lease_until": None}
    if error is not None and retry_at is not None:
        values.update(next_attempt_at=retry_at, last_error=error[:200])
    else:
        values.update(status=DONE if error is None else FAILED, last_error=None if error is None else error[:200],
                      subscriber_id=None, locale=None)
    connection.execute(update(M).where(M.c.id == mail_id, M.c.status == PENDING, M.c.lease_until == lease)
                       .values(**values))


def forget(connection: Connection, before: datetime) -> int:
    """Delete settled rows created before ``before`` (out of every window): how many."""
    return connection.execute(delete(M).where(M.c.status != PENDING, M.c.created_at <= before)).rowcount
