"""The HTTP clients: ``Client`` (blocking) and ``AsyncClient`` (asyncio or trio).

Each API call is described once, in ``_calls.Calls``, as a ``_Call``: the request to
send and how to read the answer. ``BaseClient`` adds whether to retry and how long to
wait. ``Client`` and ``AsyncClient`` only send, sleep and close: each public method is a
plain ``def`` (or ``async def``) with the call's full signature and result type, so type
checkers and "go to definition" see it, and its body hands the built call to ``_send``.
The two clients can never drift apart on what is sent, and tests/sdk/test_client.py
checks that their signatures and docstrings match each other and the builders'.

Why every request may be retried: every write carries an ``Idempotency-Key`` (yours, or
one drawn once per call and kept across its retries), and the server answers a repeat of
a key with the first answer, writing nothing twice.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from importlib import metadata
from typing import Any, AsyncIterator, Iterator, Mapping, TypeVar

import anyio
import httpx

from ._calls import NOT_GIVEN, Calls, NotGiven, SubscriptionsWrite, _Call, _segment
from ._exceptions import PreferenceSDKError, TransportError, error_from_response, parse_retry_after
from ._models import (
    CenterInfo,
    ChainVerification,
    Decision,
    Delivery,
    Event,
    FeedPage,
    ImportReport,
    Link,
    Preferences,
    SignedReceipt,
    WebhookEndpoint,
)

__all__ = ["NOT_GIVEN", "AsyncClient", "BaseClient", "Client", "NotGiven"]

T = TypeVar("T")

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
        problem = response.json()
    except ValueError:
        return False
    return isinstance(problem, dict) and problem.get("code") == "idempotency_key_in_use"  # a list has no .get


class BaseClient(Calls):
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
        try:
            httpx.URL(base_url)
        except httpx.InvalidURL as exc:
            raise ValueError(f"base_url is not a valid URL ({exc})") from None
        api_key = api_key.strip() if isinstance(api_key, str) else api_key  # a key file's final newline
        if not api_key:
            raise ValueError("api_key is empty: create one with `widget-server api-key create`")
        if not isinstance(api_key, str) or not all("!" <= c <= "~" for c in api_key):
            # Never quote the key: this message may well end up in a log.
            raise ValueError("api_key holds a character an HTTP header cannot carry (a space, a line break, "
                             "a non-ASCII letter): copy the key again from `widget-server api-key create`")
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
        delay = min(self.backoff * 2.0**attempt, self.max_backoff)
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

    def _gave_up(self, call: _Call[Any], exc: httpx.HTTPError, attempts: int) -> TransportError:
        # httpx's LocalProtocolError quotes the offending header: it may be the Authorization one.
        said = "" if isinstance(exc, httpx.LocalProtocolError) else f": {exc}"
        return TransportError(
            f"{call.method} {self._prefix.removeprefix(self.base_url)}{call.path}: {type(exc).__name__}{said} "
            f"(after {attempts} attempt{'s' if attempts > 1 else ''}; check base_url and the network, "
            "or raise timeout= or retries=)",
            attempts=attempts,
        )


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
            except httpx.HTTPError as exc:  # and a body that cannot be decoded (DecodingError)
                raise self._gave_up(call, exc, attempt + 1) from exc
            else:
                delay = self._retry_delay(attempt, response=response)
                if delay is None:
                    return self._result(call, response)
            self._sleep(delay)
            attempt += 1

    # -- the API: each call built by ``Calls`` (what is sent), sent here ----------------------

    def center(self) -> CenterInfo:
        """The center's definition: locales, topics with their channels and frequencies, interests."""
        return self._send(self._center())

    def create_subscriber(
        self,
        *,
        external_id: str | None = None,
        email: str | None = None,
        locale: str | None = None,
        preferences: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        country: str | None = None,
    ) -> Preferences:
        """Create a subscriber; ``preferences`` is a write body (see docs/API.md); ``country`` (ISO
        3166 alpha-2) picks the region whose consent rules apply to them.

        A duplicate ``external_id`` raises ``Conflict`` whose ``subscriber_id`` is the one holding it.
        """
        call = self._create_subscriber(external_id=external_id, email=email, locale=locale, preferences=preferences,
                                       idempotency_key=idempotency_key, country=country)
        return self._send(call)

    def get_preferences(self, subscriber_id: str) -> Preferences:
        """A subscriber's preferences now; keep ``.version`` to change them with ``set_preferences``."""
        return self._send(self._get_preferences(subscriber_id))

    def find_by_external_id(self, external_id: str) -> Preferences | None:
        """The subscriber your CRM knows as ``external_id``, or None."""
        return self._send(self._find_by_external_id(external_id))

    def set_preferences(
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
    ) -> Preferences:
        """Replace the choices (a topic or channel left out becomes ``unknown``).

        ``version`` is the one you read: if they changed since, ``StaleVersion`` is raised and
        nothing is written.
        """
        call = self._set_preferences(subscriber_id, version=version, subscriptions=subscriptions,
                                     frequencies=frequencies, interests=interests, paused_until=paused_until,
                                     suppressed=suppressed, source=source, evidence=evidence, locale=locale,
                                     notice_version=notice_version, idempotency_key=idempotency_key)
        return self._send(call)

    def update_preferences(
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
    ) -> Preferences:
        """Change only what you pass (``paused_until=None`` ends a pause); the rest stays as it is.
        A subscription may carry its basis (docs/API.md, "Write body"); ``country`` sets the
        subscriber's (ISO 3166 alpha-2, or None: not known).

        With ``version``, the change is refused (``StaleVersion``) if they changed since you read them.
        """
        call = self._update_preferences(subscriber_id, version=version, subscriptions=subscriptions,
                                        frequencies=frequencies, interests=interests, paused_until=paused_until,
                                        suppressed=suppressed, source=source, evidence=evidence, locale=locale,
                                        notice_version=notice_version, idempotency_key=idempotency_key,
                                        country=country)
        return self._send(call)

    def can_contact(
        self,
        subscriber_id: str,
        topic: str,
        channel: str,
        *,
        at: datetime | None = None,
        digest: bool = False,
    ) -> Decision:
        """May ``topic`` be sent on ``channel`` to this subscriber (now, or ``at``)? The answer is truthy if so.

        ``digest=True`` for a digest send: a subscriber who chose a weekly digest gets ``wait_for_digest``
        for anything else.
        """
        return self._send(self._can_contact(subscriber_id, topic, channel, at=at, digest=digest))

    def mint_link(
        self,
        subscriber_id: str,
        *,
        scope: str = "manage",
        topic: str | None = None,
        channel: str | None = None,
        locale: str | None = None,
        idempotency_key: str | None = None,
    ) -> Link:
        """A signed link to the preference page (``manage``) or to unsubscribe: from ``topic`` on
        ``channel`` (the one the message goes out on; default email), from ``topic``, or from all.
        """
        call = self._mint_link(subscriber_id, scope=scope, topic=topic, channel=channel, locale=locale,
                               idempotency_key=idempotency_key)
        return self._send(call)

    def export(self, subscriber_id: str) -> dict[str, Any]:
        """Everything held about a subscriber (GDPR access and portability). Needs the ``admin`` scope."""
        return self._send(self._export(subscriber_id))

    def erase(self, subscriber_id: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Erase a subscriber (GDPR): answers what was deleted and what is kept as proof. Needs ``admin``."""
        return self._send(self._erase(subscriber_id, idempotency_key=idempotency_key))

    def revoke_links(self, subscriber_id: str, *, idempotency_key: str | None = None) -> datetime:
        """Sign out every link sent to a subscriber (a lost phone, a forwarded mail): links signed
        before the instant answered stop working. Needs the ``write`` scope."""
        return self._send(self._revoke_links(subscriber_id, idempotency_key=idempotency_key))

    def verify_chain(self, subscriber_id: str) -> ChainVerification:
        """The server's check of a subscriber's consent-event chain (each event's keyed hash and
        link, their anchor): ``intact``, or ``broken`` naming each event. Needs the ``read`` scope."""
        return self._send(self._verify_chain(subscriber_id))

    def notice_text(self, digest: str) -> dict[str, Any]:
        """The wording an event's ``notice_text`` names (what the person was shown): ``{"hash", "center",
        "notice_version", "locale", "created_at", "text"}``. Needs the ``read`` scope."""
        return self._send(self._notice_text(digest))

    def receipt(self, subscriber_id: str, *, event: int | None = None) -> SignedReceipt:
        """A signed consent receipt (ISO/IEC TS 27560) of the subscriber's history, or of one
        ``event`` (its id); check it with ``verify_receipt``. Needs the ``read`` scope."""
        return self._send(self._receipt(subscriber_id, event=event))

    def events(self, *, after: int = 0, limit: int = 500, remaining: bool = False) -> FeedPage:
        """One page of the change feed after the cursor ``after`` (the last event id you processed).

        ``remaining=True`` also counts the events after the page (``page.remaining``), for a progress total.
        """
        return self._send(self._events(after=after, limit=limit, remaining=remaining))

    def import_batch(
        self,
        records: list[Mapping[str, Any]],
        *,
        dry_run: bool,
        idempotency_key: str | None = None,
    ) -> ImportReport:
        """Import up to 10,000 records (docs/API.md, "Bulk import"); ``dry_run=True`` reports without writing."""
        return self._send(self._import_batch(records, dry_run=dry_run, idempotency_key=idempotency_key))

    def create_webhook(self, url: str, *, description: str | None = None) -> WebhookEndpoint:
        """Register an endpoint; keep its ``secret`` (shown only now) to verify deliveries."""
        return self._send(self._create_webhook(url, description=description))

    def rotate_webhook_secret(self, endpoint_id: str, *, expire_previous_in: int = 86_400) -> WebhookEndpoint:
        """Give an endpoint a new ``secret`` (shown only now) without refusing a delivery meanwhile.

        For ``expire_previous_in`` seconds (0 to 604800, a week) deliveries carry a signature
        under each secret: verify with both (``verify_webhook(..., [new, old])``) until
        ``previous_secret_expires_at``, then with the new one alone.
        """
        return self._send(self._rotate_webhook_secret(endpoint_id, expire_previous_in=expire_previous_in))

    def list_webhooks(self) -> list[WebhookEndpoint]:
        """The endpoints registered, with their delivery counts."""
        return self._send(self._list_webhooks())

    def delete_webhook(self, endpoint_id: str) -> None:
        """Stop deliveries to an endpoint (pending ones are dropped)."""
        return self._send(self._delete_webhook(endpoint_id))

    def deliveries(self, endpoint_id: str, *, status: str | None = None, limit: int = 100) -> list[Delivery]:
        """An endpoint's deliveries, newest first; ``status`` is ``pending``, ``delivered`` or ``failed``."""
        return self._send(self._deliveries(endpoint_id, status=status, limit=limit))

    def replay_delivery(self, endpoint_id: str, delivery_id: str) -> Delivery:
        """Send one delivery again (a failed one, say, once the receiver is fixed)."""
        return self._send(self._replay_delivery(endpoint_id, delivery_id))

    def replay_webhook(self, endpoint_id: str, *, after: int) -> dict[str, Any]:
        """Send again to this endpoint every event after the cursor ``after``."""
        return self._send(self._replay_webhook(endpoint_id, after=after))

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
            except httpx.HTTPError as exc:  # and a body that cannot be decoded (DecodingError)
                raise self._gave_up(call, exc, attempt + 1) from exc
            else:
                delay = self._retry_delay(attempt, response=response)
                if delay is None:
                    return self._result(call, response)
            await self._sleep(delay)
            attempt += 1

    # -- the API: the same calls as ``Client``'s, awaited ------------------------------------

    async def center(self) -> CenterInfo:
        """The center's definition: locales, topics with their channels and frequencies, interests."""
        return await self._send(self._center())

    async def create_subscriber(
        self,
        *,
        external_id: str | None = None,
        email: str | None = None,
        locale: str | None = None,
        preferences: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        country: str | None = None,
    ) -> Preferences:
        """Create a subscriber; ``preferences`` is a write body (see docs/API.md); ``country`` (ISO
        3166 alpha-2) picks the region whose consent rules apply to them.

        A duplicate ``external_id`` raises ``Conflict`` whose ``subscriber_id`` is the one holding it.
        """
        call = self._create_subscriber(external_id=external_id, email=email, locale=locale, preferences=preferences,
                                       idempotency_key=idempotency_key, country=country)
        return await self._send(call)

    async def get_preferences(self, subscriber_id: str) -> Preferences:
        """A subscriber's preferences now; keep ``.version`` to change them with ``set_preferences``."""
        return await self._send(self._get_preferences(subscriber_id))

    async def find_by_external_id(self, external_id: str) -> Preferences | None:
        """The subscriber your CRM knows as ``external_id``, or None."""
        return await self._send(self._find_by_external_id(external_id))

    async def set_preferences(
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
    ) -> Preferences:
        """Replace the choices (a topic or channel left out becomes ``unknown``).

        ``version`` is the one you read: if they changed since, ``StaleVersion`` is raised and
        nothing is written.
        """
        call = self._set_preferences(subscriber_id, version=version, subscriptions=subscriptions,
                                     frequencies=frequencies, interests=interests, paused_until=paused_until,
                                     suppressed=suppressed, source=source, evidence=evidence, locale=locale,
                                     notice_version=notice_version, idempotency_key=idempotency_key)
        return await self._send(call)

    async def update_preferences(
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
    ) -> Preferences:
        """Change only what you pass (``paused_until=None`` ends a pause); the rest stays as it is.
        A subscription may carry its basis (docs/API.md, "Write body"); ``country`` sets the
        subscriber's (ISO 3166 alpha-2, or None: not known).

        With ``version``, the change is refused (``StaleVersion``) if they changed since you read them.
        """
        call = self._update_preferences(subscriber_id, version=version, subscriptions=subscriptions,
                                        frequencies=frequencies, interests=interests, paused_until=paused_until,
                                        suppressed=suppressed, source=source, evidence=evidence, locale=locale,
                                        notice_version=notice_version, idempotency_key=idempotency_key,
                                        country=country)
        return await self._send(call)

    async def can_contact(
        self,
        subscriber_id: str,
        topic: str,
        channel: str,
        *,
        at: datetime | None = None,
        digest: bool = False,
    ) -> Decision:
        """May ``topic`` be sent on ``channel`` to this subscriber (now, or ``at``)? The answer is truthy if so.

        ``digest=True`` for a digest send: a subscriber who chose a weekly digest gets ``wait_for_digest``
        for anything else.
        """
        return await self._send(self._can_contact(subscriber_id, topic, channel, at=at, digest=digest))

    async def mint_link(
        self,
        subscriber_id: str,
        *,
        scope: str = "manage",
        topic: str | None = None,
        channel: str | None = None,
        locale: str | None = None,
        idempotency_key: str | None = None,
    ) -> Link:
        """A signed link to the preference page (``manage``) or to unsubscribe: from ``topic`` on
        ``channel`` (the one the message goes out on; default email), from ``topic``, or from all.
        """
        call = self._mint_link(subscriber_id, scope=scope, topic=topic, channel=channel, locale=locale,
                               idempotency_key=idempotency_key)
        return await self._send(call)

    async def export(self, subscriber_id: str) -> dict[str, Any]:
        """Everything held about a subscriber (GDPR access and portability). Needs the ``admin`` scope."""
        return await self._send(self._export(subscriber_id))

    async def erase(self, subscriber_id: str, *, idempotency_key: str | None = None) -> dict[str, Any]:
        """Erase a subscriber (GDPR): answers what was deleted and what is kept as proof. Needs ``admin``."""
        return await self._send(self._erase(subscriber_id, idempotency_key=idempotency_key))

    async def revoke_links(self, subscriber_id: str, *, idempotency_key: str | None = None) -> datetime:
        """Sign out every link sent to a subscriber (a lost phone, a forwarded mail): links signed
        before the instant answered stop working. Needs the ``write`` scope."""
        return await self._send(self._revoke_links(subscriber_id, idempotency_key=idempotency_key))

    async def verify_chain(self, subscriber_id: str) -> ChainVerification:
        """The server's check of a subscriber's consent-event chain (each event's keyed hash and
        link, their anchor): ``intact``, or ``broken`` naming each event. Needs the ``read`` scope."""
        return await self._send(self._verify_chain(subscriber_id))

    async def notice_text(self, digest: str) -> dict[str, Any]:
        """The wording an event's ``notice_text`` names (what the person was shown): ``{"hash", "center",
        "notice_version", "locale", "created_at", "text"}``. Needs the ``read`` scope."""
        return await self._send(self._notice_text(digest))

    async def receipt(self, subscriber_id: str, *, event: int | None = None) -> SignedReceipt:
        """A signed consent receipt (ISO/IEC TS 27560) of the subscriber's history, or of one
        ``event`` (its id); check it with ``verify_receipt``. Needs the ``read`` scope."""
        return await self._send(self._receipt(subscriber_id, event=event))

    async def events(self, *, after: int = 0, limit: int = 500, remaining: bool = False) -> FeedPage:
        """One page of the change feed after the cursor ``after`` (the last event id you processed).

        ``remaining=True`` also counts the events after the page (``page.remaining``), for a progress total.
        """
        return await self._send(self._events(after=after, limit=limit, remaining=remaining))

    async def import_batch(
        self,
        records: list[Mapping[str, Any]],
        *,
        dry_run: bool,
        idempotency_key: str | None = None,
    ) -> ImportReport:
        """Import up to 10,000 records (docs/API.md, "Bulk import"); ``dry_run=True`` reports without writing."""
        return await self._send(self._import_batch(records, dry_run=dry_run, idempotency_key=idempotency_key))

    async def create_webhook(self, url: str, *, description: str | None = None) -> WebhookEndpoint:
        """Register an endpoint; keep its ``secret`` (shown only now) to verify deliveries."""
        return await self._send(self._create_webhook(url, description=description))

    async def rotate_webhook_secret(self, endpoint_id: str, *, expire_previous_in: int = 86_400) -> WebhookEndpoint:
        """Give an endpoint a new ``secret`` (shown only now) without refusing a delivery meanwhile.

        For ``expire_previous_in`` seconds (0 to 604800, a week) deliveries carry a signature
        under each secret: verify with both (``verify_webhook(..., [new, old])``) until
        ``previous_secret_expires_at``, then with the new one alone.
        """
        return await self._send(self._rotate_webhook_secret(endpoint_id, expire_previous_in=expire_previous_in))

    async def list_webhooks(self) -> list[WebhookEndpoint]:
        """The endpoints registered, with their delivery counts."""
        return await self._send(self._list_webhooks())

    async def delete_webhook(self, endpoint_id: str) -> None:
        """Stop deliveries to an endpoint (pending ones are dropped)."""
        return await self._send(self._delete_webhook(endpoint_id))

    async def deliveries(self, endpoint_id: str, *, status: str | None = None, limit: int = 100) -> list[Delivery]:
        """An endpoint's deliveries, newest first; ``status`` is ``pending``, ``delivered`` or ``failed``."""
        return await self._send(self._deliveries(endpoint_id, status=status, limit=limit))

    async def replay_delivery(self, endpoint_id: str, delivery_id: str) -> Delivery:
        """Send one delivery again (a failed one, say, once the receiver is fixed)."""
        return await self._send(self._replay_delivery(endpoint_id, delivery_id))

    async def replay_webhook(self, endpoint_id: str, *, after: int) -> dict[str, Any]:
        """Send again to this endpoint every event after the cursor ``after``."""
        return await self._send(self._replay_webhook(endpoint_id, after=after))

    async def iter_events(self, *, after: int = 0, limit: int = 500) -> AsyncIterator[Event]:
        """Every event after the cursor ``after``, page after page, until the feed is read to its end."""
        while True:
            page = await self.events(after=after, limit=limit)
            for event in page.events:
                yield event
            if not page.has_more or page.next_cursor == after:
                return
            after = page.next_cursor
