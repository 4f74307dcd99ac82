"""Webhook endpoints and their deliveries (the outbox).

Deliveries are inserted with their event (see ``queries.enqueue_deliveries``). A worker
takes the *head* of each (endpoint, subscriber) queue, the oldest pending delivery, so
a subscriber's events arrive in order while different subscribers proceed in parallel.
A worker claims a delivery with a lease (``UPDATE ... WHERE lease expired``), so several
server processes never send the same attempt twice.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.orm import aliased

from .tables import events, webhook_deliveries, webhook_endpoints

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
D = webhook_deliveries


def create_endpoint(connection: Connection, center: str, url: str, description: str | None, secret: str,
                    now: datetime) -> dict[str, Any]:
    endpoint_id = "whe_" + secrets.token_hex(8)
    connection.execute(insert(webhook_endpoints).values(
        id=endpoint_id, center=center, url=url, description=description, secret=secret, created_at=now,
    ))
    return {"id": endpoint_id, "center": center, "url": url, "description": description, "secret": secret,
            "created_at": now}


def endpoints(connection: Connection, center: str) -> list[dict[str, Any]]:
    """Active endpoints of a center, each with its delivery counts by status."""
    counts = (
        select(D.c.endpoint_id, D.c.status, func.count().label("n"))
        .join(webhook_endpoints, webhook_endpoints.c.id == D.c.endpoint_id)
        .where(webhook_endpoints.c.center == center)
        .group_by(D.c.endpoint_id, D.c.status).subquery()
    )
    rows = connection.execute(
        select(webhook_endpoints).where(webhook_endpoints.c.center == center, webhook_endpoints.c.disabled_at.is_(None))
        .order_by(webhook_endpoints.c.created_at)
    ).mappings().all()
    tallies: dict[str, dict[str, int]] = {}
    for count in connection.execute(select(counts)).mappings():
        tallies.setdefault(count["endpoint_id"], {})[count["status"]] = count["n"]
    return [{**dict(r), "counts": {s: tallies.get(r["id"], {}).get(s, 0) for s in (PENDING, DELIVERED, FAILED)}}
            for r in rows]


def endpoint(connection: Connection, center: str, endpoint_id: str) -> dict[str, Any] | None:
    row = connection.execute(select(webhook_endpoints).where(
        webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.center == center,
        webhook_endpoints.c.disabled_at.is_(None),
    )).mappings().first()
    return dict(row) if row else None


def target(connection: Connection, endpoint_id: str, now: datetime) -> dict[str, Any]:
    """Where to send and the secrets to sign with (even for an endpoint disabled meanwhile).

    ``secrets`` is the current secret, then the previous one while a rotation's overlap lasts.
    """
    e = webhook_endpoints
    row = connection.execute(select(e.c.url, e.c.secret, e.c.previous_secret, e.c.previous_secret_until)
                             .where(e.c.id == endpoint_id)).mappings().one()
    live = [row["secret"]]
    if row["previous_secret"] and row["previous_secret_until"] and row["previous_secret_until"] > now:
        live.append(row["previous_secret"])
    return {"url": row["url"], "secrets": tuple(live)}


def rotate_secret(connection: Connection, endpoint_id: str, secret: str, now: datetime,
                  keep_previous: timedelta) -> datetime:
    """Make ``secret`` the endpoint's secret; the one it replaces still signs for ``keep_previous``.

    Returns when the replaced secret stops signing. Only the newest previous secret is
    kept: rotating again during an overlap ends the older one at once.
    """
    e = webhook_endpoints
    until = now + keep_previous
    kept = e.c.secret if keep_previous > timedelta(0) else None
    connection.execute(update(e).where(e.c.id == endpoint_id).values(
        secret=secret, previous_secret=kept, previous_secret_until=until if kept is not None else None,
    ))
    return until


def disable(connection: Connection, endpoint_id: str, now: datetime) -> None:
    connection.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(disabled_at=now))
    connection.execute(update(D).where(D.c.endpoint_id == endpoint_id, D.c.status == PENDING).values(
        status=FAILED, last_error="endpoint removed", lease_until=None,
    ))


def deliveries(connection: Connection, endpoint_id: str, status: str | None, limit: int) -> list[dict[str, Any]]:
    query = select(D).where(D.c.endpoint_id == endpoint_id).order_by(D.c.id.desc()).limit(limit)
    if status:
        query = query.where(D.c.status == status)
    return [dict(r) for r in connection.execute(query).mappings()]


def delivery(connection: Connection, endpoint_id: str, delivery_id: int) -> dict[str, Any] | None:
    row = connection.execute(select(D).where(D.c.id == delivery_id, D.c.endpoint_id == endpoint_id)).mappings().first()
    return dict(row) if row else None


def replay_delivery(connection: Connection, endpoint_id: str, delivery_id: int, now: datetime) -> dict | None:
    """Send a delivery again, as a new delivery at the back of its subscriber's queue."""
    old = delivery(connection, endpoint_id, delivery_id)
    if old is None:
        return None
    new_id: int = connection.execute(insert(D).values(
        endpoint_id=endpoint_id, event_id=old["event_id"], subscriber_id=old["subscriber_id"], status=PENDING,
        attempts=0, next_attempt_at=now, created_at=now,
    ).returning(D.c.id)).scalar_one()
    return delivery(connection, endpoint_id, new_id)


