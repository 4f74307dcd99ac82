"""Typed results: what the API answers, as frozen dataclasses.

Each has ``from_json`` (the wire format of ``docs/API.md``) and keeps nothing else, so a
field the server adds later does not break an older SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, overload

OPTED_IN = "opted_in"
OPTED_OUT = "opted_out"
PENDING = "pending"
UNKNOWN = "unknown"
#: Set by the server alone: a double opt-in never confirmed, or a basis whose lifetime ended.
EXPIRED = "expired"
STATES = (OPTED_IN, OPTED_OUT, PENDING, UNKNOWN, EXPIRED)


@overload
def parse_time(value: str) -> datetime: ...
@overload
def parse_time(value: None) -> None: ...
@overload
def parse_time(value: str | None) -> datetime | None: ...


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 instant from the API (``Z`` or an offset) as an aware datetime."""
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class LegalBasis:
    """Why a subscription may be used: ``legal_basis`` (consent, soft_opt_in, contract,
    legitimate_interest), since when, until when (None: until withdrawn), and the reason of a
    soft opt-in (``purchase``, ``inquiry``) where its lifetime depends on it."""

    legal_basis: str
    since: datetime
    until: datetime | None = None
    reason: str | None = None

    def expired(self, at: datetime) -> bool:
        return self.until is not None and self.until <= at

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "LegalBasis":
        return cls(data["legal_basis"], parse_time(data["since"]), parse_time(data.get("until")), data.get("reason"))


@dataclass(frozen=True)
class Preferences:
    """One subscriber's choices at one version (the API's preferences document).

    ``legal_bases`` (topic -> channel -> :class:`LegalBasis`) holds the basis of each stored
    subscription; ``country`` (ISO 3166 alpha-2) picks the region's rules. Both are empty in
    documents of servers before 0.3.
    """

    subscriber_id: str
    center: str
    version: int
    subscriptions: Mapping[str, Mapping[str, str]]
    frequencies: Mapping[str, str] = field(default_factory=dict)
    interests: tuple[str, ...] = ()
    paused_until: datetime | None = None
    suppressed: bool = False
    external_id: str | None = None
    locale: str | None = None
    updated_at: datetime | None = None
    country: str | None = None
    legal_bases: Mapping[str, Mapping[str, LegalBasis]] = field(default_factory=dict)

    def state(self, topic: str, channel: str) -> str:
        return self.subscriptions.get(topic, {}).get(channel, UNKNOWN)

    def basis(self, topic: str, channel: str) -> LegalBasis | None:
        return self.legal_bases.get(topic, {}).get(channel)

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Preferences":
        return cls(
            subscriber_id=data["subscriber_id"],
            center=data["center"],
            version=int(data["version"]),
            subscriptions={t: dict(chs) for t, chs in (data.get("subscriptions") or {}).items()},
            frequencies=dict(data.get("frequencies") or {}),
            interests=tuple(data.get("interests") or ()),
            paused_until=parse_time(data.get("paused_until")),
            suppressed=bool(data.get("suppressed", False)),
            external_id=data.get("external_id"),
            locale=data.get("locale"),
            updated_at=parse_time(data.get("updated_at")),
            country=data.get("country"),
            legal_bases={t: {c: LegalBasis.from_json(b) for c, b in chs.items()}
                         for t, chs in (data.get("legal_bases") or {}).items()},
        )


@dataclass(frozen=True)
class Change:
    """One path of an event: ``offers.email`` from ``opted_out`` to ``opted_in``; a subscription's
    change says the ``basis`` it reached (None on other paths, and on older events)."""

    path: str
    before: Any
    after: Any
    basis: LegalBasis | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Change":
        basis = data.get("basis")
        return cls(data["path"], data.get("from"), data.get("to"), LegalBasis.from_json(basis) if basis else None)


