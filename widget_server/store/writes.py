"""What a committed change writes besides the subscriber's version and its event
(``store/chain.py``): the rows of the state it leads to.

``Store.save_in`` calls these inside its write transaction; bulk imports write the same
rows in batches (``store/imports/``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from ..preferences import UNKNOWN, Preferences
from . import queries as q


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
