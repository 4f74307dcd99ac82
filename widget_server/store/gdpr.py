"""A subscriber's rights: everything we hold about them (access, portability), and erasure.

Erasure deletes what identifies the person and their current choices, and keeps what
proves consent and its withdrawal (GDPR Art. 7(1), 17(3)(e)): the pseudonymous id and
its event chain, which name no one once the contact points and CRM id are gone, and a
suppression entry holding only the keyed hash of each erased contact point and of the
CRM id, so the same address or CRM id added again (by the API, or by a legacy file
imported again) starts suppressed instead of opted in. The erasure itself is an
event (path ``erasure``) so the change feed tells every synced system to delete too.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update

from .. import json_shapes
from ..centers.model import Center
from ..ledger import Change, EventContext
from ..preferences import Preferences
from . import contacts, notice_texts
from . import queries as q
from .mail_outbox import DONE, PENDING
from .tables import contact_points, mail_outbox, subscribers, suppressions

if TYPE_CHECKING:
    from .store import Store

#: What erasure deletes ("consents": every opt-in, withdrawn; the subscription rows say opted_out).
DELETED = ("contact_points", "external_id", "locale", "interests", "frequencies", "pause", "consents",
           "pending_mails", "country")
KEPT = ("subscriber_id", "event_chain", "suppression_hashes")


def export(store: "Store", connection: Connection, center: str, subscriber_id: str) -> dict[str, Any] | None:
    """Everything held about one subscriber, events included."""
    subscriber = store.get_in(connection, center, subscriber_id)
    if subscriber is None:
        return None
    points = connection.execute(
        select(contact_points.c.kind, contact_points.c.value).where(contact_points.c.subscriber_id == subscriber_id)
    ).mappings().all()
    history = [dict(r._mapping) for r in connection.execute(q.events_of, {"sid": subscriber_id})]
    shown = notice_texts.texts_of(connection, {e["notice_text"] for e in history if e.get("notice_text")})
    return {"subscriber": subscriber, "contact_points": [dict(p) for p in points], "events": history,
            "notice_texts": shown}


def export_document(store: "Store", center: Center, subscriber_id: str, exported_at: datetime) -> dict[str, Any] | None:
    """The export as a document (json_shapes), in its own read: what the API's ``/export``
    answers and what the person downloads from their history page, the same bytes' worth."""
    with store.engine.connect() as connection:
        held = export(store, connection, center.id, subscriber_id)
    if held is None:
        return None
    return {
        "subscriber": json_shapes.document(center, held["subscriber"]),
        "contact_points": held["contact_points"],
        "events": [json_shapes.recorded_event(e) for e in held["events"]],
        "notice_texts": held["notice_texts"],
        "exported_at": json_shapes.instant(exported_at),
    }


def erase(
    store: "Store",
    connection: Connection,
    center: str,
    subscriber_id: str,
    withdrawn: Preferences,
    context: EventContext,
    now: datetime,
) -> dict[str, Any]:
    """Erase inside the caller's write transaction; ``withdrawn`` is the all-opted-out state."""
    from .store import UnknownSubscriber

    subscriber = store.get_in(connection, center, subscriber_id)
    if subscriber is None:
        raise UnknownSubscriber(subscriber_id)
    if subscriber.erased_at is not None:
        return {"erased_at": subscriber.erased_at, "already_erased": True, "deleted": DELETED, "kept": KEPT}
    points: list[tuple[str, str]] = list(connection.execute(
        select(contact_points.c.kind, contact_points.c.lookup_hash)
        .where(contact_points.c.subscriber_id == subscriber_id)
    ))
    if subscriber.external_id:  # a legacy file re-imported, or a CRM sync, must not bring them back opted in
        points.append(("external_id", contacts.lookup_hash(store.lookup_key, center, "external_id",
                                                           subscriber.external_id)))
    for kind, lookup_hash in points:
        if connection.scalar(select(suppressions.c.lookup_hash).where(suppressions.c.lookup_hash == lookup_hash)):
            continue
        connection.execute(insert(suppressions).values(
            lookup_hash=lookup_hash, center=center, kind=kind, reason="erasure", created_at=now,
        ))
    _forget_pending_mails(connection, center, subscriber_id, [h for kind, h in points if kind == "email"])
    connection.execute(delete(contact_points).where(contact_points.c.subscriber_id == subscriber_id))
    result = store.save_in(
        connection, center, subscriber_id, withdrawn, base_version=subscriber.preferences.version,
        context=context, extra_changes=(Change("erasure", False, True),),
    )
    connection.execute(update(subscribers).where(subscribers.c.id == subscriber_id).values(
        external_id=None, locale=None, erased_at=now, valid_after=now,
    ))
    return {"erased_at": now, "already_erased": False, "event_id": result.event_id, "deleted": DELETED, "kept": KEPT}


def _forget_pending_mails(connection: Connection, center: str, subscriber_id: str, address_hashes: list[str]) -> None:
    """Mails still owed to the erased person are not sent: their rows are settled and blanked
    (the hashes stay until the limits' window passes, as every sent mail's do)."""
    owed = (mail_outbox.c.subscriber_id == subscriber_id)
    if address_hashes:
        owed = owed | mail_outbox.c.address_hash.in_(address_hashes)
    connection.execute(update(mail_outbox).where(
        mail_outbox.c.center == center, mail_outbox.c.status == PENDING, owed,
    ).values(status=DONE, subscriber_id=None, locale=None, lease_until=None))


def is_suppressed(connection: Connection, key: bytes, center: str, kind: str, value: str) -> bool:
    """Was this contact point (or CRM id: kind ``external_id``) erased before? (Found by its keyed hash only.)"""
    found = select(suppressions.c.lookup_hash).where(
        suppressions.c.lookup_hash == contacts.lookup_hash(key, center, kind, value)
    )
    return connection.scalar(found) is not None
