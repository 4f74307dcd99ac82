"""The SDK's HTTP clients against httpx.MockTransport (the network, not our code, is what it stands in for).

Every request test runs twice, through ``Client`` and through ``AsyncClient`` (``mode``).
"""

from __future__ import annotations

import asyncio
import email.utils
import inspect
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import httpx
import pytest
from preference_sdk._client import AsyncClient, Client
from preference_sdk._exceptions import (
    APIError,
    AuthenticationError,
    Conflict,
    NotFound,
    PermissionDenied,
    PreferenceSDKError,
    RateLimited,
    ServerError,
    StaleVersion,
    TransportError,
    ValidationError,
    VersionRequired,
    error_from_response,
)
from preference_sdk._models import (
    CenterInfo,
    Decision,
    Delivery,
    Event,
    FeedPage,
    ImportReport,
    Link,
    Preferences,
    WebhookEndpoint,
)

BASE = "https://prefs.example.com"
KEY = "pck_k3yid0000001_" + "S3cr3t" * 7 + "x"
CENTER = "maison-lumiere"
PREFIX = f"/api/v1/centers/{CENTER}"

DOCUMENT = {
    "subscriber_id": "sub_1",
    "center": CENTER,
    "external_id": "crm-000123",
    "version": 3,
    "locale": "fr",
    "subscriptions": {"offers": {"email": "opted_in", "sms": "opted_out"}},
    "frequencies": {"offers": "weekly"},
    "interests": ["fragrance"],
    "paused_until": None,
    "suppressed": False,
    "updated_at": "2026-11-23T14:03:11.201Z",
}
CENTER_JSON = {
    "id": CENTER, "name": "Maison Lumière", "locales": ["fr", "en"], "default_locale": "fr",
    "notice_version": "2026-03", "interests": [{"id": "fragrance", "label": {"fr": "Parfums"}}],
    "topics": [{"id": "offers", "kind": "marketing", "channels": ["email", "sms"], "frequencies": ["weekly"],
                "default_frequency": "weekly", "label": {"fr": "Offres"}}],
}
DELIVERY = {"id": "msg_7_wh_1", "endpoint_id": "wh_1", "event_id": 7, "subscriber_id": "sub_1",
            "status": "failed", "attempts": 12, "next_attempt_at": None, "delivered_at": None, "last_error": "500"}
ENDPOINT = {"id": "wh_1", "url": "https://crm.example.com/hook", "description": "crm", "secret": "whsec_x",
            "created_at": "2026-11-23T14:03:11Z", "counts": {"pending": 1}}


def event(event_id: int) -> dict[str, Any]:
    return {"id": event_id, "subscriber_id": "sub_1", "external_id": "crm-000123", "center": CENTER,
            "version": event_id, "occurred_at": "2026-11-23T14:03:11.201Z", "source": "web", "actor": "subject",
            "locale": "fr", "notice_version": "2026-03", "evidence": None,
            "changes": [{"path": "offers.email", "from": "opted_out", "to": "opted_in"}]}


def answer(status: int = 200, body: Any = None, *, headers: dict[str, str] | None = None,
           content: bytes | None = None) -> Callable[[httpx.Request], httpx.Response]:
    """A canned response; a JSON body of an error status is sent as a problem document."""
    def respond(request: httpx.Request) -> httpx.Response:
        if content is not None or body is None:
            return httpx.Response(status, content=content or b"", headers=headers)
        kind = "application/problem+json" if status >= 400 else "application/json"
        return httpx.Response(status, content=json.dumps(body).encode(), headers={"content-type": kind,
                                                                                  **(headers or {})})
    return respond


def problem(status: int, code: str, **extra: Any) -> Callable[[httpx.Request], httpx.Response]:
    return answer(status, {"type": "about:blank", "title": f"Title {status}", "status": status,
                           "detail": f"Detail {status}.", "code": code, **extra})


