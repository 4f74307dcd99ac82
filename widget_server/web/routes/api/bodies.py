"""Request bodies and response shapes of the JSON API, as msgspec structs.

Litestar validates request bodies against these and builds the OpenAPI document from
them; handlers send plain dicts from :mod:`widget_server.json_shapes` typed as these shapes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema
from msgspec import UNSET, Meta, Struct, UnsetType

from ....errors import BadRequest
from ...openapi import header

#: A subscription's state as documents show it; ``expired`` is set by the system only.
State = Literal["opted_in", "opted_out", "pending", "unknown", "expired"]
#: What a write may ask.
WriteState = Literal["opted_in", "opted_out", "pending", "unknown"]
LegalBasis = Literal["consent", "soft_opt_in", "contract", "legitimate_interest"]
Frequency = Literal["realtime", "daily", "weekly", "monthly"]
WriteSource = Literal["api", "app", "web", "call_center", "kiosk", "email_link"]
#: No control characters (NUL above all: PostgreSQL text cannot hold it) in any text we store.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Id = Annotated[str, Meta(min_length=1, max_length=64, pattern=PRINTABLE)]
Short = Annotated[str, Meta(min_length=1, max_length=128, pattern=PRINTABLE)]
Locale = Annotated[str, Meta(max_length=16, pattern=PRINTABLE)]
MAX_ID = 2**63 - 1  # event ids are 64-bit on every engine
Email = Annotated[str, Meta(min_length=3, max_length=320, pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$")]
#: An instant: RFC 3339, with its offset. (msgspec also reads one without, which the API then
#: refuses with a 422 saying so; the schema states only what is valid.)
Instant = Annotated[datetime, Meta(extra_json_schema={"format": "date-time"})]
#: A name people read (a kiosk's store and name): 1 to 80 characters, not only spaces, no control characters.
LABEL = r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$"
Label = Annotated[str, Meta(min_length=1, max_length=80, pattern=LABEL)]


#: A country code (checked against ISO 3166 by the shared rules, which name the path in a 422).
Country = Annotated[str, Meta(min_length=1, max_length=8, pattern=PRINTABLE)]


class SubscriptionWrite(Struct, forbid_unknown_fields=True, kw_only=True):
    """A subscription with the basis it is given on, instead of a plain state: an existing
    customer's soft opt-in after a purchase (``since`` the purchase), a legitimate interest.
    A basis the subscriber's region does not allow on that channel is a 422."""

    state: WriteState
    legal_basis: LegalBasis | None = None
    reason: Id | None = None
    since: Instant | None = None


class PreferencesWrite(Struct, forbid_unknown_fields=True, kw_only=True):
    """A write: in a PUT, members left out are reset; in a PATCH, they are left alone (the
    country, a fact about the person, is never reset)."""

    subscriptions: dict[Id, dict[Id, WriteState | SubscriptionWrite]] | UnsetType = UNSET
    country: Country | None | UnsetType = UNSET
    frequencies: dict[Id, Frequency | None] | UnsetType = UNSET
    interests: Annotated[list[Id], Meta(max_length=200)] | UnsetType = UNSET
    paused_until: Instant | None | UnsetType = UNSET
    suppressed: bool | UnsetType = UNSET
    source: WriteSource = "api"
    evidence: dict[str, Any] | None = None
    locale: Locale | None = None
    notice_version: Annotated[str, Meta(max_length=40, pattern=PRINTABLE)] | None = None


class SubscriberCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    external_id: Short | None = None
    email: Email | None = None
    locale: Locale | None = None
    country: Country | None = None
    preferences: PreferencesWrite | None = None


class LinkRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    scope: Literal["manage", "unsubscribe"] = "manage"
    topic: Id | None = None
    channel: Id | None = None
    locale: Locale | None = None


class WebhookCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    url: Annotated[str, Meta(min_length=8, max_length=2000)]
    description: Annotated[str, Meta(max_length=200, pattern=PRINTABLE)] | None = None


#: How long a rotated-out webhook secret still signs, by default and at most (seconds).
KEEP_PREVIOUS_SECRET, KEEP_PREVIOUS_SECRET_MAX = 86_400, 604_800


class SecretRotation(Struct, forbid_unknown_fields=True, kw_only=True):
    """How long the secret replaced still signs deliveries (the body may be left out)."""

    # Bounds checked by the handler, so that a value out of range is a 422 naming it; stated here.
    expire_previous_in: Annotated[int, Meta(
        description=f"Seconds the previous secret still signs deliveries, 0 to {KEEP_PREVIOUS_SECRET_MAX}",
        extra_json_schema={"minimum": 0, "maximum": KEEP_PREVIOUS_SECRET_MAX},
    )] = KEEP_PREVIOUS_SECRET


class DeviceCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A kiosk to provision: the store it stands in (a local entity of the brand) and its own name."""

    store: Label
    name: Label


class ReplayRequest(Struct, forbid_unknown_fields=True):
    after: Annotated[int, Meta(ge=0, le=MAX_ID)]


# -- answers ----------------------------------------------------------------------------


class BasisOut(Struct):
    legal_basis: LegalBasis
    since: Instant
    until: Instant | None
    reason: str | None


class PreferencesDocument(Struct):
    subscriber_id: str
    center: str
    external_id: str | None
    version: int
    locale: str | None
    country: str | None
    subscriptions: dict[str, dict[str, State]]
    legal_bases: dict[str, dict[str, BasisOut]]
    frequencies: dict[str, str]
    interests: list[str]
    paused_until: Instant | None
    suppressed: bool
    updated_at: Instant | None


class SubscriberList(Struct):
    subscribers: list[PreferencesDocument]


class ChangeOut(Struct, rename={"before": "from", "after": "to"}):
    path: str
    before: Any
    after: Any
    #: A subscription's change: the basis it reached (absent on other paths and on older events).
    basis: BasisOut | UnsetType = UNSET


class EventOut(Struct):
    id: int
    subscriber_id: str
    external_id: str | None
    center: str
    version: int
    occurred_at: Instant
    source: str
    actor: str
    locale: str | None
    notice_version: str | None
    notice_text: str | None  # the SHA-256 of the wording shown: GET .../notices/{hash}
    changes: list[ChangeOut]
    evidence: dict[str, Any] | None


class FeedPage(Struct):
    events: list[EventOut]
    next_cursor: int
    has_more: bool
    remaining: int | None = None  # with ?remaining=true only: the events after next_cursor


class RecordedEvent(EventOut):
    context: dict[str, Any] | None
    submission_id: str | None
    prev_hash: str | None
    hash: str
    key_id: str | None  # the chain key of the hash (HMAC); None: a legacy, plain SHA-256 event


class ContactPoint(Struct):
    kind: str
    value: str


class Export(Struct):
    subscriber: PreferencesDocument
    contact_points: list[ContactPoint]
    events: list[RecordedEvent]
    #: The wording each event's ``notice_text`` names, by its hash: what the person read.
    notice_texts: dict[str, dict[str, Any]]
    exported_at: Instant


class Erasure(Struct):
    subscriber_id: str
    erased_at: Instant
    already_erased: bool
    deleted: list[str]
    kept: list[str]


class RevokedLinks(Struct):
    subscriber_id: str
    #: Links signed before this instant no longer open anything (the start of the second after the call).
    links_valid_after: Instant


class LinkOut(Struct):
    token: str
    url: str
    expires_at: Instant


class DecisionOut(Struct):
    allowed: bool
    reason: str
    frequency: str | None
    legal_basis: str | None = None


class TopicOut(Struct):
    id: str
    kind: str
    channels: list[str]
    frequencies: list[str]
    default_frequency: str | None
    label: dict[str, str]


class InterestOut(Struct):
    id: str
    label: dict[str, str]


class ChannelRuleOut(Struct):
    opt_in: Literal["required", "opt_out"]
    double_opt_in: bool
    bases: list[LegalBasis]
    lifetime_days: dict[str, int]
    remind_days_before: int | None


class RegionOut(Struct):
    code: str
    countries: list[str]
    channels: dict[str, ChannelRuleOut]


class ConsentOut(Struct):
    """The center's consent rules: regions most precise first (a country, EU, EEA, default)."""

    pending_days: int
    ask_country: bool
    regions: list[RegionOut]


class CenterOut(Struct):
    id: str
    name: str
    locales: list[str]
    default_locale: str
    notice_version: str
    topics: list[TopicOut]
    interests: list[InterestOut]
    consent: ConsentOut


class WebhookOut(Struct):
    id: str
    url: str
    description: str | None
    created_at: Instant
    counts: dict[str, int]
    secret: str | UnsetType = UNSET


class SecretRotated(Struct):
    """The endpoint with its new secret (shown once), and when the previous one stops signing."""

    id: str
    url: str
    description: str | None
    created_at: Instant
    secret: str
    previous_secret_expires_at: Instant


class WebhookList(Struct):
    webhooks: list[WebhookOut]


class DeliveryOut(Struct):
    id: str
    endpoint_id: str
    event_id: int
    subscriber_id: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: Instant | None
    delivered_at: Instant | None
    last_error: str | None


class DeliveryList(Struct):
    deliveries: list[DeliveryOut]


class Replayed(Struct):
    queued: int


class DeviceOut(Struct):
    """A kiosk device, without its token (shown once, at creation)."""

    id: str
    store: str
    name: str
    created_at: Instant
    revoked_at: Instant | None


