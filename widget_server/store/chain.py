"""The chained event: what a committed change appends to the ledger, hashed and linked to
the subscriber's previous event.

Kept apart from ``writes.py`` (the rows of the state a change leads to) because the
event is the proof: how it is hashed, chained and anchored is one job, checked by
``ledger.verify_chain``; bulk imports compute the same hashes in batches
(``store/imports/proof.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from ..ledger import Change, EventContext, event_hash
from . import queries as q


def append_event(
    connection: Connection,
    center: str,
    subscriber_id: str,
    version: int,
    now: datetime,
    changes: list[Change],
    context: EventContext,
    submission_id: str | None,
) -> int:
    """Append the event of version ``version``, chained to the one before, and queue its webhook deliveries."""
    prev_hash = connection.scalar(q.previous_hash, {"sid": subscriber_id, "version": version - 1})
    record = {
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
        "prev_hash": prev_hash,
    }
    record["hash"] = event_hash(record)
    event_id: int = connection.execute(q.append_event, record).inserted_primary_key[0]  # type: ignore[index]
    connection.execute(q.enqueue_deliveries, {"event_id": event_id, "sid": subscriber_id, "center": center,
                                              "now": now})
    return event_id
