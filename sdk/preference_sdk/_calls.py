"""Each API call described once: the request to send and how to read its answer.

:class:`Calls` holds one builder per API method (``_get_preferences`` ...), each returning
a :class:`_Call`. ``BaseClient`` adds the retry policy; ``Client`` and ``AsyncClient``
each declare the public method (same parameters, the ``_Call``'s result type, and the
docstring users read) whose body sends what the builder built (see ``_client.py``), so
what is sent is written here once for both.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable, Final, Generic, Mapping, TypeVar
from urllib.parse import quote

from ._models import (
    CenterInfo,
    ChainVerification,
    Decision,
    Delivery,
    FeedPage,
    ImportReport,
    Link,
    Preferences,
    SignedReceipt,
    WebhookEndpoint,
    parse_time,
)

T = TypeVar("T")


#: A write's subscriptions: topic -> channel -> a state, or a state with its basis
#: (``{"state": "opted_in", "legal_basis": "soft_opt_in", "reason": "purchase", "since": ...}``).
SubscriptionsWrite = Mapping[str, Mapping[str, str | Mapping[str, Any]]]


class NotGiven:
    """Marks an argument left out, so that ``paused_until=None`` (clear the pause) differs
    from not mentioning the pause at all in ``update_preferences``."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN: Final = NotGiven()


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One API call: what to send (once or, on a transient failure, again) and how to read the answer."""

    method: str
    path: str  # under /api/v1/centers/{center}
    parse: Callable[[Any], T]  # the decoded JSON body (None when empty) -> the typed result
    params: Mapping[str, str] | None = None
    body: bytes | None = None
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None


class Calls:
    """The builders of every API call (mixed into ``BaseClient``)."""

    # -- the API: each method described once ----------------------------------------------

    def _center(self) -> _Call[CenterInfo]:
        return _Call("GET", "", CenterInfo.from_json)

    def _create_subscriber(
        self,
        *,
        external_id: str | None = None,
        email: str | None = None,
        locale: str | None = None,
        preferences: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        country: str | None = None,
    ) -> _Call[Preferences]:
        body = _given(external_id=external_id, email=email, locale=locale, country=country, preferences=preferences)
        return _write("POST", "/subscribers", body, Preferences.from_json, idempotency_key)

    def _get_preferences(self, subscriber_id: str) -> _Call[Preferences]:
        return _Call("GET", f"/subscribers/{_segment(subscriber_id)}", Preferences.from_json)

    def _find_by_external_id(self, external_id: str) -> _Call[Preferences | None]:
        return _Call("GET", "/subscribers", _first_subscriber, params={"external_id": external_id})

    def _set_preferences(
        self,
        subscriber_id: str,
        *,
        version: int,
        subscriptions: SubscriptionsWrite | None = None,
        frequencies: Mapping[str, str] | None = None,
        interests: list[str] | tuple[str, ...] | None = None,
        paused_until: datetime | str | None = None,
        suppressed: bool = False,
        source: str = "api",
        evidence: Mapping[str, Any] | None = None,
        locale: str | None = None,
        notice_version: str | None = None,
        idempotency_key: str | None = None,
    ) -> _Call[Preferences]:
        body = {
            "subscriptions": subscriptions or {},
            "frequencies": frequencies or {},
            "interests": list(interests or ()),
            "paused_until": paused_until,
            "suppressed": suppressed,
            "source": source,
            **_given(evidence=evidence, locale=locale, notice_version=notice_version),
        }
        return _write("PUT", _preferences_path(subscriber_id), body, Preferences.from_json, idempotency_key,
                      headers=_if_match(version))

    def _update_preferences(
        self,
        subscriber_id: str,
        *,
        version: int | None = None,
        subscriptions: SubscriptionsWrite | NotGiven = NOT_GIVEN,
        frequencies: Mapping[str, str] | NotGiven = NOT_GIVEN,
        interests: list[str] | tuple[str, ...] | NotGiven = NOT_GIVEN,
        paused_until: datetime | str | None | NotGiven = NOT_GIVEN,
        suppressed: bool | NotGiven = NOT_GIVEN,
        source: str | NotGiven = NOT_GIVEN,
        evidence: Mapping[str, Any] | NotGiven = NOT_GIVEN,
        locale: str | NotGiven = NOT_GIVEN,
        notice_version: str | NotGiven = NOT_GIVEN,
        idempotency_key: str | None = None,
        country: str | None | NotGiven = NOT_GIVEN,
    ) -> _Call[Preferences]:
        members = dict(subscriptions=subscriptions, frequencies=frequencies, interests=interests,
                       paused_until=paused_until, suppressed=suppressed, source=source, evidence=evidence,
                       locale=locale, notice_version=notice_version, country=country)
        body = {name: value for name, value in members.items() if not isinstance(value, NotGiven)}
        headers = _if_match(version) if version is not None else {}
        return _write("PATCH", _preferences_path(subscriber_id), body, Preferences.from_json, idempotency_key,
                      headers=headers)

    def _can_contact(
        self, subscriber_id: str, topic: str, channel: str, *, at: datetime | None = None, digest: bool = False
    ) -> _Call[Decision]:
        params = {"topic": topic, "channel": channel}
        if at is not None:
            params["at"] = _iso(at)
        if digest:
            params["digest"] = "true"
        return _Call("GET", f"/subscribers/{_segment(subscriber_id)}/decision", Decision.from_json, params=params)

    def _mint_link(
        self,
        subscriber_id: str,
        *,
        scope: str = "manage",
        topic: str | None = None,
        channel: str | None = None,
        locale: str | None = None,
        idempotency_key: str | None = None,
    ) -> _Call[Link]:
        body = {"scope": scope, **_given(topic=topic, channel=channel, locale=locale)}
        return _write("POST", f"/subscribers/{_segment(subscriber_id)}/links", body, Link.from_json, idempotency_key)

    def _export(self, subscriber_id: str) -> _Call[dict[str, Any]]:
        return _Call("GET", f"/subscribers/{_segment(subscriber_id)}/export", dict)

    def _erase(self, subscriber_id: str, *, idempotency_key: str | None = None) -> _Call[dict[str, Any]]:
        return _write("DELETE", f"/subscribers/{_segment(subscriber_id)}", None, dict, idempotency_key)

    def _revoke_links(self, subscriber_id: str, *, idempotency_key: str | None = None) -> _Call[datetime]:
        return _write("POST", f"/subscribers/{_segment(subscriber_id)}/revoke-links", None,
                      lambda data: parse_time(data["links_valid_after"]), idempotency_key)

    def _verify_chain(self, subscriber_id: str) -> _Call[ChainVerification]:
        return _Call("GET", f"/subscribers/{_segment(subscriber_id)}/verification", ChainVerification.from_json)

    def _notice_text(self, digest: str) -> _Call[dict[str, Any]]:
        return _Call("GET", f"/notices/{_segment(digest)}", dict)

    def _receipt(self, subscriber_id: str, *, event: int | None = None) -> _Call[SignedReceipt]:
        params = {"event": str(event)} if event is not None else None
        return _Call("GET", f"/subscribers/{_segment(subscriber_id)}/receipt", SignedReceipt.from_json, params=params)

    def _events(self, *, after: int = 0, limit: int = 500, remaining: bool = False) -> _Call[FeedPage]:
        params = {"after": str(after), "limit": str(limit)}
        if remaining:
            params["remaining"] = "true"
        return _Call("GET", "/events", FeedPage.from_json, params=params)

    def _import_batch(
        self, records: list[Mapping[str, Any]], *, dry_run: bool, idempotency_key: str | None = None
    ) -> _Call[ImportReport]:
        body = b"".join(_dumps(record) + b"\n" for record in records)
        return _Call("POST", "/imports", ImportReport.from_json, params={"dry_run": _bool(dry_run)}, body=body,
                     content_type="application/x-ndjson", idempotency_key=idempotency_key or _new_key())

    def _create_webhook(self, url: str, *, description: str | None = None) -> _Call[WebhookEndpoint]:
        body = {"url": url, **_given(description=description)}
        return _write("POST", "/webhooks", body, WebhookEndpoint.from_json, None)

    def _rotate_webhook_secret(self, endpoint_id: str, *, expire_previous_in: int = 86_400) -> _Call[WebhookEndpoint]:
        body = {"expire_previous_in": expire_previous_in}
        return _write("POST", f"/webhooks/{_segment(endpoint_id)}/rotate-secret", body, WebhookEndpoint.from_json,
                      None)

    def _list_webhooks(self) -> _Call[list[WebhookEndpoint]]:
        return _Call("GET", "/webhooks", lambda data: [WebhookEndpoint.from_json(e) for e in _unwrap(data, "webhooks")])

    def _delete_webhook(self, endpoint_id: str) -> _Call[None]:
        return _write("DELETE", f"/webhooks/{_segment(endpoint_id)}", None, lambda data: None, None)

    def _deliveries(self, endpoint_id: str, *, status: str | None = None, limit: int = 100) -> _Call[list[Delivery]]:
        params = {"limit": str(limit), **_given(status=status)}
        return _Call("GET", f"/webhooks/{_segment(endpoint_id)}/deliveries",
                     lambda data: [Delivery.from_json(d) for d in _unwrap(data, "deliveries")], params=params)

    def _replay_delivery(self, endpoint_id: str, delivery_id: str) -> _Call[Delivery]:
        path = f"/webhooks/{_segment(endpoint_id)}/deliveries/{_segment(delivery_id)}/replay"
        return _write("POST", path, None, lambda data: Delivery.from_json(_unwrap(data, "delivery")), None)

    def _replay_webhook(self, endpoint_id: str, *, after: int) -> _Call[dict[str, Any]]:
        return _write("POST", f"/webhooks/{_segment(endpoint_id)}/replay", {"after": after}, dict, None)


# -- helpers ---------------------------------------------------------------------------------


def _write(
    method: str,
    path: str,
    body: Any,
    parse: Callable[[Any], T],
    idempotency_key: str | None,
    *,
    headers: Mapping[str, str] | None = None,
) -> _Call[T]:
    """A write, with the caller's idempotency key or a fresh one (drawn once: every retry reuses it)."""
    return _Call(method, path, parse, body=None if body is None else _dumps(body), headers=headers or {},
                 idempotency_key=idempotency_key or _new_key())


def _new_key() -> str:
    return secrets.token_urlsafe(24)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":")).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _iso(value: datetime | str) -> str:
    """ISO 8601 in UTC (``...Z``). A naive datetime is refused: its time zone would be a guess."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} has no time zone: pass an aware datetime, e.g. datetime.now(timezone.utc)")
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _given(**members: Any) -> dict[str, Any]:
    """The members that were given (not None)."""
    return {name: value for name, value in members.items() if value is not None}


def _segment(value: str) -> str:
    """A path segment, escaped: an id with a ``/`` must not reach another route."""
    return quote(str(value), safe="")


def _preferences_path(subscriber_id: str) -> str:
    return f"/subscribers/{_segment(subscriber_id)}/preferences"


def _if_match(version: int) -> dict[str, str]:
    return {"If-Match": f'"{int(version)}"'}


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _first_subscriber(data: Mapping[str, Any]) -> Preferences | None:
    found = data["subscribers"]
    return Preferences.from_json(found[0]) if found else None


def _unwrap(data: Any, key: str) -> Any:
    """The list or object under ``key`` when the answer is wrapped in one, else the answer itself."""
    return data[key] if isinstance(data, dict) and key in data else data
