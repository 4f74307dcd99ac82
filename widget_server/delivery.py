"""The webhook worker: sends the outbox's deliveries, signed, with retries.

It runs inside each server process (started and stopped with the app). Each pass
claims the due heads of the (endpoint, subscriber) queues with a lease, so processes
never send the same attempt twice and a subscriber's events go out in order; sends
them concurrently; and records each outcome. A ``2xx`` within the timeout is
delivered; anything else is retried after ``first_retry * 2**n`` (capped at an hour)
until ``max_attempts``, then ``failed``, and replayable from the API.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import anyio
import httpx
from preference_sdk._webhooks import webhook_headers

from . import __version__, wire
from .store import feed
from .store import webhooks as outbox
from .store.subscribers import Store

log = logging.getLogger("widget_server.delivery")

LEASE = timedelta(seconds=60)
TIMEOUT = 10.0
MAX_DELAY = timedelta(hours=1)
BATCH = 50


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    lease: datetime  # the claim; settling checks it, so a late settle cannot overwrite a newer one
    attempts: int  # before this one
    url: str
    secret: str
    msg_id: str
    body: bytes


class PrivateDestination(Exception):
    """The URL's host resolves to a loopback, private, link-local or reserved address."""


async def check_destination(url: str, *, allow_private: bool) -> None:
    """Refuse to send into the server's own network (SSRF), unless allowed for development.

    Checked at each attempt, since a name can resolve elsewhere later. (A name that changes
    between this check and the connection is not caught; a proxy that enforces the rule
    at connection time is the stronger setup.)
    """
    if allow_private:
        return
    host = httpx.URL(url).host
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        infos = await anyio.getaddrinfo(host, None)
        addresses = {ipaddress.ip_address(info[4][0]) for info in infos}
    if any(not a.is_global for a in addresses):
        raise PrivateDestination(host)


def retry_delay(first_retry: timedelta, attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: doubling, capped at an hour."""
    return min(first_retry * (2 ** max(attempts - 1, 0)), MAX_DELAY)


class DeliveryWorker:
    def __init__(self, store: Store, clock: Callable[[], datetime], *, first_retry: timedelta,
                 max_attempts: int, transport: httpx.AsyncBaseTransport | None = None,
                 poll_interval: float = 1.0, allow_private: bool = False) -> None:
        self.store, self.clock = store, clock
        self.first_retry, self.max_attempts = first_retry, max_attempts
        self.poll_interval = poll_interval
        self.allow_private = allow_private
        self.due = asyncio.Event()
        self._client = httpx.AsyncClient(timeout=TIMEOUT, transport=transport, follow_redirects=False,
                                         headers={"User-Agent": f"widget-server/{__version__} webhooks"})

    async def run(self) -> None:
        """Deliver until cancelled; wake on :attr:`due` or every ``poll_interval``."""
        try:
            while True:
                try:
                    sent = await self.deliver_due()
                except Exception:  # noqa: BLE001 - a bad pass must not stop the worker
                    log.exception("webhook delivery pass failed")
                    sent = 0
                if sent == 0:
                    with anyio.move_on_after(self.poll_interval):
                        await self.due.wait()
                    self.due.clear()
        finally:
            with anyio.CancelScope(shield=True):
                await self._client.aclose()

    async def deliver_due(self) -> int:
        """One pass: claim, send, record. Returns how many attempts were made."""
        attempts = await anyio.to_thread.run_sync(self._claim)
        if not attempts:
            return 0
        outcomes = await asyncio.gather(*(self._send(a) for a in attempts))
        await anyio.to_thread.run_sync(self._settle, list(zip(attempts, outcomes, strict=True)))
        return len(attempts)

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
                endpoint = outbox.target(connection, row["endpoint_id"])
                event = feed.event(connection, row["event_id"])
                body = json.dumps({"type": "preferences.changed", "event": wire.event(event)},
                                  separators=(",", ":"), ensure_ascii=False).encode()
                # One id per delivery, the same on its retries: a replay is a new delivery, so a
                # receiver that de-duplicates on the id still processes it.
                claimed.append(Attempt(row["id"], lease, row["attempts"], endpoint["url"], endpoint["secret"],
                                       f"msg_{row['id']}", body))
        return claimed

    async def _send(self, attempt: Attempt) -> str | None:
        """None when delivered, else why not (kept short: no response body is stored)."""
        headers = webhook_headers(attempt.secret, attempt.msg_id, attempt.body,
                                  timestamp=int(self.clock().timestamp()))
        headers["Content-Type"] = "application/json"
        try:
            await check_destination(attempt.url, allow_private=self.allow_private)
            with anyio.fail_after(TIMEOUT):  # the whole exchange, not each phase of it
                async with self._client.stream("POST", attempt.url, content=attempt.body, headers=headers) as answer:
                    status = answer.status_code  # the body is never read: nothing of it is kept
        except TimeoutError:
            return "timeout"
        except Exception as exc:  # noqa: BLE001 - any failure is this delivery's, never the batch's
            return type(exc).__name__
        return None if 200 <= status < 300 else f"HTTP {status}"

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
