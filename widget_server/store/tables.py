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
* Event ids use ``BigInteger`` (``INTEGER`` on SQLite so it stays the rowid alias). They
  are the change feed's cursor, so they must be taken in commit order: SQLite has one
  writer at a time; on PostgreSQL the appending transaction holds an advisory lock from
  taking its id to its commit (see ``store/feed.py``).
* ``webhook_deliveries`` is the outbox: one row per event and endpoint, inserted in the
  event's transaction, so a crash between commit and delivery loses nothing.
* API keys and contact points are stored as hashes only where they never need to be
  read back; webhook secrets are kept, since signing needs them.
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
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
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

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
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
    # The host's own reference (CRM id): for matching imports and syncs, never in a URL or token.
    Column("external_id", String(128)),
    Column("erased_at", UTCDateTime),
    # Where the subscriber was first met, when a surface knows: "kiosk:<location>".
    Column("origin", String(100)),
    # The person's country (ISO 3166 alpha-2, as they or the host said): it picks the region's
    # consent rules (regions.py). NULL: not known, the "default" region's rules apply.
    Column("country", String(2)),
    # The chain's anchor (ledger.py): how many events, the latest one's hash, and the seal over
    # both (HMAC under a chain key, "<key id>:<hex>"), written with each event in its transaction.
    Column("chain_count", Integer),
    Column("chain_hash", String(64)),
    Column("chain_seal", String(80)),
)

Index("ux_subscribers_center_external_id", subscribers.c.center, subscribers.c.external_id, unique=True)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscriber_id", String(40), ForeignKey("subscribers.id"), primary_key=True),
    Column("topic", String(64), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("state", String(16), nullable=False),
    # The basis (legal_bases.py): an opted_out row keeps the basis withdrawn, since the withdrawal;
    # a pending one is consent until its confirmation's deadline.
    Column("legal_basis", String(24), nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("until", UTCDateTime),
    # What gave a soft opt-in (purchase, inquiry) where its lifetime depends on it; NULL otherwise.
    Column("basis_reason", String(32)),
    Column("event_id", EventId),
)

# The lifecycle worker's question, "whose pending or basis has run out?", answered without a scan.
Index("ix_subscriptions_until", subscriptions.c.until)

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
    # The chain key the hash is an HMAC under (chain_keys.key_id); NULL: a legacy SHA-256 event.
    Column("key_id", String(16)),
    # The notice text shown (notice_texts.hash), when the surface showed one.
    Column("notice_text", String(64)),
    UniqueConstraint("subscriber_id", "version"),
    UniqueConstraint("subscriber_id", "submission_id"),
)

Index("ix_events_center_id", events.c.center, events.c.id)

notice_texts = Table(
    "notice_texts",
    metadata,
    # The exact wording a surface showed (store/notice_texts.py): per center, notice version and
    # locale, stored once, keyed by the SHA-256 of its canonical JSON, which events name.
    Column("hash", String(64), primary_key=True),
    Column("center", String(64), nullable=False),
    Column("notice_version", String(40)),
    Column("locale", String(16)),
    Column("text", Text, nullable=False),  # canonical JSON: the bytes the hash is of
    Column("created_at", UTCDateTime, nullable=False),
)