@dataclass(frozen=True)
class Event:
    """One committed change, as the change feed and webhooks carry it. ``id`` is the cursor."""

    id: int
    subscriber_id: str
    center: str
    version: int
    occurred_at: datetime
    source: str
    actor: str
    changes: tuple[Change, ...]
    external_id: str | None = None
    locale: str | None = None
    notice_version: str | None = None
    evidence: Mapping[str, Any] | None = None
    #: The SHA-256 of the wording the person was shown (``GET .../notices/{hash}``), when the server knows it.
    notice_text: str | None = None

    @property
    def erased(self) -> bool:
        """The subscriber was erased: delete what you hold about them."""
        return any(c.path == "erasure" and c.after for c in self.changes)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Event":
        return cls(
            id=int(data["id"]),
            subscriber_id=data["subscriber_id"],
            center=data["center"],
            version=int(data["version"]),
            occurred_at=parse_time(data["occurred_at"]),
            source=data["source"],
            actor=data["actor"],
            changes=tuple(Change.from_json(c) for c in data.get("changes") or ()),
            external_id=data.get("external_id"),
            locale=data.get("locale"),
            notice_version=data.get("notice_version"),
            evidence=data.get("evidence"),
            notice_text=data.get("notice_text"),
        )


@dataclass(frozen=True)
class FeedPage:
    """A page of the change feed: read the next one with ``after=next_cursor``."""

    events: tuple[Event, ...]
    next_cursor: int
    has_more: bool
    remaining: int | None = None  # asked for with remaining=True: the events after this page

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "FeedPage":
        remaining = data.get("remaining")
        return cls(
            events=tuple(Event.from_json(e) for e in data.get("events") or ()),
            next_cursor=int(data["next_cursor"]),
            has_more=bool(data.get("has_more", False)),
            remaining=None if remaining is None else int(remaining),
        )


@dataclass(frozen=True)
class Link:
    """A minted link (by the API) for a subscriber."""

    token: str
    url: str
    expires_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Link":
        return cls(data["token"], data["url"], parse_time(data.get("expires_at")))


@dataclass(frozen=True)
class Decision:
    """The answer of ``can_contact``: ``allowed``, and why (a stable ``reason`` code)."""

    allowed: bool
    reason: str
    frequency: str | None = None
    #: The basis a send would rely on (the subscription's, or the region's for an opt-out
    #: region's unanswered one); None when refused or for a required topic.
    legal_basis: str | None = None

    def __bool__(self) -> bool:
        return self.allowed

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Decision":
        return cls(bool(data["allowed"]), data["reason"], data.get("frequency"), data.get("legal_basis"))


@dataclass(frozen=True)
class TopicInfo:
    id: str
    kind: str
    channels: tuple[str, ...]
    frequencies: tuple[str, ...] = ()
    default_frequency: str | None = None
    label: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelRuleInfo:
    """What a region's law asks of one channel (the center file's ``[regions.CODE.CHANNEL]``)."""

    opt_in_required: bool = True
    double_opt_in: bool = False
    bases: tuple[str, ...] = ("consent",)
    lifetime_days: Mapping[str, int] = field(default_factory=dict)


#: The rule of a channel no region names: opt-in, by consent, until withdrawn.
DEFAULT_CHANNEL_RULE = ChannelRuleInfo()


@dataclass(frozen=True)
class RegionInfo:
    """A region of the center: ``code`` (``default``, ``EU``, ``EEA``, a country), the
    countries a group holds, and its channels' rules."""

    code: str
    countries: tuple[str, ...] = ()
    channels: Mapping[str, ChannelRuleInfo] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RegionInfo":
        return cls(data["code"], tuple(data.get("countries") or ()), {
            channel: ChannelRuleInfo(rule.get("opt_in", "required") == "required", bool(rule.get("double_opt_in")),
                                     tuple(rule.get("bases") or ("consent",)), dict(rule.get("lifetime_days") or {}))
            for channel, rule in (data.get("channels") or {}).items()})


