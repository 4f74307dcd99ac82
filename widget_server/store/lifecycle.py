"""What the lifecycle worker asks the store: whose time has run out, and who is owed a reminder.

Both questions read ``subscriptions.until`` through its index (``ix_subscriptions_until``,
migration 0008), so an idle pass is two index range scans that find nothing. The worker
(``workers/lifecycle.py``) writes the expiries through the one write path; the reminders'
rows are written here, one per subscription and expiry (``repermission_reminders``, whose
key is that pair), with the mail's outbox row in the same transaction: a reminder exists
if and only if its mail was queued, and two processes cannot both queue it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, insert, literal, select, tuple_

from . import contacts
from .confirmations import SYSTEM_CLIENT
from .mail_outbox import REPERMISSION, Mail, address_hash_of, queue
from .tables import UTCDateTime, repermission_reminders, subscribers, subscriptions

#: The states whose ``until`` ends them: a pending confirmation's wait, an opt-in's basis.
ENDING = ("pending", "opted_in")


@dataclass(frozen=True)
class Due:
    """A subscription whose ``until`` has come (or, for reminders, is coming)."""

    center: str
    subscriber_id: str
    topic: str
    channel: str
    until: datetime
    country: str | None = None
    locale: str | None = None


def due_expiries(connection: Connection, now: datetime, limit: int) -> list[Due]:
    """Pending or opted-in subscriptions whose ``until`` has passed, oldest end first."""
    s, sub = subscriptions.c, subscribers.c
    rows = connection.execute(
        select(sub.center, s.subscriber_id, s.topic, s.channel, s.until)
        .join(subscribers, sub.id == s.subscriber_id)
        .where(s.until <= now, s.state.in_(ENDING), sub.erased_at.is_(None))
        .order_by(s.until).limit(limit)
    )
    return [Due(r.center, r.subscriber_id, r.topic, r.channel, r.until) for r in rows]


def reminders_due(connection: Connection, center: str, now: datetime, horizon: datetime, limit: int,
                  after: Due | None = None) -> list[Due]:
    """``center``'s opted-in subscriptions ending between now and ``horizon`` with no reminder
    recorded for that end yet (each one's own rule then says whether it is time), in pages
    ordered by end: ``after`` is the last of the previous page, so rows whose rule says "not
    yet" cannot hide the ones behind them."""
    s, sub, r = subscriptions.c, subscribers.c, repermission_reminders.c
    reminded = and_(r.subscriber_id == s.subscriber_id, r.topic == s.topic, r.channel == s.channel,
                    r.until == s.until)
    query = (
        select(sub.center, s.subscriber_id, s.topic, s.channel, s.until, sub.country, sub.locale)
        .join(subscribers, sub.id == s.subscriber_id)
        .outerjoin(repermission_reminders, reminded)
        .where(s.until > now, s.until <= horizon, s.state == "opted_in", sub.center == center,
               sub.erased_at.is_(None), r.subscriber_id.is_(None))
        .order_by(s.until, s.subscriber_id, s.topic, s.channel).limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(s.until, s.subscriber_id, s.topic, s.channel)
                            > tuple_(literal(after.until, UTCDateTime), literal(after.subscriber_id),
                                     literal(after.topic), literal(after.channel)))
    rows = connection.execute(query)
    return [Due(r.center, r.subscriber_id, r.topic, r.channel, r.until, r.country, r.locale) for r in rows]


def queue_reminder(connection: Connection, lookup_key: bytes, due: Due, locale: str | None, now: datetime) -> bool:
    """Record the reminder for ``due`` and queue its mail (none without an address: the record
    alone, so it is not looked for again), in the caller's transaction, one reminder each.

    False when it is recorded already. Two processes racing on PostgreSQL: the second's
    insert waits for the first's commit and fails on the key (``IntegrityError``, its whole
    transaction rolled back, nothing queued twice); the worker counts that as done elsewhere.
    """
    r = repermission_reminders.c
    key = (r.subscriber_id == due.subscriber_id, r.topic == due.topic, r.channel == due.channel, r.until == due.until)
    if connection.scalar(select(r.subscriber_id).where(*key)) is not None:
        return False
    connection.execute(insert(repermission_reminders).values(
        subscriber_id=due.subscriber_id, topic=due.topic, channel=due.channel, until=due.until,
        mail_id=None, queued_at=now))
    address_hash = address_hash_of(connection, due.subscriber_id)
    if address_hash is None:
        return True
    client_hash = contacts.lookup_hash(lookup_key, due.center, "client", SYSTEM_CLIENT)
    mail_id = queue(connection, Mail(due.center, REPERMISSION, address_hash, client_hash, locale,
                                     due.subscriber_id), now)
    connection.execute(repermission_reminders.update().where(*key).values(mail_id=mail_id))
    return True
