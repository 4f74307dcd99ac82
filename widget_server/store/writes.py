"""What a committed change writes besides the subscriber's version and its event
(``store/chain.py``): the rows of the state it leads to.

``Store.save_in`` calls these inside its write transaction; bulk imports write the same
rows in batches (``store/imports/``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from ..preferences import UNKNOWN, Basis, Preferences
from . import queries as q


def write_preferences(
    connection: Connection,
    subscriber_id: str,
    current: Preferences,
    desired: Preferences,
    now: datetime,
    event_id: int,
) -> None:
    """Rewrite what changed between ``current`` and ``desired``: subscriptions (their state or
    their basis: a renewed consent keeps the state), frequencies, interests, the country.

    ``desired`` has a basis for every changed subscription (``preferences.settle_bases``, which
    ``Store._apply`` runs); one without (a caller that did not) is written as consent since now.
    """
    changed = [k for k in set(current.subscriptions) | set(desired.subscriptions)
               if current.state(*k) != desired.state(*k) or current.bases.get(k) != desired.bases.get(k)]
    if changed:
        connection.execute(q.delete_subscriptions, {"sid": subscriber_id, "keys": changed})
        rows = [_subscription_row(subscriber_id, key, state, desired.bases.get(key), now, event_id)
                for key in changed if (state := desired.state(*key)) != UNKNOWN]
        if rows:
            connection.execute(q.insert_subscriptions, rows)
    if current.country != desired.country:
        connection.execute(q.set_country, {"sid": subscriber_id, "country": desired.country})
    _replace(connection, subscriber_id, q.delete_topic_settings, q.insert_topic_settings,
                  current.frequencies != desired.frequencies,
                  [{"subscriber_id": subscriber_id, "topic": t, "frequency": f}
                   for t, f in desired.frequencies.items()])
    _replace(connection, subscriber_id, q.delete_interests, q.insert_interests,
                  current.interests != desired.interests,
                  [{"subscriber_id": subscriber_id, "interest": i} for i in sorted(desired.interests)])

def _subscription_row(subscriber_id: str, key: tuple[str, str], state: str, basis: Basis | None, now: datetime,
                      event_id: int) -> dict:
    basis = basis or Basis("consent", now)
    return {"subscriber_id": subscriber_id, "topic": key[0], "channel": key[1], "state": state,
            "legal_basis": basis.legal_basis, "since": basis.since, "until": basis.until,
            "basis_reason": basis.reason, "event_id": event_id}


def _replace(connection: Connection, subscriber_id: str, remove, add, changed: bool, rows: list[dict]) -> None:  # noqa: ANN001
    """Replace a subscriber's rows in a child table, when they changed."""
    if not changed:
        return
    connection.execute(remove, {"sid": subscriber_id})
    if rows:
        connection.execute(add, rows)
