"""The server's side of signed links: which scopes open which page, and revocation.

The token format itself lives in :mod:`preference_sdk` (one implementation, shared with
host systems that mint links offline); here it is bound to the server's secrets and
turned into the server's errors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from preference_sdk import AGENT_ID_MAX, TokenClaims, TokenExpired, TokenInvalid, TokenSigner

from .centers.model import Center
from .errors import AgentSignInRequired, KioskNotSetUp, LinkExpired, LinkInvalid
from .settings import Settings

#: Scopes that open the preference widget: footer links, and "send me a new link".
WIDGET_SCOPES = ("manage", "login")
#: The ``confirm`` scope's signature lifetime on the server: an outer bound only, since each
#: confirmation link carries its own end (``confirm_links.py``: a pending's expiry, a basis' end).
CONFIRM_MAX_AGE = 400 * 86400


def make_signer(settings: Settings, clock=None) -> TokenSigner:  # noqa: ANN001
    if not settings.secret_keys:
        raise ValueError(
            "no link-signing secret: set WIDGET_SECRET_KEYS (comma-separated, newest first)"
        )
    return TokenSigner(settings.secret_keys, lifetimes={"confirm": CONFIRM_MAX_AGE},
                       **({"clock": clock} if clock else {}))


def lookup_key(settings: Settings) -> bytes:
    """The contact-point lookup key; derived from the oldest secret unless set."""
    if settings.lookup_key:
        return settings.lookup_key.encode()
    oldest = settings.secret_keys[-1]
    return hashlib.sha256(b"widget-server lookup key\x00" + oldest.encode()).digest()


def read_link(
    signer: TokenSigner, token: str | None, center: Center, scopes: tuple[str, ...] = WIDGET_SCOPES
) -> TokenClaims:
    """Verify a visitor's token for ``center`` under any of ``scopes``."""
    if not token:
        raise LinkInvalid(center=center)
    expired: TokenExpired | None = None
    for scope in scopes:
        try:
            return signer.read(token, scope, center=center.id)
        except TokenExpired as exc:
            expired = exc
        except TokenInvalid:
            continue
    if expired is not None:
        raise LinkExpired(center=center, claims=expired.claims)
    raise LinkInvalid(center=center)


def revoked(claims: TokenClaims, valid_after: datetime | None) -> bool:
    """The revocation rule: a link signed before the subscriber's "valid after" instant
    (set when they revoke their links, or are erased) is revoked."""
    return valid_after is not None and claims.issued_at < int(valid_after.timestamp())


def check_not_revoked(claims: TokenClaims, valid_after: datetime | None, center: Center) -> None:
    """A revoked link no longer opens the widget: answered as an expired one."""
    if revoked(claims, valid_after):
        raise LinkExpired(center=center, claims=claims)


@dataclass(frozen=True)
class KioskDevice:
    """What a kiosk's device token says: the device (revocable alone) and its store."""

    id: str
    center: str
    location: str


@dataclass(frozen=True)
class Agent:
    """What an agent token says: who (the SSO's id), their display name, what they may do."""

    id: str
    center: str
    name: str
    permissions: frozenset[str]
    locale: str | None = None

    @property
    def actor(self) -> str:
        """How the ledger names them."""
        return f"agent:{self.id}"

    def may(self, permission: str) -> bool:
        return permission in self.permissions


def read_device_token(signer: TokenSigner, token: str | None, center: Center) -> KioskDevice:
    """The device a kiosk token names for ``center``; whether it is still live is the
    store's question (``store/devices.live``), asked at every request."""
    try:
        claims = signer.read(token or "", "kiosk", center=center.id)
    except (TokenExpired, TokenInvalid):  # the staff need to know it must be set up again, not why
        raise KioskNotSetUp(center=center) from None
    location = claims.extra.get("lc")
    if not isinstance(location, str):
        raise KioskNotSetUp(center=center)
    return KioskDevice(claims.subscriber, center.id, location)


def read_agent_token(signer: TokenSigner, token: str | None, center: Center) -> Agent:
    """The agent a console token names for ``center`` (another center's token: refused)."""
    try:
        claims = signer.read(token or "", "agent", center=center.id)
    except TokenExpired:
        raise AgentSignInRequired(center=center, expired=True) from None
    except TokenInvalid:
        raise AgentSignInRequired(center=center) from None
    name, permissions = claims.extra.get("n"), claims.extra.get("p")
    if not isinstance(name, str) or not isinstance(permissions, str):
        raise AgentSignInRequired(center=center)
    if len(claims.subscriber) > AGENT_ID_MAX or not claims.subscriber.isprintable():  # agent:<id> is 80 at most
        raise AgentSignInRequired(center=center)
    return Agent(claims.subscriber, center.id, name, frozenset(permissions.split(",")), claims.locale)


def kiosk_url(base_url: str, signer: TokenSigner, center_id: str, device_id: str, location: str) -> str:
    """The link a tablet opens: a ``kiosk`` token naming the device and its store (a year;
    the device row decides whether it still works). Printed by ``device create``, answered
    once by the API, shown by the demo."""
    token = signer.mint("kiosk", center_id, device_id, lc=location)
    return f"{base_url}/c/{quote(center_id, safe='')}/kiosk?" + urlencode({"t": token})
