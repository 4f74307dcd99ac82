"""Signed links: the one token format shared by the server and the SDK.

A token is an itsdangerous URL-safe timed signature over a tiny JSON payload::

    {"v": 1, "c": center, "s": subscriber_id, "k": scope, ...extra}

Why this shape:

* the salt is per scope, so a token of one scope can never be replayed as another,
  even if someone edits the payload's ``k`` (the signature would not match);
* the subscriber id is pseudonymous: nothing in a link names a person;
* the keys are a list, newest first; the newest signs, every key verifies, so a
  secret can be rotated without breaking links already in inboxes;
* the timestamp is the signer's, so expiry is checked per scope at read time and a
  subscriber can revoke every older link with a single "valid after" instant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from itsdangerous import BadData, BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

from ._exceptions import PreferenceSDKError

FORMAT_VERSION = 1

#: How long a token of each scope stays valid, in seconds.
DEFAULT_LIFETIMES: Mapping[str, int] = {
    "manage": 180 * 86400,  # footer and account links: months
    "unsubscribe": 365 * 86400,  # RFC 8058 asks for at least 60 days after sending
    "confirm": 7 * 86400,  # double opt-in
    "login": 3600,  # "send me a new link"
    "kiosk": 365 * 86400,  # a provisioned device, revocable
    "agent": 12 * 3600,  # one call-center shift
}
SCOPES: tuple[str, ...] = tuple(DEFAULT_LIFETIMES)


class TokenError(PreferenceSDKError):
    """A link that cannot be honoured. Subclasses say why."""


class TokenInvalid(TokenError):
    """Tampered, malformed, signed by an unknown key, or of another scope or center."""


class TokenExpired(TokenError):
    """Authentic but older than its scope's lifetime (or revoked).

    ``claims`` is kept so the server can offer to send a fresh link to the same person.
    """

    def __init__(self, message: str, claims: "TokenClaims | None" = None) -> None:
        super().__init__(message)
        self.claims = claims


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says."""

    center: str
    subscriber: str
    scope: str
    issued_at: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def locale(self) -> str | None:
        return self.extra.get("l")

    @property
    def topic(self) -> str | None:
        return self.extra.get("tp")


def _clocked_signer(clock: Callable[[], float]) -> type[TimestampSigner]:
    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return ClockedSigner


def secret_list(secrets: str | bytes | Sequence[str | bytes]) -> list[str | bytes]:
    """The secrets as a list, newest first: one ``str`` or ``bytes`` is one secret, not its characters."""
    listed = [secrets] if isinstance(secrets, (str, bytes)) else list(secrets)
    if not listed or any(not isinstance(s, (str, bytes)) or not s for s in listed):
        raise ValueError("at least one non-empty secret (a str or bytes, or a list of them, newest first) "
                         "is needed to sign links")
    return listed


class TokenSigner:
    """Mints and reads tokens for every scope with one list of secrets.

    ``secrets`` is newest first (the newest signs, all verify); a single ``str`` or
    ``bytes`` is one secret. ``clock`` returns Unix seconds; tests inject one.
    """

    def __init__(
        self,
        secrets: str | bytes | Sequence[str | bytes],
        *,
        lifetimes: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        secrets = secret_list(secrets)
        self.lifetimes = {**DEFAULT_LIFETIMES, **(lifetimes or {})}
        signer = _clocked_signer(clock)
        # itsdangerous signs with the *last* key: hand it the list oldest first (as bytes, which
        # is what it makes of a str: its UTF-8).
        keys = [key.encode("utf-8") if isinstance(key, str) else key for key in reversed(secrets)]
        self._serializers = {
            scope: URLSafeTimedSerializer(keys, salt=f"preference-center.{scope}", signer=signer)
            for scope in self.lifetimes
        }

    def mint(self, scope: str, center: str, subscriber: str, **extra: Any) -> str:
        """A signed token for ``scope``. ``extra`` keys must be short (``l``, ``tp``, ``j``)."""
        payload = {"v": FORMAT_VERSION, "c": center, "s": subscriber, "k": scope}
        payload.update({k: v for k, v in extra.items() if v is not None})
        return self._serializer(scope).dumps(payload)

    def read(self, token: str, scope: str, *, center: str | None = None) -> TokenClaims:
        """Verify ``token`` for ``scope`` (and ``center`` when given) and return its claims.

        Raises :class:`TokenExpired` before :class:`TokenInvalid` is considered, since an
        expired signature is still authentic (itsdangerous's ``SignatureExpired`` is a
        ``BadSignature``: catch it first).
        """
        serializer = self._serializer(scope)
        try:
            payload, issued = serializer.loads(
                token, max_age=self.lifetimes[scope], return_timestamp=True
            )
        except SignatureExpired as exc:
            claims = self._claims_of_expired(exc, scope, center)
            raise TokenExpired("this link has expired", claims) from None
        except (BadSignature, BadData, ValueError, TypeError):
            raise TokenInvalid("this link is not valid") from None
        return self._claims(payload, int(issued.timestamp()), scope, center)

    def _serializer(self, scope: str) -> URLSafeTimedSerializer:
        try:
            return self._serializers[scope]
        except KeyError:
            raise ValueError(f"unknown token scope {scope!r}; known: {', '.join(self._serializers)}") from None

    def _claims_of_expired(self, exc: SignatureExpired, scope: str, center: str | None) -> TokenClaims | None:
        if exc.payload is None:
            return None
        try:
            payload = self._serializer(scope).load_payload(exc.payload)
            issued = int(exc.date_signed.timestamp()) if exc.date_signed else 0
            return self._claims(payload, issued, scope, center)
        except (TokenError, BadData, ValueError, TypeError):
            return None

    @staticmethod
    def _claims(payload: Any, issued: int, scope: str, center: str | None) -> TokenClaims:
        if not isinstance(payload, dict) or payload.get("v") != FORMAT_VERSION:
            raise TokenInvalid("this link is not valid")
        if payload.get("k") != scope or not isinstance(payload.get("s"), str):
            raise TokenInvalid("this link is not valid here")
        if center is not None and payload.get("c") != center:
            raise TokenInvalid("this link belongs to another preference center")
        extra = {k: v for k, v in payload.items() if k not in ("v", "c", "s", "k")}
        return TokenClaims(payload["c"], payload["s"], scope, issued, extra)
