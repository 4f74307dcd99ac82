"""Signed checkpoints of the whole ledger, kept outside the database: what the anchors cannot see.

Each subscriber's row anchors their chain, so deleting their events is seen; deleting the
subscriber together with all their events leaves nothing in the database to compare with.
A checkpoint records the ledger as it was (up to its newest event id: how many
subscribers had events, how many events, and a digest of every chain's count and latest
hash up to that id), signed with the receipts' Ed25519 key. Published or kept elsewhere,
it lets ``verify-chain --against FILE`` recompute the same digest from today's database
over the events up to that id (events are only ever appended, and an id never moves to
an earlier place in a chain): a subscriber deleted with their events, an event removed
or rewritten since, and the digest differs.

The digest is streamed: events in (subscriber, version) order, one pass, nothing held.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from .. import json_shapes
from ..receipt_signing import ReceiptInvalid, ReceiptSigner, verify
from .tables import events

#: What a checkpoint says it is.
KIND = "widget-server ledger checkpoint v1"


def digest(connection: Connection, up_to: int, center: str | None = None) -> dict[str, Any]:
    """Subscribers with events, events, and the digest of every chain (count, latest hash) up to id ``up_to``."""
    query = (select(events.c.subscriber_id, events.c.hash).where(events.c.id <= up_to)
             .order_by(events.c.subscriber_id, events.c.version))
    if center is not None:
        query = query.where(events.c.center == center)
    running = hashlib.sha256()
    subscribers = total = count = 0
    current: str | None = None
    last = ""
    for row in connection.execution_options(stream_results=True, yield_per=5000).execute(query):
        if row.subscriber_id != current:
            if current is not None:
                running.update(f"{current}\x00{count}\x00{last}\n".encode())
            current, count, subscribers = row.subscriber_id, 0, subscribers + 1
        count, total, last = count + 1, total + 1, row.hash
    if current is not None:
        running.update(f"{current}\x00{count}\x00{last}\n".encode())
    return {"subscribers": subscribers, "events": total, "digest": running.hexdigest()}


def make(connection: Connection, signer: ReceiptSigner, now: datetime, center: str | None = None) -> dict[str, Any]:
    """A signed checkpoint of the ledger now (of ``center``, or all of it)."""
    newest = select(func.coalesce(func.max(events.c.id), 0))
    if center is not None:
        newest = newest.where(events.c.center == center)
    up_to = int(connection.scalar(newest) or 0)
    body = {"kind": KIND, "center": center, "up_to_event_id": up_to, "made_at": json_shapes.instant(now),
            **digest(connection, up_to, center)}
    return {"checkpoint": body, "jws": signer.sign(body)}


def problems(connection: Connection, saved: dict[str, Any], jwks: dict[str, Any]) -> list[str]:
    """What today's ledger lacks against a checkpoint (its signature checked first); [] when it holds all."""
    try:
        body = verify(saved["jws"], jwks)
    except (ReceiptInvalid, KeyError, TypeError):
        return ["the checkpoint's signature does not verify with this server's keys (forged, or not ours)"]
    if body.get("kind") != KIND:
        return ["not a ledger checkpoint"]
    now = digest(connection, int(body["up_to_event_id"]), body.get("center"))
    found = []
    if (now["subscribers"], now["events"]) != (body["subscribers"], body["events"]):
        found.append(f"the checkpoint of {body['made_at']} holds {body['events']} events of {body['subscribers']} "
                     f"subscribers up to event {body['up_to_event_id']}; {now['events']} events of "
                     f"{now['subscribers']} subscribers are left: some were deleted")
    elif now["digest"] != body["digest"]:
        found.append(f"the events up to {body['up_to_event_id']} differ from the checkpoint of {body['made_at']}: "
                     "rewritten or moved since")
    return found
