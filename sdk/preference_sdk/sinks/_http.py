"""A CRM's HTTP API kept in step with the feed: one request per event, in order.

For each event the mapping computes the contact properties its changes set, and the sink
sends them (an update, or a delete for an erasure), with an ``Idempotency-Key`` derived
from the event id. Updates set values rather than add to them, so a replayed event is
harmless: it writes again what it wrote, and the later events that follow it in the
replay write the newer values back. Throttling (429) and server errors (5xx) are retried
with backoff; anything else raises ``SinkError``, so ``sync`` does not checkpoint the page.
"""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any, Callable, Mapping, Sequence

import httpx

from .._models import Event
from .._sync import SinkError
from .mappings import HttpMapping, Unplaceable

__all__ = ["HttpSink"]

log = logging.getLogger("preference_sdk.sync")

_RETRY = frozenset({429, 500, 502, 503, 504})
_MAX_WAIT = 60.0


class HttpSink:
    """Send each event to a CRM's HTTP API, as ``mapping`` says.

    ``headers`` carry the CRM's credentials (never logged). ``retries`` and ``backoff``
    (seconds, doubled each time, or the server's ``Retry-After``) apply to 429, 5xx and
    network errors. A 404 on an update means the CRM has no such contact: counted in
    ``missing`` and passed over (``skip_missing=False`` raises instead); on a delete it
    means already gone. Counts since creation: ``sent``, ``deleted``, ``unchanged`` (no
    mapped change), ``skipped`` (no ``external_id`` or other field the path needs),
    ``missing``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        mapping: HttpMapping,
        headers: Mapping[str, str] | None = None,
        retries: int = 4,
        backoff: float = 0.5,
        skip_missing: bool = True,
        timeout: float = 10,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.mapping = mapping
        self.retries = retries
        self.backoff = backoff
        self.skip_missing = skip_missing
        self.sent = self.deleted = self.unchanged = self.skipped = self.missing = 0
        self._client = httpx.Client(base_url=base_url, headers=dict(headers or {}), timeout=timeout,
                                    transport=transport)

    def write(self, events: Sequence[Event]) -> None:
        """Send the events one after another; return once the CRM accepted each (or raise)."""
        for event in sorted(events, key=lambda e: e.id):
            try:
                request = self.mapping.request_for(event)
            except Unplaceable as missing:
                self.skipped += 1
                log.debug("event %d skipped: no %s", event.id, missing)
                continue
            if request is None:
                self.unchanged += 1
                continue
            self._send(event, *request)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, event: Event, method: str, path: str, body: Any) -> None:
        headers = {"Idempotency-Key": f"preference-sync-{event.center}-{event.id}"}
        response = self._with_retries(event, lambda: self._client.request(method, path, json=body, headers=headers))
        erasing = event.erased
        if response.status_code == 404 and (erasing or self.skip_missing):
            if not erasing:
                self.missing += 1
                log.warning("event %d: the CRM has no such contact (404); passed over", event.id)
            return
        if response.is_success:
            if erasing:
                self.deleted += 1
            else:
                self.sent += 1
            return
        raise SinkError(f"the CRM answered {response.status_code} to {method} for event {event.id}: "
                        f"{_excerpt(response)}; nothing after the last stored page was checkpointed")

    def _with_retries(self, event: Event, send: Callable[[], httpx.Response]) -> httpx.Response:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = send()
            except httpx.TransportError as error:
                if last:
                    raise SinkError(f"the CRM did not answer for event {event.id} after {attempt + 1} "
                                    f"attempts: {type(error).__name__}") from error
                wait = self.backoff * 2**attempt
            else:
                if response.status_code not in _RETRY or last:
                    return response
                wait = _retry_after(response)
                wait = self.backoff * 2**attempt if wait is None else wait
            time.sleep(min(wait, _MAX_WAIT))
        raise AssertionError("unreachable")  # pragma: no cover

    def __repr__(self) -> str:
        return f"HttpSink({str(self._client.base_url)!r})"


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), or None."""
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    return (text[:limit] + "...") if len(text) > limit else (text or "(empty body)")