#: Events one replay request may queue; replay again from the last one for more.
REPLAY_LIMIT = 100_000


def replay_after(connection: Connection, center: str, endpoint_id: str, after: int, now: datetime) -> int:
    """Queue the center's events after ``after`` again for one endpoint (at most :data:`REPLAY_LIMIT`)."""
    chosen = (
        select(events.c.id, events.c.subscriber_id)
        .where(events.c.center == center, events.c.id > after).order_by(events.c.id).limit(REPLAY_LIMIT)
    )
    rows = [{"endpoint_id": endpoint_id, "event_id": eid, "subscriber_id": sid, "status": PENDING, "attempts": 0,
             "next_attempt_at": now, "created_at": now} for eid, sid in connection.execute(chosen)]
    if rows:
        connection.execute(insert(D), rows)
    return len(rows)


def due(connection: Connection, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Pending deliveries whose time has come and that head their subscriber's queue."""
    earlier = aliased(D)
    blocked = (
        select(earlier.c.id).where(
            earlier.c.endpoint_id == D.c.endpoint_id, earlier.c.subscriber_id == D.c.subscriber_id,
            earlier.c.status == PENDING, earlier.c.id < D.c.id,
        ).exists()
    )
    query = (
        select(D.c.id, D.c.endpoint_id, D.c.event_id, D.c.attempts)
        .join(webhook_endpoints, webhook_endpoints.c.id == D.c.endpoint_id)
        .where(D.c.status == PENDING, D.c.next_attempt_at <= now, webhook_endpoints.c.disabled_at.is_(None),
               (D.c.lease_until.is_(None)) | (D.c.lease_until < now), ~blocked)
        .order_by(D.c.id).limit(limit)
    )
    return [dict(r) for r in connection.execute(query).mappings()]


def claim(connection: Connection, delivery_id: int, now: datetime, lease: timedelta) -> datetime | None:
    """Take a delivery until ``now + lease``; that instant is the claim's token (None: taken)."""
    until = now + lease
    taken = connection.execute(update(D).where(
        D.c.id == delivery_id, D.c.status == PENDING, (D.c.lease_until.is_(None)) | (D.c.lease_until < now),
    ).values(lease_until=until))
    return until if taken.rowcount == 1 else None


def settle(connection: Connection, delivery_id: int, lease: datetime, *, ok: bool, now: datetime,
           error: str | None, retry_at: datetime | None) -> None:
    """Record an attempt: delivered, retried at ``retry_at``, or failed when that is None.

    Only under the claim that made the attempt: if the lease ran out and another worker
    took the delivery, or the endpoint was removed meanwhile, this attempt's outcome is
    dropped rather than overwrite theirs.
    """
    status = DELIVERED if ok else (PENDING if retry_at else FAILED)
    connection.execute(update(D).where(
        D.c.id == delivery_id, D.c.status == PENDING, D.c.lease_until == lease,
    ).values(
        status=status, attempts=D.c.attempts + 1, lease_until=None,
        delivered_at=now if ok else None, last_error=None if ok else (error or "")[:200],
        next_attempt_at=retry_at if retry_at else D.c.next_attempt_at,
    ))
