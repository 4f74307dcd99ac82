"""The errors the SDK raises, one class per thing a caller may want to handle::

    PreferenceSDKError                  the root: ``except PreferenceSDKError`` catches every error below
     │                                  (raised as itself for an answer that is not the API's: wrong base_url?)
     ├── TransportError                 network failure or timeout (after retries); wraps the httpx error
     ├── APIError                       status, code, title, detail, problem (the full RFC 9457 dict)
     │    ├── AuthenticationError       401
     │    ├── PermissionDenied          403
     │    ├── NotFound                  404
     │    ├── Conflict                  409  (subscriber_id when a duplicate external id)
     │    │    └── StaleVersion         412  (current_version)
     │    ├── ValidationError           422  (errors: list of {path, message})
     │    ├── VersionRequired           428
     │    ├── RateLimited               429  (retry_after: float seconds, from Retry-After header or problem)
     │    └── ServerError               5xx  (error_id)
     ├── TokenError                     a signed link that cannot be honoured (``TokenSigner.read``)
     │    ├── TokenInvalid              tampered, malformed, unknown key, or of another scope or center
     │    └── TokenExpired              authentic but past its scope's lifetime, or revoked (claims)
     ├── WebhookVerificationError       a delivery not to trust (``verify_webhook``): header, signature, time, body
     ├── ReceiptVerificationError       also a ValueError: a receipt whose signature fails (``verify_receipt``)
     ├── SinkError                      a sink could not store events (``sync`` stops, nothing checkpointed)
     ├── Unplaceable                    an ``HttpMapping`` template names a field the event lacks
     └── ImportMappingError             also a ValueError: the mapping cannot read the file, or does not fit the center

``StaleVersion`` is a ``Conflict`` because both mean "someone else got there first": read
again, then decide. Other statuses (400, an unexpected 3xx or 4xx) are a plain ``APIError``.
Programs branch on the class or on ``code``; ``title`` and ``detail`` are for people.

The token, webhook, receipt, sink and import errors are defined next to what raises them
(``_tokens.py``, ``_webhooks.py``, ``_receipts.py``, ``_sync.py``, ``sinks/mappings.py``, ``_import_mapping.py``)
and drawn here, so the whole tree is in one place; ``tests/sdk/test_exceptions.py`` checks
that it matches the classes. A wrong argument (an empty ``api_key``, a naive datetime, an
unknown token scope) is not in the tree on purpose: it raises the builtin ``ValueError`` or
``TypeError`` at the call, as Python's own functions do, because it is a bug to fix rather
than a condition to handle.

Nothing here holds the API key: the messages are built from the response and the path,
and the request headers (which carry it) are never formatted.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from typing import Any, Mapping

import httpx

__all__ = [
    "APIError",
    "AuthenticationError",
    "Conflict",
    "NotFound",
    "PermissionDenied",
    "PreferenceSDKError",
    "RateLimited",
    "ServerError",
    "StaleVersion",
    "TransportError",
    "ValidationError",
    "VersionRequired",
    "error_from_response",
]

_EXCERPT = 300  # characters of a non-problem body kept in the message


class PreferenceSDKError(Exception):
    """Anything the SDK raises: catch this to catch them all (the tree is in this module's docstring).

    Raised as itself when the server's answer is not the API's (``base_url`` points elsewhere).
    """


class TransportError(PreferenceSDKError):
    """No answer from the server: connection refused, reset, DNS, or a timeout, after every retry.

    The httpx error is the ``__cause__``; ``attempts`` says how many times the request was sent.
    """

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


class APIError(PreferenceSDKError):
    """The server answered with an error status (an RFC 9457 problem, or a proxy's page).

    ``problem`` is the whole problem document (empty when the body was not one), so
    extension members a newer server adds are never lost.
    """

    def __init__(
        self,
        status: int,
        *,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        problem: Mapping[str, Any] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.problem: Mapping[str, Any] = problem or {}
        self.response = response
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"{self.status} {self.title or 'Error'}"
        if self.code:
            text += f" ({self.code})"
        if self.detail:
            text += f": {self.detail}"
        if self.problem.get("required_scope"):  # a 403 that a key with this scope would not get
            text += f" (needs a key with the {self.problem['required_scope']!r} scope)"
        where = _where(self.response)
        return f"{text} [{where}]" if where else text


class AuthenticationError(APIError):
    """401: no key, or a malformed, unknown or revoked one. Check the key you passed as ``api_key``."""


class PermissionDenied(APIError):
    """403: the key lacks the scope this route needs (``required_scope`` names it)."""


class NotFound(APIError):
    """404: a center that is not the key's (another one, or none: the server answers both alike),
    an unknown subscriber, webhook endpoint or delivery."""


class Conflict(APIError):
    """409: the external id is already used (``subscriber_id`` says by whom), or the
    idempotency key is held by a request still running."""

    @property
    def subscriber_id(self) -> str | None:
        return self.problem.get("subscriber_id")


class StaleVersion(Conflict):
    """412: the preferences changed since you read them (nothing was written).

    Read them again (``current_version`` is the version now), then retry your change.
    """

    @property
    def current_version(self) -> int | None:
        value = self.problem.get("current_version")
        return None if value is None else int(value)


class ValidationError(APIError):
    """422: a value the center does not offer (``errors`` lists each), or an idempotency key
    reused with another request (``code == "idempotency_key_reused"``)."""

    @property
    def errors(self) -> list[dict[str, str]]:
        return list(self.problem.get("errors") or [])

    def _message(self) -> str:
        listed = "; ".join(f"{e.get('path')}: {e.get('message')}" for e in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        return f"{super()._message()} {listed}{more}".rstrip()


class VersionRequired(APIError):
    """428: a PUT of preferences needs the version you read (``version=``)."""


class RateLimited(APIError):
    """429: too many requests for this key; ``retry_after`` is how long to wait, in seconds."""

    @property
    def retry_after(self) -> float | None:
        from_header = parse_retry_after(self.response) if self.response is not None else None
        if from_header is not None:
            return from_header
        value = self.problem.get("retry_after")
        return None if value is None else float(value)


class ServerError(APIError):
    """5xx: the server (or a proxy before it) failed. ``error_id`` is the id the server logged."""

    @property
    def error_id(self) -> str | None:
        return self.problem.get("error_id")


_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    412: StaleVersion,
    422: ValidationError,
    428: VersionRequired,
    429: RateLimited,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The error for an error response: its class from the status, its fields from the problem.

    A body that is not a problem document (a proxy's HTML 502, an empty 503) still gives a
    message that says what answered, so the reader knows to look past our server.
    """
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    problem = _problem(response)
    if problem is None:
        return cls(status, title=response.reason_phrase or None, detail=_not_a_problem(response), response=response)
    return cls(
        status,
        code=problem.get("code"),
        title=problem.get("title") or response.reason_phrase or None,
        detail=problem.get("detail"),
        problem=problem,
        response=response,
    )


def parse_retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (it may be a number or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _problem(response: httpx.Response) -> dict[str, Any] | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _not_a_problem(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    text = re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", response.text, flags=re.S | re.I)
    text = " ".join(text.split())
    if len(text) > _EXCERPT:
        text = text[:_EXCERPT] + "..."
    said = f": {text}" if text else " (empty body)"
    return f"not an API problem document ({kind}), so a proxy or load balancer may have answered{said}"


def _where(response: httpx.Response | None) -> str:
    """``METHOD /path`` of the request, without the query string (it may hold a CRM id)."""
    if response is None:
        return ""
    try:
        request = response.request
    except RuntimeError:  # a Response built by hand has no request
        return ""
    return f"{request.method} {request.url.path}"
