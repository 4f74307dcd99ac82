"""The HTTP clients: ``Client`` (blocking) and ``AsyncClient`` (asyncio or trio).

Each API method is described once, in ``BaseClient``, as a ``_Call``: the request to send
and how to read the answer. ``BaseClient`` also decides whether to retry and how long to
wait. ``Client`` and ``AsyncClient`` only send, sleep and close, so the two can never
drift apart on what is sent.

Why every request may be retried: every write carries an ``Idempotency-Key`` (yours, or
one drawn once per call and kept across its retries), and the server answers a repeat of
a key with the first answer, writing nothing twice.
"""

from __future__ import annotations

import inspect
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from importlib import metadata
from typing import Any, AsyncIterator, Callable, Concatenate, Generic, Iterator, Mapping, ParamSpec, TypeVar
from urllib.parse import quote

import anyio
import httpx

from ._exceptions import PreferenceSDKError, TransportError, error_from_response, parse_retry_after
from ._models import CenterInfo, Decision, Delivery, Event, FeedPage, ImportReport, Link, Preferences, WebhookEndpoint

__all__ = ["NOT_GIVEN", "AsyncClient", "BaseClient", "Client", "NotGiven"]

T = TypeVar("T")
P = ParamSpec("P")

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Worth another try: the request may not have reached the server, or its answer was lost.
# (A bad URL scheme or a malformed request would fail the same way every time.)
_RETRY_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def _version() -> str:
    try:
        return metadata.version("preference-sdk")
    except metadata.PackageNotFoundError:  # running from a checkout that was not installed
        return "0+unknown"


USER_AGENT = f"preference-sdk/{_version()}"


def _in_progress(response: httpx.Response) -> bool:
    """A 409 saying our own earlier attempt (same idempotency key) is still running: wait for it."""
    if response.status_code != 409:
        return False
    try:
        return response.json().get("code") == "idempotency_key_in_use"
    except ValueError:
        return False


