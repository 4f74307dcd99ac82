"""The webhook worker: sends the outbox's deliveries, signed, with retries.

It runs inside each server process (started and stopped with the app). Each pass
claims the due heads of the (endpoint, subscriber) queues with a lease, so processes
never send the same attempt twice and a subscriber's events go out in order; sends
them concurrently; and records each outcome. A ``2xx`` within the timeout is
delivered; anything else is retried after ``first_retry * 2**n`` (capped at an hour)
until ``max_attempts``, then ``failed``, and replayable from the API.

Each attempt resolves the endpoint's host once, checks every address by the rule the
registration applied (:func:`widget_server.webhook_addresses.destinations`) and connects
to one of those very addresses, with the URL's name in ``Host`` and, over https, in SNI
and the certificate check: a resolver that answers differently the second time (DNS
rebinding) has no second time to answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable

import anyio
import httpx
from preference_sdk._webhooks import webhook_headers

from .. import __version__, json_shapes
from ..store import feed
from ..store import webhooks as outbox
from ..store.store import Store
from ..webhook_addresses import Resolver, destinations, resolve
from .outbox_pass import one_pass, retry_delay

log = logging.getLogger("widget_server.workers.delivery")

LEASE = timedelta(seconds=60)
TIMEOUT = 10.0
#: For an address with others after it: a short connect, then the same limit as ever.
FALLBACK_TIMEOUT = httpx.Timeout(TIMEOUT, connect=2.0)
BATCH = 50


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    lease: datetime  # the claim; settling checks it, so a late settle cannot overwrite a newer one
    attempts: int  # before this one
    url: str
    secrets: tuple[str, ...]  # the current secret, then the previous one during a rotation's overlap
    msg_id: str
    body: bytes


def via_proxy(url: httpx.URL) -> bool:
    """True when the environment (``HTTPS_PROXY``, ``NO_PROXY``...) sends ``url`` through a proxy.

    The proxy then resolves the name and connects: keeping deliveries out of private
    networks at connection time is its job (the name is still checked here first).
    """
    proxies = urllib.request.getproxies()
    return bool(proxies.get(url.scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(url.host)


def tls_context() -> ssl.SSLContext:
    """The certificate store, read once per process and value of SSL_CERT_FILE and
    SSL_CERT_DIR (which still apply): reading it costs some 20 ms, and every app built
    makes a worker."""
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@lru_cache(maxsize=4)
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # reads those same two variables


class DeliveryWorker:
    """Sends the outbox. ``resolve`` answers a host's addresses (the system resolver by
    default); ``transport`` replaces the network, for tests."""

    def __init__(self, store: Store, clock: Callable[[], datetime], *, first_retry: timedelta,
                 max_attempts: int, transport: httpx.AsyncBaseTransport | None = None,
                 poll_interval: float = 1.0, allow_private: bool = False, resolve: Resolver = resolve) -> None:
        self.store, self.clock = store, clock
        self.first_retry, self.max_attempts = first_retry, max_attempts
        self.poll_interval = poll_interval
        self.allow_private = allow_private
        self.resolve = resolve
        self.due = asyncio.Event()
        # Redirects stay off: a 3xx would lead to an address nobody checked.
        options: dict[str, Any] = {"timeout": TIMEOUT, "follow_redirects": False,
                                   "headers": {"User-Agent": f"widget-server/{__version__} webhooks"}}
        if transport is not None:  # tests: the network replaced
            self._direct = self._proxied = httpx.AsyncClient(**options, transport=transport)
        else:
            options["verify"] = tls_context()
            self._direct = httpx.AsyncClient(**options, trust_env=False)  # to the checked address itself
            self._proxied = httpx.AsyncClient(**options)  # through the environment's proxy, by name

    async def run(self) -> None:
        """Deliver until cancelled; wake on :attr:`due` or every ``poll_interval``."""
        try:
            while True:
                try:
                    sent = await self.deliver_due()
                except Exception:  # a bad pass must not stop the worker (logged with its traceback)
                    log.exception("webhook delivery pass failed")
                    sent = 0
                if sent == 0:
                    with anyio.move_on_after(self.poll_interval):
                        await self.due.wait()
                    self.due.clear()
        finally:
            with anyio.CancelScope(shield=True):
                await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pools (:meth:`run` does, when it stops)."""
        await self._direct.aclose()
        await self._proxied.aclose()

    async def deliver_due(self) -> int:
        """One pass: claim, send, record. Returns how many attempts were made."""
        return await one_pass(self._claim, self._send, self._settle)

    def _claim(self) -> list[Attempt]:
        now = self.clock()
        # Look first, in a read transaction: an idle outbox must not take the write lock every
        # poll. ``claim`` checks again under the lock, so a row taken meanwhile is skipped.
        with self.store.engine.connect() as connection:
            due = outbox.due(connection, now, BATCH)
        if not due:
            return []
        claimed = []
        with self.store.writing() as connection:
            for row in due:
                lease = outbox.claim(connection, row["id"], now, LEASE)
                if lease is None:
                    continue
                endpoint = outbox.target(connection, row["endpoint_id"], now)
                event = feed.event(connection, row["event_id"])
                if event is None:  # the outbox row's event is in the same transaction: it cannot be gone
                    raise LookupError(f"event {row['event_id']} of delivery {row['id']} is missing")
                body = json.dumps({"type": "preferences.changed", "event": json_shapes.event(event)},
                                  separators=(",", ":"), ensure_ascii=False).encode()
                # One id per delivery, the same on its retries: a replay is a new delivery, so a
                # receiver that de-duplicates on the id still processes it.
                claimed.append(Attempt(row["id"], lease, row["attempts"], endpoint["url"], endpoint["secrets"],
                                       f"msg_{row['id']}", body))
        return claimed

    async def _send(self, attempt: Attempt) -> str | None:
        """None when delivered, else why not (kept short: no response body is stored)."""
        headers = webhook_headers(attempt.secrets, attempt.msg_id, attempt.body,
                                  timestamp=int(self.clock().timestamp()))
        headers["Content-Type"] = "application/json"
        try:
            with anyio.fail_after(TIMEOUT):  # the whole exchange, not each phase of it
                status = await self._post(httpx.URL(attempt.url), attempt.body, headers)
        except TimeoutError:
            return "timeout"
        except Exception as exc:  # noqa: BLE001 - any failure is this delivery's, never the batch's
            return type(exc).__name__
        return None if 200 <= status < 300 else f"HTTP {status}"

    async def _post(self, url: httpx.URL, body: bytes, headers: dict[str, str]) -> int:
        """POST to an address checked for ``url`` (the next one when one refuses); the status."""
        if self._proxied is not self._direct and via_proxy(url):
            if not self.allow_private:
                await destinations(url, allow_private=False, resolve=self.resolve)
            return await self._status(self._proxied, url, body, headers, {})
        addresses = await destinations(url, allow_private=self.allow_private, resolve=self.resolve)
        headers["Host"] = url.netloc.decode("ascii")
        # Over https, SNI and the certificate check use the name, not the address. A connection
        # is never reused (the answer's body is not read), so none opened for one name at an
        # address carries another name's delivery: reading bodies to keep connections alive
        # would need a pool per name.
        extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
        # An address that drops packets (a dead IPv6 route) must not use up the whole timeout:
        # all but the last get a short connect timeout, then the next one is tried.
        for address in addresses[:-1]:
            try:
                return await self._status(self._direct, url.copy_with(host=address), body, headers, extensions,
                                          timeout=FALLBACK_TIMEOUT)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                continue
        return await self._status(self._direct, url.copy_with(host=addresses[-1]), body, headers, extensions)

    @staticmethod
    async def _status(client: httpx.AsyncClient, url: httpx.URL, body: bytes, headers: dict[str, str],
                      extensions: dict[str, str], timeout: httpx.Timeout | float = TIMEOUT) -> int:
        async with client.stream("POST", url, content=body, headers=headers, extensions=extensions,
                                 timeout=timeout) as answer:
            return answer.status_code  # the body is never read: nothing of it is kept

    def _settle(self, results: list[tuple[Attempt, str | None]]) -> None:
        now = self.clock()
        with self.store.writing() as connection:
            for attempt, error in results:
                tried = attempt.attempts + 1
                retry_at = None
                if error is not None and tried < self.max_attempts:
                    retry_at = now + retry_delay(self.first_retry, tried)
                outbox.settle(connection, attempt.delivery_id, attempt.lease, ok=error is None, now=now,
                              error=error, retry_at=retry_at)
                if error is not None:
                    log.info("webhook delivery dlv_%s failed (%s), attempt %s", attempt.delivery_id, error, tried)
