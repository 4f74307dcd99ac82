"""Webhook signatures: the Standard Webhooks scheme (https://www.standardwebhooks.com/).

The server signs each delivery with :func:`webhook_headers`; a receiver checks it with
:func:`verify_webhook` before trusting a byte of it::

    payload = verify_webhook(request.headers, request.body, secret)

Why this scheme rather than one of our own: receivers may already have a verifier for
it, and it covers what matters. The signed content is ``"<id>.<timestamp>.<body>"``, so
a body cannot be moved to another delivery id or replayed later than ``tolerance``
seconds; several signatures may be sent at once, so a secret can be rotated without a
window where valid deliveries are refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets as _random
import time
from typing import Any, Mapping, Sequence

from ._exceptions import PreferenceSDKError

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(PreferenceSDKError):
    """A delivery that must not be trusted: the message says why."""


def new_webhook_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(32)).decode("ascii")


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The ``v1,<base64>`` signature of one delivery attempt under one secret."""
    content = f"{msg_id}.{int(timestamp)}.".encode() + _bytes(body)
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def webhook_headers(
    secret: str | Sequence[str], msg_id: str, body: bytes | str, *, timestamp: int | None = None
) -> dict[str, str]:
    """The three headers of a delivery attempt.

    ``secret`` may be several secrets during a rotation: the signatures are then
    space-separated and a receiver holding either secret accepts the delivery.
    ``timestamp`` defaults to now; it is the attempt's, so each retry is signed anew.
    """
    when = int(time.time()) if timestamp is None else int(timestamp)
    signatures = " ".join(sign_webhook(s, msg_id, when, body) for s in _secrets(secret))
    return {"webhook-id": msg_id, "webhook-timestamp": str(when), "webhook-signature": signatures}


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: str | Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a delivery and return its parsed JSON body (an object).

    ``headers`` is any mapping (a dict, httpx, Starlette or Werkzeug headers); names are
    matched without regard to case. ``secret`` may be a list (accept either during a
    rotation). Raises :class:`WebhookVerificationError` on a missing header, a
    signature that no secret produces, a timestamp more than ``tolerance`` seconds from
    ``now`` (a replay, or a clock that needs NTP), or a body that is not a JSON object.
    """
    msg_id, stamp, signatures = _required_headers(headers)
    timestamp = _check_timestamp(stamp, tolerance, time.time() if now is None else now)
    raw = _bytes(body)
    expected = [sign_webhook(s, msg_id, timestamp, raw) for s in _secrets(secret)]
    offered = [s for s in signatures.split() if s.startswith(f"{SIGNATURE_VERSION},")]
    # Compare every pair, without stopping early: the time taken says nothing.
    matched = False
    for candidate in offered:
        for signature in expected:
            matched |= hmac.compare_digest(candidate.encode(), signature.encode())
    if not matched:
        raise WebhookVerificationError(
            "no webhook-signature matches: check that the endpoint's secret (whsec_...) is the one "
            "the preference center showed when the webhook was created"
        )
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise WebhookVerificationError("the signed body is not a JSON object")
    return payload


def _required_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    wanted = {"webhook-id": "", "webhook-timestamp": "", "webhook-signature": ""}
    for name, value in headers.items():
        key = name.lower() if isinstance(name, str) else name.decode("latin-1").lower()
        if key in wanted:
            wanted[key] = value if isinstance(value, str) else value.decode("latin-1")
    missing = [name for name, value in wanted.items() if not value.strip()]
    if missing:
        raise WebhookVerificationError(f"missing header(s): {', '.join(missing)}; is this a webhook delivery?")
    return wanted["webhook-id"].strip(), wanted["webhook-timestamp"].strip(), wanted["webhook-signature"].strip()


def _check_timestamp(stamp: str, tolerance: int, now: float) -> int:
    if not stamp.isascii() or not stamp.isdigit():
        raise WebhookVerificationError("webhook-timestamp is not a number of Unix seconds")
    timestamp = int(stamp)
    if timestamp < now - tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is {int(now - timestamp)} s old (more than {tolerance} s): "
            "a replay, or this machine's clock is wrong"
        )
    if timestamp > now + tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is {int(timestamp - now)} s in the future (more than {tolerance} s): "
            "check this machine's clock"
        )
    return timestamp


def _secrets(secret: str | Sequence[str]) -> list[str]:
    found = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    if not found:
        raise ValueError("give at least one webhook secret (whsec_...)")
    return found


def _key(secret: str | bytes) -> bytes:
    """The HMAC key: the decoded bytes of the secret (the ``whsec_`` prefix is optional)."""
    if isinstance(secret, bytes):
        secret = secret.decode("ascii")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64: copy it whole, as it was shown") from None
    if not key:
        raise ValueError("a webhook secret cannot be empty")
    return key


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)