class Server:
    """Answers in turn (the last one repeats) and records each request it got."""

    def __init__(self, *answers: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        respond = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return respond(request)

    @property
    def request(self) -> httpx.Request:
        assert len(self.requests) == 1, f"expected one request, got {len(self.requests)}"
        return self.requests[0]

    def body(self, index: int = 0) -> Any:
        return json.loads(self.requests[index].content)


class RecordingClient(Client):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sleeps: list[float] = []

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class RecordingAsyncClient(AsyncClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sleeps: list[float] = []

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


class Harness:
    """Calls one client method through Client or AsyncClient; ``client`` is the last client used."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.client: RecordingClient | RecordingAsyncClient | None = None

    @property
    def sleeps(self) -> list[float]:
        assert self.client is not None
        return self.client.sleeps

    def __call__(self, server: Server, name: str, *args: Any, options: dict | None = None, **kwargs: Any) -> Any:
        options = options or {}
        if self.mode == "sync":
            with RecordingClient(BASE, KEY, CENTER, transport=httpx.MockTransport(server), **options) as client:
                self.client = client
                return getattr(client, name)(*args, **kwargs)

        async def run() -> Any:
            async with RecordingAsyncClient(BASE, KEY, CENTER, transport=httpx.MockTransport(server),
                                            **options) as client:
                self.client = client
                return await getattr(client, name)(*args, **kwargs)

        return asyncio.run(run())

    def iter_events(self, server: Server, **kwargs: Any) -> list[Event]:
        if self.mode == "sync":
            with RecordingClient(BASE, KEY, CENTER, transport=httpx.MockTransport(server)) as client:
                return list(client.iter_events(**kwargs))

        async def run() -> list[Event]:
            async with RecordingAsyncClient(BASE, KEY, CENTER, transport=httpx.MockTransport(server)) as client:
                return [e async for e in client.iter_events(**kwargs)]

        return asyncio.run(run())


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest) -> Harness:
    return Harness(request.param)


# -- each method's request and result ---------------------------------------------------------


def test_center_sends_key_and_user_agent(call: Harness) -> None:
    server = Server(answer(200, CENTER_JSON))
    info = call(server, "center")
    assert isinstance(info, CenterInfo) and info.topic("offers").channels == ("email", "sms")
    request = server.request
    assert (request.method, str(request.url)) == ("GET", BASE + PREFIX)
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["user-agent"].startswith("preference-sdk/")
    assert "idempotency-key" not in request.headers  # reads need none


def test_create_subscriber_sends_only_given_members_with_a_fresh_key(call: Harness) -> None:
    server = Server(answer(201, DOCUMENT, headers={"location": f"{PREFIX}/subscribers/sub_1"}))
    body = {"subscriptions": {"offers": {"email": "opted_in"}}, "source": "web"}
    prefs = call(server, "create_subscriber", external_id="crm-000123", email="a@example.com", preferences=body)
    assert isinstance(prefs, Preferences) and prefs.version == 3 and prefs.state("offers", "email") == "opted_in"
    request = server.request
    assert (request.method, request.url.path) == ("POST", f"{PREFIX}/subscribers")
    assert request.headers["content-type"] == "application/json"
    assert server.body() == {"external_id": "crm-000123", "email": "a@example.com", "preferences": body}
    assert len(request.headers["idempotency-key"]) >= 16
    assert "a@example.com" not in str(request.url)  # an email never travels in a URL


def test_caller_idempotency_key_is_sent(call: Harness) -> None:
    server = Server(answer(201, DOCUMENT))
    call(server, "create_subscriber", external_id="crm-1", idempotency_key="order-42")
    assert server.request.headers["idempotency-key"] == "order-42"


def test_get_preferences_escapes_the_id(call: Harness) -> None:
    server = Server(answer(200, DOCUMENT))
    assert isinstance(call(server, "get_preferences", "sub_1"), Preferences)
    assert (server.request.method, server.request.url.path) == ("GET", f"{PREFIX}/subscribers/sub_1")
    server = Server(answer(200, DOCUMENT))
    call(server, "get_preferences", "a/../b")
    assert server.request.url.raw_path == f"{PREFIX}/subscribers/a%2F..%2Fb".encode()


def test_find_by_external_id(call: Harness) -> None:
    server = Server(answer(200, {"subscribers": [DOCUMENT]}), answer(200, {"subscribers": []}))
    found = call(server, "find_by_external_id", "crm-000123")
    assert isinstance(found, Preferences) and found.external_id == "crm-000123"
    assert server.requests[0].url.path == f"{PREFIX}/subscribers"
    assert dict(server.requests[0].url.params) == {"external_id": "crm-000123"}
    assert call(server, "find_by_external_id", "crm-unknown") is None


def test_set_preferences_puts_the_whole_body_with_if_match(call: Harness) -> None:
    server = Server(answer(200, {**DOCUMENT, "version": 4}))
    until = datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    prefs = call(server, "set_preferences", "sub_1", version=3, subscriptions={"offers": {"email": "opted_in"}},
                 interests=("fragrance",), paused_until=until, evidence={"kind": "crm_form"}, notice_version="2026-03")
    assert prefs.version == 4
    request = server.request
    assert (request.method, request.url.path) == ("PUT", f"{PREFIX}/subscribers/sub_1/preferences")
    assert request.headers["if-match"] == '"3"'
    assert "idempotency-key" in request.headers
    assert server.body() == {
        "subscriptions": {"offers": {"email": "opted_in"}}, "frequencies": {}, "interests": ["fragrance"],
        "paused_until": "2026-12-01T07:30:00Z", "suppressed": False, "source": "api",
        "evidence": {"kind": "crm_form"}, "notice_version": "2026-03",
    }


def test_update_preferences_sends_only_what_is_given(call: Harness) -> None:
    server = Server(answer(200, DOCUMENT))
    call(server, "update_preferences", "sub_1", frequencies={"offers": "monthly"})
    request = server.requests[0]
    assert (request.method, request.url.path) == ("PATCH", f"{PREFIX}/subscribers/sub_1/preferences")
    assert "if-match" not in request.headers
    assert server.body(0) == {"frequencies": {"offers": "monthly"}}

    call(server, "update_preferences", "sub_1", version=7, paused_until=None, suppressed=False)
    assert server.requests[1].headers["if-match"] == '"7"'
    assert server.body(1) == {"paused_until": None, "suppressed": False}  # None given: clear the pause


def test_can_contact(call: Harness) -> None:
    server = Server(answer(200, {"allowed": False, "reason": "wait_for_digest", "frequency": "weekly"}))
    decision = call(server, "can_contact", "sub_1", "offers", "email")
    assert isinstance(decision, Decision) and not decision and decision.reason == "wait_for_digest"
    assert server.requests[0].url.path == f"{PREFIX}/subscribers/sub_1/decision"
    assert dict(server.requests[0].url.params) == {"topic": "offers", "channel": "email"}

    at = datetime(2026, 11, 23, 15, 0, tzinfo=timezone(timedelta(hours=1)))
    call(server, "can_contact", "sub_1", "offers", "email", at=at, digest=True)
    assert dict(server.requests[1].url.params) == {"topic": "offers", "channel": "email",
                                                   "at": "2026-11-23T14:00:00Z", "digest": "true"}


def test_naive_datetime_is_refused_before_sending(call: Harness) -> None:
    server = Server(answer(200, DOCUMENT))
    with pytest.raises(ValueError, match="no time zone"):
        call(server, "update_preferences", "sub_1", paused_until=datetime(2026, 12, 1))
    assert server.requests == []


def test_mint_link(call: Harness) -> None:
    server = Server(answer(201, {"token": "t0k", "url": f"{BASE}/c/{CENTER}/preferences?t=t0k",
                                 "expires_at": "2027-05-22T00:00:00Z"}))
    link = call(server, "mint_link", "sub_1", scope="unsubscribe", topic="offers", channel="sms")
    assert isinstance(link, Link) and link.expires_at.year == 2027
    assert (server.request.method, server.request.url.path) == ("POST", f"{PREFIX}/subscribers/sub_1/links")
    assert server.body() == {"scope": "unsubscribe", "topic": "offers", "channel": "sms"}
    assert "idempotency-key" in server.request.headers


def test_export_and_erase(call: Harness) -> None:
    server = Server(answer(200, {"subscriber": DOCUMENT, "contact_points": [], "events": []}),
                    answer(200, {"deleted": ["contact_points"], "kept": ["events"]}))
    exported = call(server, "export", "sub_1")
    assert exported["subscriber"]["subscriber_id"] == "sub_1"
    assert (server.requests[0].method, server.requests[0].url.path) == ("GET", f"{PREFIX}/subscribers/sub_1/export")
    assert call(server, "erase", "sub_1", idempotency_key="erase-sub_1") == {"deleted": ["contact_points"],
                                                                            "kept": ["events"]}
    erase = server.requests[1]
    assert (erase.method, erase.url.path, erase.headers["idempotency-key"]) == (
        "DELETE", f"{PREFIX}/subscribers/sub_1", "erase-sub_1")


def test_events(call: Harness) -> None:
    server = Server(answer(200, {"events": [event(41), event(42)], "next_cursor": 42, "has_more": True}))
    page = call(server, "events", after=40, limit=2)
    assert isinstance(page, FeedPage) and [e.id for e in page.events] == [41, 42] and page.has_more
    assert isinstance(page.events[0], Event)
    assert server.request.url.path == f"{PREFIX}/events"
    assert dict(server.request.url.params) == {"after": "40", "limit": "2"}


def test_iter_events_crosses_pages(call: Harness) -> None:
    server = Server(
        answer(200, {"events": [event(1), event(2)], "next_cursor": 2, "has_more": True}),
        answer(200, {"events": [event(3), event(4)], "next_cursor": 4, "has_more": True}),
        answer(200, {"events": [event(5)], "next_cursor": 5, "has_more": False}),
    )
    events = call.iter_events(server, after=0, limit=2)
    assert [e.id for e in events] == [1, 2, 3, 4, 5]
    assert [r.url.params["after"] for r in server.requests] == ["0", "2", "4"]


def test_import_batch_sends_json_lines(call: Harness) -> None:
    report = {"dry_run": True, "rows": 2, "created": 1, "updated": 0, "unchanged": 0,
              "rejected": [{"row": 2, "reason": "unknown topic"}], "changes": {"offers.email": {"opted_in": 1}}}
    server = Server(answer(200, report))
    records = [{"row": 1, "external_id": "crm-1", "email": "a@example.com", "legacy_date": datetime(2019, 4, 2).date()},
               {"row": 2, "external_id": "crm-2", "subscriptions": {"fax": {"fax": "opted_in"}}}]
    result = call(server, "import_batch", records, dry_run=True)
    assert isinstance(result, ImportReport) and result.rejected[0]["row"] == 2
    request = server.request
    assert (request.method, request.url.path, dict(request.url.params)) == (
        "POST", f"{PREFIX}/imports", {"dry_run": "true"})
    assert request.headers["content-type"] == "application/x-ndjson"
    assert "idempotency-key" in request.headers
    lines = request.content.decode().splitlines()
    assert [json.loads(line) for line in lines] == [{**records[0], "legacy_date": "2019-04-02"}, records[1]]

    server = Server(answer(200, {**report, "dry_run": False}))
    call(server, "import_batch", records, dry_run=False)
    assert server.request.url.params["dry_run"] == "false"


def test_webhooks(call: Harness) -> None:
    server = Server(answer(201, ENDPOINT))
    endpoint = call(server, "create_webhook", "https://crm.example.com/hook", description="crm")
    assert isinstance(endpoint, WebhookEndpoint) and endpoint.secret == "whsec_x"
    assert (server.request.method, server.request.url.path) == ("POST", f"{PREFIX}/webhooks")
    assert server.body() == {"url": "https://crm.example.com/hook", "description": "crm"}

    server = Server(answer(200, {"webhooks": [{**ENDPOINT, "secret": None}]}))
    listed = call(server, "list_webhooks")
    assert [type(e) for e in listed] == [WebhookEndpoint] and listed[0].counts == {"pending": 1}

    server = Server(answer(204))
    assert call(server, "delete_webhook", "wh_1") is None
    assert (server.request.method, server.request.url.path) == ("DELETE", f"{PREFIX}/webhooks/wh_1")
    assert "idempotency-key" in server.request.headers

    server = Server(answer(200, {"deliveries": [DELIVERY]}))
    deliveries = call(server, "deliveries", "wh_1", status="failed", limit=10)
    assert [type(d) for d in deliveries] == [Delivery] and deliveries[0].attempts == 12
    assert server.request.url.path == f"{PREFIX}/webhooks/wh_1/deliveries"
    assert dict(server.request.url.params) == {"status": "failed", "limit": "10"}

    server = Server(answer(200, {**DELIVERY, "status": "pending"}))
    replayed = call(server, "replay_delivery", "wh_1", "msg_7_wh_1")
    assert isinstance(replayed, Delivery) and replayed.status == "pending"
    assert (server.request.method, server.request.url.path) == (
        "POST", f"{PREFIX}/webhooks/wh_1/deliveries/msg_7_wh_1/replay")

    server = Server(answer(202, {"queued": 12}))
    assert call(server, "replay_webhook", "wh_1", after=1840) == {"queued": 12}
    assert (server.request.url.path, server.body()) == (f"{PREFIX}/webhooks/wh_1/replay", {"after": 1840})


# -- errors --------------------------------------------------------------------------------------


ERRORS = [
    (400, "bad_request", {}, APIError, None, None),
    (401, "unauthenticated", {}, AuthenticationError, None, None),
    (403, "forbidden", {}, PermissionDenied, None, None),
    (404, "not_found", {}, NotFound, None, None),
    (409, "conflict", {"subscriber_id": "sub_9"}, Conflict, "subscriber_id", "sub_9"),
    (412, "stale_version", {"current_version": 5}, StaleVersion, "current_version", 5),
    (422, "invalid", {"errors": [{"path": "subscriptions.offers.fax", "message": "not offered"}]},
     ValidationError, "errors", [{"path": "subscriptions.offers.fax", "message": "not offered"}]),
    (428, "version_required", {}, VersionRequired, None, None),
    (429, "rate_limited", {"retry_after": 12}, RateLimited, "retry_after", 12.0),
    (500, "internal", {"error_id": "err_abc"}, ServerError, "error_id", "err_abc"),
    (503, "unavailable", {}, ServerError, None, None),
]


@pytest.mark.parametrize(("status", "code", "extra", "cls", "attribute", "value"), ERRORS)
def test_each_status_raises_its_class(call: Harness, status, code, extra, cls, attribute, value) -> None:
    server = Server(problem(status, code, **extra))
    with pytest.raises(cls) as caught:
        call(server, "get_preferences", "sub_1", options={"retries": 0})
    error = caught.value
    assert type(error) is cls
    assert (error.status, error.code, error.title, error.detail) == (status, code, f"Title {status}",
                                                                     f"Detail {status}.")
    assert error.problem["status"] == status
    if attribute:
        assert getattr(error, attribute) == value
    assert f"GET {PREFIX}/subscribers/sub_1" in str(error)


def test_stale_version_is_a_conflict() -> None:
    assert issubclass(StaleVersion, Conflict) and issubclass(Conflict, APIError)
    assert issubclass(APIError, PreferenceSDKError) and issubclass(TransportError, PreferenceSDKError)


def test_validation_error_lists_each_path_in_its_message(call: Harness) -> None:
    errors = [{"path": f"subscriptions.t{i}.email", "message": "not offered"} for i in range(7)]
    with pytest.raises(ValidationError) as caught:
        call(Server(problem(422, "invalid", errors=errors)), "set_preferences", "sub_1", version=1)
    assert "subscriptions.t0.email: not offered" in str(caught.value)
    assert "and 2 more" in str(caught.value)


def test_a_proxy_html_502_still_gives_a_useful_message(call: Harness) -> None:
    html = b"<html><head><title>502 Bad Gateway</title><style>body{}</style></head>" \
           b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
    server = Server(answer(502, content=html, headers={"content-type": "text/html"}))
    with pytest.raises(ServerError) as caught:
        call(server, "center", options={"retries": 0})
    message = str(caught.value)
    assert message.startswith("502 Bad Gateway")
    assert "text/html" in message and "proxy" in message and "nginx" in message
    assert "<" not in message and "body{}" not in message
    assert caught.value.problem == {} and caught.value.code is None


def test_error_from_a_response_without_request_or_body() -> None:
    error = error_from_response(httpx.Response(503))
    assert type(error) is ServerError
    assert str(error) == "503 Service Unavailable: not an API problem document (no content type), " \
                         "so a proxy or load balancer may have answered (empty body)"


def test_a_success_that_is_not_json_is_an_sdk_error(call: Harness) -> None:
    server = Server(answer(200, content=b"<html>login page</html>", headers={"content-type": "text/html"}))
    with pytest.raises(PreferenceSDKError, match="is base_url the API server") as caught:
        call(server, "get_preferences", "sub_1")
    assert not isinstance(caught.value, APIError)


# -- retries -------------------------------------------------------------------------------------


def test_503_is_retried_with_the_same_idempotency_key(call: Harness) -> None:
    server = Server(problem(503, "unavailable"), answer(201, DOCUMENT))
    prefs = call(server, "create_subscriber", external_id="crm-1", options={"backoff": 0.5})
    assert isinstance(prefs, Preferences)
    first, second = server.requests
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.content == second.content
    assert len(call.sleeps) == 1 and 0.25 <= call.sleeps[0] <= 0.5


def test_backoff_doubles_with_jitter_and_is_capped(call: Harness) -> None:
    server = Server(answer(504), answer(504), answer(504), answer(504), answer(200, DOCUMENT))
    call(server, "get_preferences", "sub_1", options={"retries": 4, "backoff": 1.0, "max_backoff": 5.0})
    assert len(server.requests) == 5
    bounds = [(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (2.5, 5.0)]
    assert all(low <= slept <= high for slept, (low, high) in zip(call.sleeps, bounds, strict=True)), call.sleeps


def test_429_waits_retry_after(call: Harness) -> None:
    server = Server(answer(429, {"title": "Too many", "status": 429, "code": "rate_limited"},
                           headers={"retry-after": "7"}),
                    answer(200, DOCUMENT))
    call(server, "get_preferences", "sub_1")
    assert call.sleeps == [7.0] and len(server.requests) == 2


def test_429_wait_is_capped_at_max_backoff_and_gives_up_after_retries(call: Harness) -> None:
    server = Server(answer(429, {"status": 429, "code": "rate_limited"}, headers={"retry-after": "120"}))
    with pytest.raises(RateLimited) as caught:
        call(server, "get_preferences", "sub_1", options={"retries": 2, "max_backoff": 30.0})
    assert call.sleeps == [30.0, 30.0] and len(server.requests) == 3
    assert caught.value.retry_after == 120.0  # what the server said, for the caller to act on


def test_retry_after_as_an_http_date(call: Harness) -> None:
    when = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=10), usegmt=True)
    server = Server(answer(503, headers={"retry-after": when}), answer(200, DOCUMENT))
    call(server, "get_preferences", "sub_1")
    assert len(call.sleeps) == 1 and 8.0 <= call.sleeps[0] <= 10.0


@pytest.mark.parametrize(("status", "code"), [(400, "bad_request"), (409, "conflict"), (422, "invalid"),
                                              (500, "internal")])
def test_no_retry_on_other_4xx_or_500(call: Harness, status: int, code: str) -> None:
    server = Server(problem(status, code), answer(201, DOCUMENT))
    with pytest.raises(APIError):
        call(server, "create_subscriber", external_id="crm-1")
    assert len(server.requests) == 1 and call.sleeps == []


def test_transport_errors_are_retried_then_raised(call: Harness) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    server = Server(refuse)
    with pytest.raises(TransportError) as caught:
        call(server, "update_preferences", "sub_1", suppressed=True, options={"retries": 2})
    assert len(server.requests) == 3 and len(call.sleeps) == 2
    assert len({r.headers["idempotency-key"] for r in server.requests}) == 1
    assert caught.value.attempts == 3 and isinstance(caught.value.__cause__, httpx.ConnectError)
    assert "after 3 attempts" in str(caught.value) and "connection refused" in str(caught.value)


def test_a_timeout_is_retried(call: Harness) -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    server = Server(time_out, answer(200, DOCUMENT))
    assert isinstance(call(server, "get_preferences", "sub_1"), Preferences)
    assert len(server.requests) == 2


def test_an_unsupported_protocol_is_not_retried(call: Harness) -> None:
    def unsupported(request: httpx.Request) -> httpx.Response:
        raise httpx.UnsupportedProtocol("no", request=request)

    server = Server(unsupported)
    with pytest.raises(TransportError) as caught:
        call(server, "center")
    assert len(server.requests) == 1 and caught.value.attempts == 1


# -- the key stays secret; the two clients stay alike ---------------------------------------------


def test_api_key_is_in_no_repr_or_message(call: Harness) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    raised: list[BaseException] = []
    for server in (Server(problem(401, "unauthenticated")), Server(problem(422, "invalid", errors=[])),
                   Server(answer(502, content=b"<h1>Bad gateway</h1>", headers={"content-type": "text/html"})),
                   Server(refuse)):
        with pytest.raises(PreferenceSDKError) as caught:
            call(server, "set_preferences", "sub_1", version=1, options={"retries": 0})
        assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was sent...
        raised.append(caught.value)
    texts = [repr(call.client), str(call.client)]
    for error in raised:
        texts += [str(error), repr(error), str(error.__cause__), repr(error.__cause__)]
    secret = KEY.split("_")[-1]
    assert not [text for text in texts if secret in text]  # ...and is shown nowhere
    assert repr(call.client) == f"<{type(call.client).__name__} base_url='{BASE}' center='{CENTER}'>"


def test_both_clients_offer_the_same_methods() -> None:
    public = {name for name in dir(Client) if not name.startswith("_")} - {"close", "base_url", "center_id"}
    async_public = {name for name in dir(AsyncClient) if not name.startswith("_")} - {"aclose"}
    assert public == async_public
    for name in public:
        sync_method, async_method = getattr(Client, name), getattr(AsyncClient, name)
        if not callable(sync_method):
            continue
        assert inspect.signature(sync_method).parameters == inspect.signature(async_method).parameters, name
        if name == "iter_events":
            assert inspect.isgeneratorfunction(sync_method) and inspect.isasyncgenfunction(async_method)
        else:
            assert inspect.iscoroutinefunction(async_method), name
            assert not inspect.iscoroutinefunction(sync_method), name
    assert str(inspect.signature(Client.find_by_external_id).return_annotation) == "Preferences | None"


def test_clients_close_their_connections() -> None:
    server = Server(answer(200, DOCUMENT))
    with Client(BASE, KEY, CENTER, transport=httpx.MockTransport(server)) as client:
        client.get_preferences("sub_1")
    assert client._http.is_closed

    async def run() -> AsyncClient:
        async with AsyncClient(BASE, KEY, CENTER, transport=httpx.MockTransport(server)) as aclient:
            await aclient.get_preferences("sub_1")
        return aclient

    assert asyncio.run(run())._http.is_closed


def test_base_url_and_headers() -> None:
    server = Server(answer(200, CENTER_JSON))
    with Client(BASE + "/", KEY, CENTER, headers={"Accept-Language": "fr", "authorization": "Bearer other"},
                transport=httpx.MockTransport(server)) as client:
        client.center()
    assert str(server.request.url) == BASE + PREFIX  # no double slash, no trailing slash
    assert server.request.headers["accept-language"] == "fr"
    assert server.request.headers["authorization"] == f"Bearer {KEY}"  # the key passed wins
    with pytest.raises(ValueError, match="http"):
        Client("prefs.example.com", KEY, CENTER)
    with pytest.raises(ValueError, match="api_key"):
        Client(BASE, "", CENTER)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_client_under_anyio() -> None:
    server = Server(problem(503, "unavailable"), answer(200, DOCUMENT))
    async with RecordingAsyncClient(BASE, KEY, CENTER, transport=httpx.MockTransport(server)) as client:
        prefs = await client.get_preferences("sub_1")
    assert prefs.subscriber_id == "sub_1" and len(client.sleeps) == 1


def test_a_write_whose_first_attempt_is_still_running_is_retried() -> None:
    """After a read timeout, the retry may find the first attempt still in progress (409)."""
    answers = iter([
        httpx.Response(409, json={"type": "about:blank", "title": "Request in progress", "status": 409,
                                  "detail": "...", "code": "idempotency_key_in_use"}, headers={"Retry-After": "0"}),
        httpx.Response(201, json={"subscriber_id": "sub_1", "center": "c", "version": 0, "subscriptions": {}}),
    ])
    keys = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["idempotency-key"])
        return next(answers)

    with RecordingClient("http://api.test", "pck_a_b", "c", transport=httpx.MockTransport(handler)) as client:
        assert client.create_subscriber().subscriber_id == "sub_1"
    assert len(keys) == 2 and keys[0] == keys[1]  # the same key: the server replays, never writes twice


def test_a_409_whose_json_body_is_not_an_object_is_a_conflict_not_a_crash(call: Harness) -> None:
    """A proxy's (or an older server's) 409 with a JSON list: not our "in progress", so no retry, and no
    AttributeError from reading ``code`` off a list."""
    server = Server(answer(409, content=b'["busy"]', headers={"content-type": "application/json"}))
    with pytest.raises(Conflict):
        call(server, "create_subscriber", external_id="crm-1")
    assert len(server.requests) == 1 and call.sleeps == []
