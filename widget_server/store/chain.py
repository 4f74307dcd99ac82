"""The chained event: what a committed change appends to the ledger, keyed, linked to the
subscriber's previous event, and anchored to the subscriber's row.

Kept apart from ``writes.py`` (the rows of the state a change leads to) because the
event is the proof: how it is hashed, chained and anchored is one job, checked by
``ledger.ChainCheck``; bulk imports compute the same hashes in batches
(``store/imports/proof.py``).

Why the event's id is taken first: the keyed hash covers the event's id (so two events'
ids cannot be swapped unseen), and the subscriber's anchor (count, hash, seal) is
written by the same ``UPDATE`` that bumps their version. One read before that update
gives all it needs: the anchor's hash (the previous event's, which it replaces reading
the previous event itself) and the next id: ``max(id) + 1`` on SQLite (its own rule for a
rowid, exact under the one writer), ``nextval`` of the sequence on PostgreSQL (under the
feed's advisory lock, so ids still commit in order). A save runs as many statements as
before: that read replaces the read of the previous hash.

Reading the previous hash from the anchor, not from the events, also means an append
after a deleted newest event names the deleted one, so the deletion stays visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ..chain_keys import ChainKeys
from ..ledger import Change, EventContext, keyed_hash, seal
from . import queries as q


@dataclass(frozen=True)
class Link:
    """Where the next event goes: after ``prev_hash``, with id ``event_id``."""

    prev_hash: str | None
    event_id: int


def next_link(connection: Connection, subscriber_id: str) -> Link | None:
    """The anchor's hash and the next event id, in one read; ``None`` when there is no such subscriber."""
    query = q.chain_head_postgresql if connection.dialect.name == "postgresql" else q.chain_head_sqlite
    row = connection.execute(query, {"sid": subscriber_id}).first()
    return Link(row[0], int(row[1])) if row is not None else None


def event_record(
    keys: ChainKeys,
    link: Link,
    center: str,
    subscriber_id: str,
    version: int,
    now: datetime,
    changes: list[Change],
    context: EventContext,
    submission_id: str | None,
) -> dict[str, Any]:
    """The events row of version ``version``, hashed under the current chain key."""
    record = {
        "id": link.event_id,
        "subscriber_id": subscriber_id,
        "center": center,
        "version": version,
        "occurred_at": now,
        "source": context.source,
        "actor": context.actor,
        "changes": [c.as_dict() for c in changes],
        "notice_version": context.notice_version,
        "locale": context.locale,
        "evidence": dict(context.evidence) if context.evidence else None,
        "context": dict(context.context) or None,
        "submission_id": submission_id,
        "prev_hash": link.prev_hash,
        "key_id": keys.current,
        "notice_text": context.notice_text,
    }
    record["hash"] = keyed_hash(keys, record)
    return record


def anchor(keys: ChainKeys, subscriber_id: str, count: int, head: str | None) -> dict[str, Any]:
    """The subscriber row's anchor columns for a chain of ``count`` events ending in ``head``."""
    return {"chain_count": count, "chain_hash": head, "chain_seal": seal(keys, subscriber_id, count, head)}


def append_event(connection: Connection, record: dict[str, Any]) -> int:
    """Insert the event (its id taken by :func:`next_link`) and queue its webhook deliveries."""
    connection.execute(q.append_event, record)
    event_id: int = record["id"]
    connection.execute(q.enqueue_deliveries, {"event_id": event_id, "sid": record["subscriber_id"],
                                              "center": record["center"], "now": record["occurred_at"]})
    return event_id
