"""The HTTP clients: ``Client`` (blocking) and ``AsyncClient`` (asyncio or trio).

Each API method is described once, in ``_calls.Calls``, as a ``_Call``: the request to
send and how to read the answer. ``BaseClient`` adds whether to retry and how long to
wait. ``Client`` and ``AsyncClient`` only send, sleep and close, so the two can never
drift apart on what is sent.

Why every request may be retried: every write carries an ``Idempotency-Key`` (yours, or
one drawn once per call and kept across its retries), and the server answers a repeat of
a key with the first answer, writing nothing twice.
"""

from __future__ import annotations

import inspect
import random
import time
from importlib import metadata
from typing import Any, AsyncIterator, Callable, Concatenate, Iterator, Mapping, ParamSpec, TypeVar

import anyio
import httpx

from ._calls import NOT_GIVEN, Calls, NotGiven, _Call, _segment
from ._exceptions import PreferenceSDKError, TransportError, error_from_response, parse_retry_after
from ._models import Event

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

    def _gave_up(self, call: _Call[Any], exc: httpx.HTTPError, attempts: int) -> TransportError:
        # httpx's LocalProtocolError quotes the offending header: it may be the Authorization one.
        said = "" if isinstance(exc, httpx.LocalProtocolError) else f": {exc}"
        return TransportError(
            f"{call.method} {self._prefix.removeprefix(self.base_url)}{call.path}: {type(exc).__name__}{said} "
            f"(after {attempts} attempt{'s' if attempts > 1 else ''}; check base_url and the network, "
            "or raise timeout= or retries=)",
            attempts=attempts,
        )

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
            except httpx.HTTPError as exc:  # and a body that cannot be decoded (DecodingError)
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
    rotate_webhook_secret = _sync(BaseClient._rotate_webhook_secret)
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
            except httpx.HTTPError as exc:  # and a body that cannot be decoded (DecodingError)
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
    rotate_webhook_secret = _async(BaseClient._rotate_webhook_secret)
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
