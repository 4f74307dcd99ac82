"""Confirmation links: the ``confirm`` scope's tokens, for the three things a mail asks to confirm.

One scope serves a double opt-in (``opt_in``), a re-permission's "keep me subscribed"
(``renew``) and an erasure asked for on the history page (``erase``); the token says
which (``pu``), so a link of one purpose never does another's work. Each carries:

* ``j``, a token id (random): the link is used once (``store/confirmations.py`` records
  it in the transaction of the change it made), so a replay is told apart from a
  tampered link, and the event's evidence names the very link that was followed;
* ``x``, when it stops working: the pending subscription's own expiry, the basis' end, or
  a day for an erasure. The scope's signature lifetime (:data:`SCOPE_MAX`, set on the
  server's signer by ``tokens.make_signer``) is only an outer bound: a pending of 30
  days needs a link of 30 days, a reminder sent a month before a basis ends one of a
  month, and the real end is the claim, checked here;
* ``tp``/``ch`` for a renewal (which subscription), ``l`` the mail's language.

Mails carry the token, never the outbox: it is minted when the mail is sent.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from preference_sdk import TokenClaims, TokenExpired, TokenInvalid, TokenSigner

from .tokens import CONFIRM_MAX_AGE

SCOPE = "confirm"
OPT_IN, RENEW, ERASE = "opt_in", "renew", "erase"
PURPOSES = (OPT_IN, RENEW, ERASE)
#: The signature's outer bound for the scope (each link's own end is its ``x`` claim): the
#: longest a re-permission reminder could be sent ahead of an expiry, with room.
SCOPE_MAX = CONFIRM_MAX_AGE
#: How long an erasure's confirmation link works: long enough to find the mail, short
#: enough that a mailbox read later by someone else is not a way to erase the person.
ERASE_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class ConfirmLink:
    """What a verified confirmation link says."""

    token: str
    token_id: str
    purpose: str
    center: str
    subscriber: str
    issued_at: int
    expires_at: datetime
    locale: str | None = None
    topic: str | None = None
    channel: str | None = None


class LinkUnreadable(Exception):
    """Tampered, malformed, of another scope, purpose or center: nothing to offer but a new link."""


class LinkOutdated(Exception):
    """Authentic but past its end, or revoked: ``link`` says whose, so a new one can be sent."""

    def __init__(self, link: ConfirmLink) -> None:
        super().__init__("this confirmation link has expired")
        self.link = link


def mint(signer: TokenSigner, center: str, subscriber: str, purpose: str, expires_at: datetime, *,
         locale: str | None = None, topic: str | None = None, channel: str | None = None) -> tuple[str, str]:
    """A new link's token and its id (the id goes into the event's evidence once used)."""
    if purpose not in PURPOSES:
        raise ValueError(f"a confirmation is one of {', '.join(PURPOSES)}, not {purpose!r}")
    token_id = secrets.token_urlsafe(12)
    token = signer.mint(SCOPE, center, subscriber, pu=purpose, j=token_id, x=int(expires_at.timestamp()),
                        l=locale, tp=topic, ch=channel)
    return token, token_id


def read(signer: TokenSigner, token: str | None, center: str, now: datetime) -> ConfirmLink:
    """The link ``token`` is in ``center``, whatever its purpose (the page it opens says which);
    :class:`LinkOutdated` past its end, :class:`LinkUnreadable` for anything else. Whether it
    was revoked since (signed before the subscriber's ``valid_after``) is :func:`outdated`'s
    question, once the subscriber is read."""
    try:
        claims = signer.read(token or "", SCOPE, center=center)
    except TokenExpired as expired:  # past the scope's outer bound: whose it was may still be read
        link = _link(token or "", expired.claims) if expired.claims else None
        if link is None:
            raise LinkUnreadable() from None
        raise LinkOutdated(link) from None
    except TokenInvalid:
        raise LinkUnreadable() from None
    link = _link(token or "", claims)
    if link is None:
        raise LinkUnreadable()
    if link.expires_at <= now:
        raise LinkOutdated(link)
    return link


def outdated(link: ConfirmLink, valid_after: datetime | None) -> bool:
    """Signed before the subscriber signed out every link (or was erased): it no longer works."""
    return valid_after is not None and link.issued_at < int(valid_after.timestamp())


def whose(signer: TokenSigner, token: str | None, center: str, purpose: str) -> str | None:
    """The subscriber an authentic link of ``purpose`` names, expired or not (for a resend)."""
    try:
        link = read(signer, token, center, datetime.fromtimestamp(0, timezone.utc))
    except LinkOutdated as stale:
        link = stale.link
    except LinkUnreadable:
        return None
    return link.subscriber if link.purpose == purpose else None


def _link(token: str, claims: TokenClaims) -> ConfirmLink | None:
    extra = claims.extra
    purpose, token_id, until = extra.get("pu"), extra.get("j"), extra.get("x")
    topic, channel = extra.get("tp"), extra.get("ch")
    if purpose not in PURPOSES or not isinstance(token_id, str) or not token_id or len(token_id) > 32:
        return None
    if not isinstance(until, int) or isinstance(until, bool):
        return None
    renew = purpose == RENEW
    if renew and not (isinstance(topic, str) and isinstance(channel, str)):
        return None
    try:
        expires_at = datetime.fromtimestamp(until, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    locale = claims.locale if isinstance(claims.locale, str) else None
    return ConfirmLink(token, token_id, str(purpose), claims.center, claims.subscriber, claims.issued_at, expires_at,
                       locale, topic if renew else None, channel if renew else None)
