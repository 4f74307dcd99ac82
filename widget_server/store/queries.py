"""The store's statements, built once at import and executed with bound parameters.

Building a SQLAlchemy expression costs tens of microseconds, on every call; these are
built once, so a request pays only for execution. Reading a subscriber's choices is one
``UNION ALL`` over the three tables that hold them, so a page costs two round trips.
"""

from __future__ import annotations

from sqlalchemy import (
    Insert,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    tuple_,
    union_all,
    update,
)

from .tables import (
    events,
    subscriber_interests,
    subscribers,
    subscriptions,
    topic_settings,
    webhook_deliveries,
    webhook_endpoints,
)

SID = bindparam("sid", type_=String)

#: The subscriber, and where their latest change came from (the (subscriber, version) index answers it in
#: the same statement: the widget says "last changed by our service team" without a read of its own).
last_source = (select(events.c.source).where(events.c.subscriber_id == subscribers.c.id)
               .order_by(events.c.version.desc()).limit(1).scalar_subquery().label("last_source"))
subscriber_row = select(subscribers, last_source).where(subscribers.c.id == SID,
                                                        subscribers.c.center == bindparam("center"))

# kind, key, detail, value, then a subscription's basis (legal_basis, since, until, basis_reason):
# ("s", topic, channel, state, ...), ("f", topic, NULL, frequency, NULLs), ("i", interest, NULL, NULL, NULLs).
# The first select's types read the rows (UTCDateTime for since and until).
_NO_BASIS = (cast(null(), String), cast(null(), subscriptions.c.since.type), cast(null(), subscriptions.c.until.type),
             cast(null(), String))
choices = union_all(
    select(
        literal("s").label("kind"), subscriptions.c.topic.label("key"),
        subscriptions.c.channel.label("detail"), subscriptions.c.state.label("value"),
        subscriptions.c.legal_basis, subscriptions.c.since, subscriptions.c.until, subscriptions.c.basis_reason,
    ).where(subscriptions.c.subscriber_id == SID),
    select(literal("f"), topic_settings.c.topic, cast(null(), String), topic_settings.c.frequency, *_NO_BASIS).where(
        topic_settings.c.subscriber_id == SID, topic_settings.c.frequency.is_not(None)
    ),
    select(literal("i"), subscriber_interests.c.interest, cast(null(), String), cast(null(), String),
           *_NO_BASIS).where(subscriber_interests.c.subscriber_id == SID),
)

by_external_id = select(subscribers.c.id).where(
    subscribers.c.center == bindparam("center"), subscribers.c.external_id == bindparam("external_id")
)

submission_seen = select(events.c.id).where(
    events.c.subscriber_id == SID, events.c.submission_id == bindparam("submission")
)

#: The anchor's hash and the next event's id (store/chain.py says why the id comes first).
chain_head_sqlite = select(
    subscribers.c.chain_hash, select(func.coalesce(func.max(events.c.id), 0) + 1).scalar_subquery(),
).where(subscribers.c.id == SID)
chain_head_postgresql = select(
    subscribers.c.chain_hash, func.nextval(func.pg_get_serial_sequence("events", "id")),
).where(subscribers.c.id == SID)

bump_version = (
    update(subscribers)
    .where(subscribers.c.id == SID, subscribers.c.version == bindparam("seen"))
    .values(
        version=bindparam("version"), paused_until=bindparam("paused_until"),
        suppressed=bindparam("suppressed"), updated_at=bindparam("now"),
        chain_count=bindparam("chain_count"), chain_hash=bindparam("chain_hash"), chain_seal=bindparam("chain_seal"),
    )
)

append_event = insert(events)

delete_subscriptions = delete(subscriptions).where(
    subscriptions.c.subscriber_id == SID,
    tuple_(subscriptions.c.topic, subscriptions.c.channel).in_(bindparam("keys", expanding=True)),
)
insert_subscriptions = insert(subscriptions)
set_country = update(subscribers).where(subscribers.c.id == SID).values(country=bindparam("country"))

delete_topic_settings = delete(topic_settings).where(topic_settings.c.subscriber_id == SID)
insert_topic_settings = insert(topic_settings)

delete_interests = delete(subscriber_interests).where(subscriber_interests.c.subscriber_id == SID)
insert_interests = insert(subscriber_interests)

#: A subscriber's anchor, with what it is checked against (center, version).
anchor_of = select(subscribers.c.center, subscribers.c.version, subscribers.c.chain_count, subscribers.c.chain_hash,
                   subscribers.c.chain_seal).where(subscribers.c.id == SID)
events_of = select(events).where(events.c.subscriber_id == SID).order_by(events.c.version)
last_event_of = select(events).where(events.c.subscriber_id == SID).order_by(events.c.version.desc()).limit(1)
#: A subscriber's latest events, newest first (the unique index on subscriber and version serves it).
recent_events_of = (select(events.c.version, events.c.occurred_at, events.c.source, events.c.changes, events.c.evidence)
                    .where(events.c.subscriber_id == SID, events.c.version < bindparam("before"))
                    .order_by(events.c.version.desc()).limit(bindparam("n")))



def enqueue_deliveries_of(appended: Select) -> Insert:
    """The outbox rule, written once: for each of the ``appended`` events (a select of
    their ``id``, ``subscriber_id`` and ``center``), one pending delivery per active
    endpoint of the event's center, inserted in the event's own transaction."""
    event = appended.subquery("appended")
    now = bindparam("now", type_=webhook_deliveries.c.created_at.type)
    return insert(webhook_deliveries).from_select(
        ["endpoint_id", "event_id", "subscriber_id", "status", "attempts", "next_attempt_at", "created_at"],
        select(webhook_endpoints.c.id, event.c.id, event.c.subscriber_id, literal("pending"), literal(0), now, now)
        .select_from(event.join(webhook_endpoints, webhook_endpoints.c.center == event.c.center))
        .where(webhook_endpoints.c.disabled_at.is_(None))
        .order_by(event.c.id, webhook_endpoints.c.id),
    )


# One event, just appended (store.chain.append_event); imports enqueue a batch's at once.
enqueue_deliveries = enqueue_deliveries_of(select(
    cast(bindparam("event_id"), Integer).label("id"), cast(bindparam("sid"), String).label("subscriber_id"),
    cast(bindparam("center"), String).label("center"),
))