@dataclass(frozen=True)
class CenterInfo:
    """A center's definition: what ``can_contact`` and importers need to know.

    ``regions`` are listed most precise first (countries, then ``EU``, ``EEA``, then
    ``default``), as the server picks them: :meth:`rule_for` reads them in that order.
    """

    id: str
    name: str
    locales: tuple[str, ...]
    default_locale: str
    notice_version: str
    topics: tuple[TopicInfo, ...]
    interests: tuple[str, ...] = ()
    regions: tuple[RegionInfo, ...] = ()

    def topic(self, topic_id: str) -> TopicInfo | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def region_for(self, country: str | None) -> RegionInfo | None:
        """The region whose rules apply to ``country``: its own, then a group holding it, then ``default``."""
        if country:
            country = country.upper()
            own = next((r for r in self.regions if r.code == country or country in r.countries), None)
            if own is not None:
                return own
        return next((r for r in self.regions if r.code == "default"), None)

    def rule_for(self, country: str | None, channel: str) -> ChannelRuleInfo:
        """What ``country``'s region asks of ``channel`` (``default``'s rule where it names none)."""
        region = self.region_for(country)
        if region is not None and channel in region.channels:
            return region.channels[channel]
        fallback = next((r for r in self.regions if r.code == "default"), None)
        if fallback is not None and channel in fallback.channels:
            return fallback.channels[channel]
        return DEFAULT_CHANNEL_RULE

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CenterInfo":
        return cls(
            id=data["id"],
            name=data["name"],
            locales=tuple(data["locales"]),
            default_locale=data["default_locale"],
            notice_version=data["notice_version"],
            topics=tuple(
                TopicInfo(
                    id=t["id"], kind=t["kind"], channels=tuple(t["channels"]),
                    frequencies=tuple(t.get("frequencies") or ()), default_frequency=t.get("default_frequency"),
                    label=dict(t.get("label") or {}),
                )
                for t in data["topics"]
            ),
            interests=tuple(i["id"] if isinstance(i, dict) else i for i in data.get("interests") or ()),
            regions=tuple(RegionInfo.from_json(r) for r in (data.get("consent") or {}).get("regions") or ()),
        )


@dataclass(frozen=True)
class ImportReport:
    """What an import did, or would do (``dry_run``), and every rejected row with its reason."""

    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    rejected: tuple[Mapping[str, Any], ...]
    changes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ImportReport":
        return cls(
            dry_run=bool(data["dry_run"]), rows=int(data["rows"]), created=int(data["created"]),
            updated=int(data["updated"]), unchanged=int(data["unchanged"]),
            rejected=tuple(data.get("rejected") or ()), changes=data.get("changes") or {},
        )


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    url: str
    description: str | None = None
    secret: str | None = None  # only in the answer to its creation or to a rotation of its secret
    created_at: datetime | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    previous_secret_expires_at: datetime | None = None  # after a rotation: until then both secrets sign

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "WebhookEndpoint":
        return cls(
            id=data["id"], url=data["url"], description=data.get("description"), secret=data.get("secret"),
            created_at=parse_time(data.get("created_at")), counts=dict(data.get("counts") or {}),
            previous_secret_expires_at=parse_time(data.get("previous_secret_expires_at")),
        )


@dataclass(frozen=True)
class Delivery:
    id: str
    endpoint_id: str
    event_id: int
    subscriber_id: str
    status: str  # pending, delivered, failed
    attempts: int
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Delivery":
        return cls(
            id=data["id"], endpoint_id=data["endpoint_id"], event_id=int(data["event_id"]),
            subscriber_id=data["subscriber_id"], status=data["status"], attempts=int(data["attempts"]),
            next_attempt_at=parse_time(data.get("next_attempt_at")),
            delivered_at=parse_time(data.get("delivered_at")), last_error=data.get("last_error"),
        )


@dataclass(frozen=True)
class ChainBreak:
    """One thing wrong in a subscriber's event chain: the event (``None``: their anchor) and what."""

    event_id: int | None
    version: int | None
    reason: str


@dataclass(frozen=True)
class ChainVerification:
    """A subscriber's consent-event chain as the server checked it (``Client.verify_chain``)."""

    subscriber_id: str
    intact: bool
    events: int
    legacy: int  # events written before the chain was keyed: intact as far as plain SHA-256 can tell
    anchored: bool  # the count, latest hash and seal on the subscriber's row matched
    broken: tuple[ChainBreak, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ChainVerification":
        return cls(
            subscriber_id=data["subscriber_id"], intact=bool(data["intact"]), events=int(data["events"]),
            legacy=int(data.get("legacy", 0)), anchored=bool(data["anchored"]),
            broken=tuple(ChainBreak(b.get("event_id"), b.get("version"), b["reason"]) for b in data["broken"]),
        )


@dataclass(frozen=True)
class SignedReceipt:
    """A consent receipt (ISO/IEC TS 27560) and its signature (``Client.receipt``): check ``jws``
    with ``verify_receipt(jws, jwks)``, the key set from the server's ``/.well-known/jwks.json``."""

    jws: str  # compact JWS, EdDSA (Ed25519); its payload is ``receipt`` in canonical JSON
    kid: str
    receipt: Mapping[str, Any]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "SignedReceipt":
        return cls(jws=data["jws"], kid=data["kid"], receipt=data["receipt"])