class DeviceCreated(DeviceOut):
    """A device just provisioned, with the one link that opens its kiosk and its staff PIN (neither
    shown again; a replay of the same Idempotency-Key has the link, and ``null`` for the PIN)."""

    kiosk_url: str
    staff_pin: str | None


class DeviceList(Struct):
    devices: list[DeviceOut]


class SearchOut(Struct):
    """One search of the agent console: who, when, which kind of contact, whom it found (never the value)."""

    id: str
    agent: str
    kind: str
    found: bool
    subscriber_id: str | None
    searched_at: Instant


class SearchTrail(Struct):
    searches: list[SearchOut]
    next: str | None


class Rejected(Struct):
    row: int | None
    reason: str


class ImportReport(Struct):
    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    rejected: list[Rejected]
    changes: dict[str, dict[str, int]]


class ProblemError(Struct):
    path: str | None
    message: str | None


class Problem(Struct):
    """An RFC 9457 problem, as every API error is answered."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[ProblemError] | UnsetType = UNSET
    current_version: int | UnsetType = UNSET
    subscriber_id: str | UnsetType = UNSET
    retry_after: int | UnsetType = UNSET
    error_id: str | UnsetType = UNSET
    required_scope: str | UnsetType = UNSET


_WHY = {
    400: "The request could not be read (errors)",
    401: "No API key, or not a live one",
    403: "The key lacks the scope",
    404: "A center not the key's (another one or none: the same answer), or no such subscriber, webhook, "
         "delivery or device",
    409: "Conflicts with what is stored (an external id or address in use, an erased subscriber), "
         "or a request with the same Idempotency-Key still running",
    412: "If-Match does not name the current version (current_version)",
    413: "The body is over 64 KB",
    415: "The body is not JSON (Content-Type application/json)",
    422: "Values the center does not offer (errors), or an idempotency key reused",
    428: "If-Match is required",
    429: "Too many requests (Retry-After)",
    503: "The database cannot store the write now (Retry-After): nothing was changed",
}


def problems(*statuses: int) -> dict[int, Any]:
    """The problem answers a route documents: the common ones, plus ``statuses``."""
    return {
        status: ResponseSpec(Problem, description=_WHY[status], media_type="application/problem+json",
                             generate_examples=False)
        for status in sorted({400, 401, 403, 404, 429, *statuses})
    }


def write_problems(*statuses: int) -> dict[int, Any]:
    """A write's problems: the common ones, an idempotency key in use (409) or reused (422), the
    database unable to store it (503), plus ``statuses`` (a body's 413 and 415...)."""
    return problems(409, 422, 503, *statuses)


# -- parameters handlers read themselves ----------------------------------------------------------


def rfc3339(name: str, text: str) -> datetime:
    """A time parameter (``at``, ``since``, ``until``): RFC 3339 with its offset, in UTC, else a 400
    naming it. (Read as a datetime by Litestar, a bare number would pass for Unix seconds.)"""
    try:
        moment = msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        raise BadRequest(errors=[{"path": name, "message": "an RFC 3339 time, e.g. 2026-11-23T10:00:00Z"}]) from None
    if moment.tzinfo is None:
        raise BadRequest(errors=[{"path": name, "message": "give a time zone, e.g. 2026-11-23T10:00:00Z"}])
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # the first or last hours of the calendar, in UTC beyond it: as far as it goes
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=timezone.utc)


# -- headers handlers read themselves (documented with ``operation_class=documented(...)``) ---------

_VERSIONS = r'(W/)?"[0-9]{1,18}"(, ?(W/)?"[0-9]{1,18}")*'
#: ``format``: RFC 9110's name for what If-Match holds, for tools that generate values by format (an open
#: value in OpenAPI, hence not one of Litestar's OpenAPIFormat).
_ENTITY_TAG: Any = "entity-tag"
IF_MATCH_REQUIRED = header(
    "If-Match", Schema(type=OpenAPIType.STRING, format=_ENTITY_TAG, pattern=f"^{_VERSIONS}$"), required=True,
    description='The version you read, as its ETag ("3"): 428 without it, 412 if it is not the current one',
)
IF_MATCH = header(
    "If-Match", Schema(type=OpenAPIType.STRING, format=_ENTITY_TAG, pattern=f"^(\\*|{_VERSIONS})$"),
    description='The version you read, as its ETag ("3"): 412 if it is not the current one; * or none: any',
)
IDEMPOTENCY_KEY = header(
    "Idempotency-Key", Schema(type=OpenAPIType.STRING, pattern=r"^[\x21-\x7e]{1,200}$"),
    description="A retry with the same key and request gets the first answer again (Idempotent-Replayed: true)",
)
