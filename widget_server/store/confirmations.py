"""Double opt-in in the store: the confirmation mail a pending write owes, and used links.

:func:`queue_confirmation` is called by ``Store._apply`` for every change it writes, inside
its transaction: a write that made one or more email subscriptions ``pending`` queues one
``confirm`` mail (however many went pending), so the mail exists if and only if the write
does, and an SMTP outage or a crash after the commit delays it but cannot lose it. The
row names the subscriber and the keyed hash of their address, never the address or a
token: the mail worker resolves the one and mints the other (``confirm_links``) when it
sends. A subscriber with no address on file gets no row: nobody could receive it (the
widget says so: ``confirmable``).

:func:`use` records a confirmation link as used, in the transaction of the change it
makes: a second use of the same link is :class:`AlreadyUsed`, whichever process sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from ..ledger import Change
from . import contacts
from .mail_outbox import CONFIRM, Mail, address_hash_of, queue
from .tables import confirmations, contact_points, mail_outbox, subscribers, subscriptions

PENDING = "pending"
#: The channel a confirmation is mailed on (an SMS confirmation would be its own kind).
EMAIL = "email"
#: What the client of a mail the product owes by itself is counted as (never a visitor's address).
SYSTEM_CLIENT = "system"
#: Confirmation mails queued by writes, at most, to one address in an hour (``queue_confirmation``).
WRITE_MAILS_PER_HOUR = 5


@dataclass(frozen=True)
class Pending:
    """A subscription waiting for its confirmation, and when the wait ends (None: not said)."""

    topic: str
    channel: str
    since: datetime
    until: datetime | None


class AlreadyUsed(Exception):
    """This confirmation link has been used before (its change is recorded, with its id)."""


def went_pending_on_email(changes: Iterable[Change]) -> bool:
    """Whether a write's changes made an email subscription ``pending`` (paths are ``topic.channel``)."""
    return any(c.after == PENDING and c.before != PENDING and c.path.endswith(f".{EMAIL}") and c.path.count(".") == 1
               for c in changes)


def queue_confirmation(connection: Connection, lookup_key: bytes, center: str, subscriber_id: str,
                       changes: Iterable[Change], locale: str | None, now: datetime) -> bool:
    """Queue the ``confirm`` mail a write owes, in its transaction; whether one was queued.

    Not when one is still waiting to be sent: the worker reads what is pending when it sends,
    so that mail asks for this write's subscriptions too (one already being sent does not). Nor
    past :data:`WRITE_MAILS_PER_HOUR` mails to the address (any kind) in the last hour: someone
    holding a forwarded link, ticking
    and unticking, must not flood its owner's mailbox; the write itself is never refused, and
    "send me the confirmation e-mail again" stays there, within its own limits.
    """
    if not went_pending_on_email(changes):
        return False
    address_hash = address_hash_of(connection, subscriber_id)
    if address_hash is None or _owed_or_flooded(connection, center, subscriber_id, address_hash, now):
        return False
    if locale is None:  # a write that named no language (an API call): the subscriber's own
        locale = connection.scalar(select(subscribers.c.locale).where(subscribers.c.id == subscriber_id))
    client_hash = contacts.lookup_hash(lookup_key, center, "client", SYSTEM_CLIENT)
    queue(connection, Mail(center, CONFIRM, address_hash, client_hash, locale, subscriber_id), now)
    return True


def _owed_or_flooded(connection: Connection, center: str, subscriber_id: str, address_hash: str,
                     now: datetime) -> bool:
    m = mail_outbox.c
    # Owed and not yet taken: a mail being sent right now read what was pending before this write.
    owed = connection.scalar(select(m.id).where(
        m.center == center, m.kind == CONFIRM, m.subscriber_id == subscriber_id, m.status == "pending",
        m.lease_until.is_(None) | (m.lease_until <= now)).limit(1))
    if owed is not None:
        return True
    recent = connection.scalar(select(func.count()).select_from(mail_outbox).where(
        m.center == center, m.address_hash == address_hash, m.created_at > now - timedelta(hours=1)))
    return bool(recent and recent >= WRITE_MAILS_PER_HOUR)


def queue_confirmations(connection: Connection, lookup_key: bytes, center: str,
                        pending: Mapping[str, str | None], now: datetime) -> int:
    """For a batch writer (an import with the double opt-in option): one ``confirm`` mail per
    subscriber of ``pending`` (subscriber id -> the mail's locale) that has an address, in the
    batch's transaction, in two statements whatever the batch's size. How many were queued."""
    if not pending:
        return 0
    cp = contact_points.c
    found = connection.execute(select(cp.subscriber_id, cp.lookup_hash)
                               .where(cp.subscriber_id.in_(list(pending)), cp.kind == EMAIL)).all()
    if not found:
        return 0
    client_hash = contacts.lookup_hash(lookup_key, center, "client", SYSTEM_CLIENT)
    connection.execute(insert(mail_outbox), [
        {"center": center, "kind": CONFIRM, "address_hash": address_hash, "client_hash": client_hash,
         "locale": pending[str(subscriber_id)], "subscriber_id": subscriber_id, "status": "pending",
         "attempts": 0, "next_attempt_at": now, "created_at": now}
        for subscriber_id, address_hash in found
    ])
    return len(found)


def pending_on_email(connection: Connection, subscriber_id: str) -> list[Pending]:
    """The subscriber's email subscriptions waiting for a confirmation, in topic order."""
    s = subscriptions.c
    rows = connection.execute(
        select(s.topic, s.channel, s.since, s.until)
        .where(s.subscriber_id == subscriber_id, s.state == PENDING, s.channel == EMAIL).order_by(s.topic)
    )
    return [Pending(row.topic, row.channel, row.since, row.until) for row in rows]


def use(connection: Connection, token_id: str, center: str, subscriber_id: str, purpose: str, now: datetime) -> None:
    """Record the link ``token_id`` as used, or raise :class:`AlreadyUsed`.

    Inserted before the change is written, so on PostgreSQL a second transaction using the
    same link waits on the key and then fails, rather than both confirming.
    """
    if connection.scalar(select(confirmations.c.token_id).where(confirmations.c.token_id == token_id)):
        raise AlreadyUsed(token_id)
    try:
        connection.execute(insert(confirmations).values(
            token_id=token_id, center=center, subscriber_id=subscriber_id, purpose=purpose, used_at=now))
    except IntegrityError:
        raise AlreadyUsed(token_id) from None


def used(connection: Connection, token_id: str) -> bool:
    return connection.scalar(select(confirmations.c.token_id).where(confirmations.c.token_id == token_id)) is not None