Index("ix_notice_texts_center", notice_texts.c.center, notice_texts.c.notice_version, notice_texts.c.locale)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),  # the public part of the key
    Column("center", String(64), nullable=False),
    Column("name", String(80), nullable=False),
    Column("scopes", String(40), nullable=False),  # comma-separated: read, write, admin
    Column("secret_hash", String(64), nullable=False),  # SHA-256 of the secret part
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("api_key_id", String(16), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # method, path and body, hashed
    Column("status", Integer, nullable=False),
    Column("body", JSON),
    Column("headers", JSON),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("center", String(64), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("description", String(200)),
    Column("secret", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime),
    # After a rotation, the secret replaced: deliveries are signed with it too until then.
    Column("previous_secret", String(80)),
    Column("previous_secret_until", UTCDateTime),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("endpoint_id", String(24), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", EventId, ForeignKey("events.id"), nullable=False),
    Column("subscriber_id", String(40), nullable=False),
    Column("status", String(12), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("delivered_at", UTCDateTime),
    Column("last_error", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
)

Index("ix_webhook_deliveries_due", webhook_deliveries.c.status, webhook_deliveries.c.next_attempt_at)
Index(
    "ix_webhook_deliveries_order",
    webhook_deliveries.c.endpoint_id, webhook_deliveries.c.subscriber_id, webhook_deliveries.c.id,
)

suppressions = Table(
    "suppressions",
    metadata,
    # Only the keyed hash of an erased contact point: enough to refuse it, useless alone.
    Column("lookup_hash", String(64), primary_key=True),
    Column("center", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

mail_outbox = Table(
    "mail_outbox",
    metadata,
    # Mails owed ("send me a new link"), written in the request's transaction, sent by the mail
    # worker. Neither the address nor a token is kept: the recipient is the keyed hash of the
    # address (or the subscriber an expired link named), resolved and minted at send time. A
    # sent row is blanked, not deleted: its hashes and time are the limits' count, until the
    # window has passed.
    Column("id", EventId, primary_key=True, autoincrement=True),
    Column("center", String(64), nullable=False),
    Column("kind", String(24), nullable=False),  # fresh_link
    Column("address_hash", String(64), nullable=False),
    Column("subscriber_id", String(40)),
    Column("locale", String(16)),
    Column("client_hash", String(64), nullable=False),
    Column("status", String(12), nullable=False),  # pending, done (sent, or nobody to send to), failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("last_error", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
)

Index("ix_mail_outbox_address", mail_outbox.c.center, mail_outbox.c.address_hash, mail_outbox.c.created_at)
Index("ix_mail_outbox_client", mail_outbox.c.center, mail_outbox.c.client_hash, mail_outbox.c.created_at)
Index("ix_mail_outbox_due", mail_outbox.c.status, mail_outbox.c.next_attempt_at)
Index("ix_mail_outbox_created_at", mail_outbox.c.created_at)

devices = Table(
    "devices",
    metadata,
    # A provisioned kiosk: its token names this id, and the token works while the row is live.
    Column("id", String(24), primary_key=True),
    Column("center", String(64), nullable=False, index=True),
    Column("location", String(80), nullable=False),  # the store (a local entity of the brand)
    Column("name", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    # The keyed hash of the staff PIN shown once at provisioning (store/devices.py); None for a
    # device made without one, which cannot take staff attestations.
    Column("staff_pin_hash", String(64)),
)

kiosk_sessions = Table(
    "kiosk_sessions",
    metadata,
    # One customer at a kiosk: who they said they are (the keyed hash, and the value only until the
    # session settles), how they proved it (a one-time code, stored hashed, or a staff attestation),
    # and until when the session may change their choices. The rows are the kiosk limits' count (a
    # wrong staff PIN is a ``refused`` row of its own, counted too).
    Column("id", String(40), primary_key=True),
    Column("center", String(64), nullable=False),
    Column("device_id", String(24), ForeignKey("devices.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # email, phone, loyalty
    Column("contact_hash", String(64), nullable=False),
    Column("contact", String(320)),  # blanked once verified (a new customer's: once subscribed), locked, ended
    Column("subscriber_id", String(40)),
    Column("method", String(16), nullable=False),  # code, attestation
    Column("staff_id", String(64)),
    Column("code_hash", String(64)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("status", String(12), nullable=False),  # pending, verified, locked, ended, refused (a wrong staff PIN)
    Column("expires_at", UTCDateTime, nullable=False),
    Column("verified_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
)

Index("ix_kiosk_sessions_device", kiosk_sessions.c.device_id, kiosk_sessions.c.created_at)
Index("ix_kiosk_sessions_contact", kiosk_sessions.c.center, kiosk_sessions.c.contact_hash, kiosk_sessions.c.created_at)

agent_searches = Table(
    "agent_searches",
    metadata,
    # The audit trail of the agent console: who searched which contact (its keyed hash, never the
    # value), when, and whom it found. A search's id is what the console's form then names.
    Column("id", String(40), primary_key=True),
    Column("center", String(64), nullable=False),
    Column("agent_id", String(80), nullable=False),
    Column("kind", String(16), nullable=False),  # email, phone, external_id
    Column("query_hash", String(64), nullable=False),
    Column("subscriber_id", String(40)),
    Column("searched_at", UTCDateTime, nullable=False),
)

Index("ix_agent_searches_agent", agent_searches.c.center, agent_searches.c.agent_id, agent_searches.c.searched_at)
Index("ix_agent_searches_center", agent_searches.c.center, agent_searches.c.searched_at)

confirmations = Table(
    "confirmations",
    metadata,
    # Each confirmation link (scope ``confirm``: a double opt-in, a re-permission, an erasure) that
    # was used, by its token id: a link works once, and a replay is told apart from a tampered one.
    Column("token_id", String(32), primary_key=True),
    Column("center", String(64), nullable=False),
    Column("subscriber_id", String(40), nullable=False),
    Column("purpose", String(16), nullable=False),  # opt_in, renew, erase
    Column("used_at", UTCDateTime, nullable=False),
)

repermission_reminders = Table(
    "repermission_reminders",
    metadata,
    # One re-permission mail per subscription and expiry: the row is written with the mail's outbox
    # row, so a second worker (or pass) finds it and queues none; ``mail_id`` names that row while
    # it is kept (the mail worker reads which subscription the mail is about from here).
    Column("subscriber_id", String(40), primary_key=True),
    Column("topic", String(64), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("until", UTCDateTime, primary_key=True),
    Column("mail_id", EventId),
    Column("queued_at", UTCDateTime, nullable=False),
)

Index("ix_repermission_reminders_mail_id", repermission_reminders.c.mail_id)