class NotGiven:
    """Marks an argument left out, so that ``paused_until=None`` (clear the pause) differs
    from not mentioning the pause at all in ``update_preferences``."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN: Any = NotGiven()


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


class BaseClient:
    """Everything but I/O: the requests, the answers, and the retry policy."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        center: str,
        *,
        timeout: float | httpx.Timeout = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https:// (got {base_url!r})")
        if not api_key:
            raise ValueError("api_key is empty: create one with `widget-server api-key create`")
        if not center:
            raise ValueError("center is empty: pass the center's id, e.g. 'maison-lumiere'")
        if retries < 0 or backoff < 0 or max_backoff < 0:
            raise ValueError("retries, backoff and max_backoff cannot be negative")
        self.base_url = base_url.rstrip("/")
        self.center_id = center
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._prefix = f"{self.base_url}/api/v1/centers/{_segment(center)}"
        extra = {name: value for name, value in (headers or {}).items() if name.lower() != "authorization"}
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **extra,
                         "Authorization": f"Bearer {api_key}"}
        self._random = random.Random()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_url={self.base_url!r} center={self.center_id!r}>"

    # -- sending: what the subclasses use -------------------------------------------------

    def _request(self, http: httpx.Client | httpx.AsyncClient, call: _Call[Any]) -> httpx.Request:
        headers = {**call.headers}
        if call.body is not None:
            headers["Content-Type"] = call.content_type
        if call.idempotency_key is not None:
            headers["Idempotency-Key"] = call.idempotency_key
        return http.build_request(call.method, self._prefix + call.path, params=call.params, content=call.body,
                                  headers=headers)

    def _retry_delay(self, attempt: int, *, response: httpx.Response | None = None) -> float | None:
        """Seconds to wait before sending again, or None to stop (``response`` None: no answer came).

        Only what is worth repeating is retried: no answer, 429, and the gateway errors a
        restart or a deploy causes. A 500 is a bug that the same request would hit again.
        """
        if attempt >= self.retries:
            return None
        if response is not None and response.status_code not in _RETRY_STATUSES and not _in_progress(response):
            return None
        told = parse_retry_after(response) if response is not None else None
        if told is not None:
            return min(told, self.max_backoff)
        delay = min(self.backoff * 2**attempt, self.max_backoff)
        return delay * self._random.uniform(0.5, 1.0)  # jitter: clients that failed together spread out

    def _result(self, call: _Call[T], response: httpx.Response) -> T:
        if not response.is_success:
            raise error_from_response(response)
        try:
            data = response.json() if response.content else None
            return call.parse(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise PreferenceSDKError(
                f"{call.method} {response.request.url.path} answered {response.status_code} with a body that "
                f"is not the preference center API's ({type(exc).__name__}: {exc}); is base_url the API server?"
            ) from exc

    def _gave_up(self, call: _Call[Any], exc: httpx.TransportError, attempts: int) -> TransportError:
        return TransportError(
            f"{call.method} {self._prefix.removeprefix(self.base_url)}{call.path}: {type(exc).__name__}: {exc} "
            f"(after {attempts} attempt{'s' if attempts > 1 else ''}; check base_url and the network, "
            "or raise timeout= or retries=)",
            attempts=attempts,
        )

    # -- the API: each method described once ----------------------------------------------

    def _center(self) -> _Call[CenterInfo]:
        """The center's definition: locales, topics with their channels and frequencies, interests."""
        return _Call("GET", "", CenterInfo.from_json)

    def _create_subscriber(
        self,
        *,
        external_id: str | None = None,
        email: str | None = None,
        locale: str | None = None,
        preferences: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> _Call[Preferences]:
        """Create a subscriber; ``preferences`` is a write body (see docs/API.md).

        A duplicate ``external_id`` raises ``Conflict`` whose ``subscriber_id`` is the one holding it.
        """
        body = _given(external_id=external_id, email=email, locale=locale, preferences=preferences)
        return _write("POST", "/subscribers", body, Preferences.from_json, idempotency_key)

    def _get_preferences(self, subscriber_id: str) -> _Call[Preferences]:
        """A subscriber's preferences now; keep ``.version`` to change them with ``set_preferences``."""
        return _Call("GET", f"/subscribers/{_segment(subscriber_id)}", Preferences.from_json)

    def _find_by_external_id(self, external_id: str) -> _Call[Preferences | None]:
        """The subscriber your CRM knows as ``external_id``, or None."""
        return _Call("GET", "/subscribers", _first_subscriber, params={"external_id": external_id})

    def _set_preferences(
        self,
        subscriber_id: str,
        *,
        version: int,
        subscriptions: Mapping[str, Mapping[str, str]] | None = None,
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
        """Replace the choices (a topic or channel left out becomes ``unknown``).

        ``version`` is the one you read: if they changed since, ``StaleVersion`` is raised and
        nothing is written.
        """
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
        subscriptions: Mapping[str, Mapping[str, str]] = NOT_GIVEN,
        frequencies: Mapping[str, str] = NOT_GIVEN,
        interests: list[str] | tuple[str, ...] = NOT_GIVEN,
        paused_until: datetime | str | None = NOT_GIVEN,
        suppressed: bool = NOT_GIVEN,
        source: str = NOT_GIVEN,
        evidence: Mapping[str, Any] = NOT_GIVEN,
        locale: str = NOT_GIVEN,
        notice_version: str = NOT_GIVEN,
        idempotency_key: str | None = None,
    ) -> _Call[Preferences]:
        """Change only what you pass (``paused_until=None`` ends a pause); the rest stays as it is.

        With ``version``, the change is refused (``StaleVersion``) if they changed since you read them.
        """
        members = dict(subscriptions=subscriptions, frequencies=frequencies, interests=interests,
                       paused_until=paused_until, suppressed=suppressed, source=source, evidence=evidence,
                       locale=locale, notice_version=notice_version)
        body = {name: value for name, value in members.items() if value is not NOT_GIVEN}
        headers = _if_match(version) if version is not None else {}
        return _write("PATCH", _preferences_path(subscriber_id), body, Preferences.from_json, idempotency_key,
                      headers=headers)

    def _can_contact(
        self, subscriber_id: str, topic: str, channel: str, *, at: datetime | None = None, digest: bool = False
    ) -> _Call[Decision]:
        """May ``topic`` be sent on ``channel`` to this subscriber (now, or ``at``)? The answer is truthy if so.

        ``digest=True`` for a digest send: a subscriber who chose a weekly digest gets ``wait_for_digest``
        for anything else.
        """
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
        locale: str | None = None,
        idempotency_key: str | None = None,
    ) -> _Call[Link]:
        """A signed link to the preference page (``manage``) or to unsubscribe (from ``topic``, or all)."""
        body = {"scope": scope, **_given(topic=topic, locale=locale)}
        return _write("POST", f"/subscribers/{_segment(subscriber_id)}/links", body, Link.from_json, idempotency_key)

    def _export(self, subscriber_id: str) -> _Call[dict[str, Any]]:
        """Everything held about a subscriber (GDPR access and portability). Needs the ``admin`` scope."""
        return _Call("GET", f"/subscribers/{_segment(subscriber_id)}/export", dict)

    def _erase(self, subscriber_id: str, *, idempotency_key: str | None = None) -> _Call[dict[str, Any]]:
        """Erase a subscriber (GDPR): answers what was deleted and what is kept as proof. Needs ``admin``."""
        return _write("DELETE", f"/subscribers/{_segment(subscriber_id)}", None, dict, idempotency_key)

    def _events(self, *, after: int = 0, limit: int = 500) -> _Call[FeedPage]:
        """One page of the change feed after the cursor ``after`` (the last event id you processed)."""
        return _Call("GET", "/events", FeedPage.from_json, params={"after": str(after), "limit": str(limit)})

    def _import_batch(
        self, records: list[Mapping[str, Any]], *, dry_run: bool, idempotency_key: str | None = None
    ) -> _Call[ImportReport]:
        """Import up to 10,000 records (docs/API.md, "Bulk import"); ``dry_run=True`` reports without writing."""
        body = b"".join(_dumps(record) + b"\n" for record in records)
        return _Call("POST", "/imports", ImportReport.from_json, params={"dry_run": _bool(dry_run)}, body=body,
                     content_type="application/x-ndjson", idempotency_key=idempotency_key or _new_key())

    def _create_webhook(self, url: str, *, description: str | None = None) -> _Call[WebhookEndpoint]:
        """Register an endpoint; keep its ``secret`` (shown only now) to verify deliveries."""
        body = {"url": url, **_given(description=description)}
        return _write("POST", "/webhooks", body, WebhookEndpoint.from_json, None)

    def _list_webhooks(self) -> _Call[list[WebhookEndpoint]]:
        """The endpoints registered, with their delivery counts."""
        return _Call("GET", "/webhooks", lambda data: [WebhookEndpoint.from_json(e) for e in _unwrap(data, "webhooks")])

    def _delete_webhook(self, endpoint_id: str) -> _Call[None]:
        """Stop deliveries to an endpoint (pending ones are dropped)."""
        return _write("DELETE", f"/webhooks/{_segment(endpoint_id)}", None, lambda data: None, None)

    def _deliveries(self, endpoint_id: str, *, status: str | None = None, limit: int = 100) -> _Call[list[Delivery]]:
        """An endpoint's deliveries, newest first; ``status`` is ``pending``, ``delivered`` or ``failed``."""
        params = {"limit": str(limit), **_given(status=status)}
        return _Call("GET", f"/webhooks/{_segment(endpoint_id)}/deliveries",
                     lambda data: [Delivery.from_json(d) for d in _unwrap(data, "deliveries")], params=params)

    def _replay_delivery(self, endpoint_id: str, delivery_id: str) -> _Call[Delivery]:
        """Send one delivery again (a failed one, say, once the receiver is fixed)."""
        path = f"/webhooks/{_segment(endpoint_id)}/deliveries/{_segment(delivery_id)}/replay"
        return _write("POST", path, None, lambda data: Delivery.from_json(_unwrap(data, "delivery")), None)

    def _replay_webhook(self, endpoint_id: str, *, after: int) -> _Call[dict[str, Any]]:
        """Send again to this endpoint every event after the cursor ``after``."""
        return _write("POST", f"/webhooks/{_segment(endpoint_id)}/replay", {"after": after}, dict, None)


def _sync(build: Callable[Concatenate[BaseClient, P], _Call[T]]) -> Callable[Concatenate[Client, P], T]:
    """``Client.<name>``: build the call, send it."""

    def method(self: Client, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._send(build(self, *args, **kwargs))

    return _named(method, "Client", build)


def _async(build: Callable[Concatenate[BaseClient, P], _Call[T]]) -> Callable[Concatenate[AsyncClient, P], Any]:
    """``AsyncClient.<name>``: build the call, await sending it."""

    async def method(self: AsyncClient, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._send(build(self, *args, **kwargs))

    return _named(method, "AsyncClient", build)


def _named(method: Any, owner: str, build: Callable[..., Any]) -> Any:
    """Give ``method`` the name, docstring and signature of ``build``, answering what the call parses to."""
    signature = inspect.signature(build)
    answer = str(signature.return_annotation).removeprefix("_Call[").removesuffix("]")  # postponed: a string
    method.__signature__ = signature.replace(return_annotation=answer)
    method.__name__ = build.__name__.removeprefix("_")
    method.__qualname__ = f"{owner}.{method.__name__}"
    method.__doc__ = build.__doc__
    return method


class Client(BaseClient):
    """The blocking client. Use it as a context manager, or call ``close()``.

    ::

        with Client("https://prefs.example.com", api_key, "maison-lumiere") as client:
            prefs = client.get_preferences("sub_1Xh3...")
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        center: str,
        *,
        timeout: float | httpx.Timeout = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, center, timeout=timeout, retries=retries, backoff=backoff,
                         max_backoff=max_backoff, headers=headers)
        self._http = httpx.Client(headers=self._headers, timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _sleep(self, seconds: float) -> None:
        """Wait between attempts (tests override it to record instead)."""
        time.sleep(seconds)

    def _send(self, call: _Call[T]) -> T:
        request = self._request(self._http, call)
        attempt = 0
        while True:
            try:
                response = self._http.send(request)
            except _RETRY_ERRORS as exc:
                delay = self._retry_delay(attempt)
                if delay is None:
                    raise self._gave_up(call, exc, attempt + 1) from exc
            except httpx.TransportError as exc:
                raise self._gave_up(call, exc, attempt + 1) from exc
            else:
                delay = self._retry_delay(attempt, response=response)
                if delay is None:
                    return self._result(call, response)
            self._sleep(delay)
            attempt += 1

    center = _sync(BaseClient._center)
    create_subscriber = _sync(BaseClient._create_subscriber)
    get_preferences = _sync(BaseClient._get_preferences)
    find_by_external_id = _sync(BaseClient._find_by_external_id)
    set_preferences = _sync(BaseClient._set_preferences)
    update_preferences = _sync(BaseClient._update_preferences)
    can_contact = _sync(BaseClient._can_contact)
    mint_link = _sync(BaseClient._mint_link)
    export = _sync(BaseClient._export)
    erase = _sync(BaseClient._erase)
    events = _sync(BaseClient._events)
    import_batch = _sync(BaseClient._import_batch)
    create_webhook = _sync(BaseClient._create_webhook)
    list_webhooks = _sync(BaseClient._list_webhooks)
    delete_webhook = _sync(BaseClient._delete_webhook)
    deliveries = _sync(BaseClient._deliveries)
    replay_delivery = _sync(BaseClient._replay_delivery)
    replay_webhook = _sync(BaseClient._replay_webhook)

    def iter_events(self, *, after: int = 0, limit: int = 500) -> Iterator[Event]:
        """Every event after the cursor ``after``, page after page, until the feed is read to its end."""
        while True:
            page = self.events(after=after, limit=limit)
            yield from page.events
            if not page.has_more or page.next_cursor == after:
                return
            after = page.next_cursor


class AsyncClient(BaseClient):
    """The asynchronous client (asyncio or trio). Use it with ``async with``, or await ``aclose()``.

    ::

        async with AsyncClient("https://prefs.example.com", api_key, "maison-lumiere") as client:
            async for event in client.iter_events(after=cursor):
                ...
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        center: str,
        *,
        timeout: float | httpx.Timeout = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, center, timeout=timeout, retries=retries, backoff=backoff,
                         max_backoff=max_backoff, headers=headers)
        self._http = httpx.AsyncClient(headers=self._headers, timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _sleep(self, seconds: float) -> None:
        """Wait between attempts (tests override it to record instead)."""
        await anyio.sleep(seconds)

    async def _send(self, call: _Call[T]) -> T:
        request = self._request(self._http, call)
        attempt = 0
        while True:
            try:
                response = await self._http.send(request)
            except _RETRY_ERRORS as exc:
                delay = self._retry_delay(attempt)
                if delay is None:
                    raise self._gave_up(call, exc, attempt + 1) from exc
            except httpx.TransportError as exc:
                raise self._gave_up(call, exc, attempt + 1) from exc
            else:
                delay = self._retry_delay(attempt, response=response)
                if delay is None:
                    return self._result(call, response)
            await self._sleep(delay)
            attempt += 1

    center = _async(BaseClient._center)
    create_subscriber = _async(BaseClient._create_subscriber)
    get_preferences = _async(BaseClient._get_preferences)
    find_by_external_id = _async(BaseClient._find_by_external_id)
    set_preferences = _async(BaseClient._set_preferences)
    update_preferences = _async(BaseClient._update_preferences)
    can_contact = _async(BaseClient._can_contact)
    mint_link = _async(BaseClient._mint_link)
    export = _async(BaseClient._export)
    erase = _async(BaseClient._erase)
    events = _async(BaseClient._events)
    import_batch = _async(BaseClient._import_batch)
    create_webhook = _async(BaseClient._create_webhook)
    list_webhooks = _async(BaseClient._list_webhooks)
    delete_webhook = _async(BaseClient._delete_webhook)
    deliveries = _async(BaseClient._deliveries)
    replay_delivery = _async(BaseClient._replay_delivery)
    replay_webhook = _async(BaseClient._replay_webhook)

    async def iter_events(self, *, after: int = 0, limit: int = 500) -> AsyncIterator[Event]:
        """Every event after the cursor ``after``, page after page, until the feed is read to its end."""
        while True:
            page = await self.events(after=after, limit=limit)
            for event in page.events:
                yield event
            if not page.has_more or page.next_cursor == after:
                return
            after = page.next_cursor


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
