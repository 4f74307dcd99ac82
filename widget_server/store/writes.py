"""What a committed change writes besides the subscriber's version: its chained event (and
the event's outbox rows), and the rows of the state it leads to.

``Store.save_in`` calls these inside its write transaction; bulk imports write the same
rows in batches (``store/imports/``), whose events verify like any other's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from ..ledger import Change, EventContext, event_hash
from ..preferences import UNKNOWN, Preferences
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

def write_preferences(
    connection: Connection,
    subscriber_id: str,
    current: Preferences,
    desired: Preferences,
    now: datetime,
    event_id: int,
) -> None:
    """Rewrite what changed between ``current`` and ``desired``: subscriptions, frequencies, interests."""
    changed = [k for k in set(current.subscriptions) | set(desired.subscriptions)
               if current.state(*k) != desired.state(*k)]
    if changed:
        connection.execute(q.delete_subscriptions, {"sid": subscriber_id, "keys": changed})
        rows = [
            {"subscriber_id": subscriber_id, "topic": topic, "channel": channel, "state": state,
             "legal_basis": "consent", "since": now, "until": None, "event_id": event_id}
            for topic, channel in changed
            if (state := desired.state(topic, channel)) != UNKNOWN
        ]
        if rows:
            connection.execute(q.insert_subscriptions, rows)
    _replace(connection, subscriber_id, q.delete_topic_settings, q.insert_topic_settings,
                  current.frequencies != desired.frequencies,
                  [{"subscriber_id": subscriber_id, "topic": t, "frequency": f}
                   for t, f in desired.frequencies.items()])
    _replace(connection, subscriber_id, q.delete_interests, q.insert_interests,
                  current.interests != desired.interests,
                  [{"subscriber_id": subscriber_id, "interest": i} for i in sorted(desired.interests)])

def _replace(connection: Connection, subscriber_id: str, remove, add, changed: bool, rows: list[dict]) -> None:  # noqa: ANN001
    """Replace a subscriber's rows in a child table, when they changed."""
    if not changed:
        return
    connection.execute(remove, {"sid": subscriber_id})
    if rows:
        connection.execute(add, rows)
