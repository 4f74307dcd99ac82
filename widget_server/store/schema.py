"""The tables, in SQLAlchemy Core, written for SQLite and PostgreSQL alike.

Design notes:

* Ids of subscribers are opaque text (``sub_`` + random); nothing here is an email.
* ``subscribers.version`` counts committed changes. Each event carries the version it
  produced, and ``(subscriber_id, version)`` is unique, so two concurrent writers can
  never both append after the same event: the hash chain cannot fork.
* A missing ``subscriptions`` row means ``unknown`` (never asked), which is not
  ``opted_out``.
* Timestamps are timezone-aware UTC in Python; :class:`UTCDateTime` stores them
  portably (ISO text on SQLite, ``timestamptz`` on PostgreSQL).
* Event ids use ``BigInteger`` (``INTEGER`` on SQLite so it stays the rowid alias).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every engine."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


EventId = BigInteger().with_variant(Integer(), "sqlite")

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("center", String(64), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("locale", String(16)),
    Column("suppressed", Boolean, nullable=False, default=False),
    Column("paused_until", UTCDateTime),
    Column("valid_after", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscriber_id", String(40), ForeignKey("subscribers.id"), primary_key=True),
    Column("topic", String(64), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("legal_basis", String(24), nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("until", UTCDateTime),
    Column("event_id", EventId),
)

topic_settings = Table(
    "topic_settings",
    metadata,
    Column("subscriber_id", String(40), ForeignKey("subscribers.id"), primary_key=True),
    Column("topic", String(64), primary_key=True),
    Column("frequency", String(16)),
    Column("paused_until", UTCDateTime),
)

subscriber_interests = Table(
    "subscriber_interests",
    metadata,
    Column("subscriber_id", String(40), ForeignKey("subscribers.id"), primary_key=True),
    Column("interest", String(64), primary_key=True),
)

contact_points = Table(
    "contact_points",
    metadata,
    Column("subscriber_id", String(40), ForeignKey("subscribers.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    # HMAC of center and normalised value: found without scanning, useless if leaked alone.
    Column("lookup_hash", String(64), nullable=False, unique=True),
    Column("value", String(320), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("subscriber_id", String(40), ForeignKey("subscribers.id"), nullable=False),
    Column("center", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("source", String(16), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("changes", JSON, nullable=False),
    Column("notice_version", String(40)),
    Column("locale", String(16)),
    Column("evidence", JSON),
    Column("context", JSON),
    Column("submission_id", String(64)),
    Column("prev_hash", String(64)),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("subscriber_id", "version"),
    UniqueConstraint("subscriber_id", "submission_id"),
)

Index("ix_events_center_id", events.c.center, events.c.id)
