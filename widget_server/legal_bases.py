"""The legal basis a subscription gets when it is written: which basis, since when, until when.

A basis is what lets a brand use a subscription (DOMAIN.md, "Legal basis"): ``consent``,
``soft_opt_in`` (an existing customer, where the law allows it), ``contract``,
``legitimate_interest``. How long it lasts is the law of the subscriber's region
(:func:`widget_server.regions.rule_for`): Canada's CASL keeps an express consent until it
is withdrawn, but an implied one (``soft_opt_in``) only 2 years after a purchase and 6
months after an inquiry. Every write path asks this module, so an ``until`` is computed
in one place: a form's opt-in, an API write naming a basis, an import, a confirmed double
opt-in (the ``confirm`` page), a renewed consent (re-permission).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .centers.model import LEGAL_BASES, Center
from .preferences import Basis
from .regions import rule_for

CONSENT = "consent"
SOFT_OPT_IN = "soft_opt_in"
CONTRACT = "contract"
LEGITIMATE_INTEREST = "legitimate_interest"
#: The bases that need no opt-in: where the region's rule says opt-out suffices, a
#: subscription never answered (``unknown``) may be used on one of these.
WITHOUT_OPT_IN = (LEGITIMATE_INTEREST, SOFT_OPT_IN)


class BasisNotAllowed(ValueError):
    """The region's rule for that channel does not allow this basis (the API answers a 422)."""

    def __init__(self, basis: str, allowed: tuple[str, ...]) -> None:
        self.basis, self.allowed = basis, allowed
        super().__init__(f"'{basis}' is not a legal basis this subscriber's region allows on this channel "
                         f"(allowed: {', '.join(allowed)})")



def basis_for(
    center: Center,
    country: str | None,
    topic: str,
    channel: str,
    basis: str = CONSENT,
    reason: str | None = None,
    *,
    since: datetime,
) -> Basis:
    """The :class:`~widget_server.preferences.Basis` of an opt-in to ``topic`` on ``channel``
    given on ``since``: ``until`` is ``since`` plus the region's lifetime for the basis (for
    ``reason`` where the rule names one), None where the basis lasts until withdrawn.

    Raises :class:`BasisNotAllowed` for a basis the region's rule does not allow there.
    ``topic`` is not read yet: the law's lifetimes are per channel; it is taken so that
    a topic's own rule can come without changing every caller.
    """
    if basis not in LEGAL_BASES:
        raise BasisNotAllowed(basis, LEGAL_BASES)
    rule = rule_for(center, country, channel)
    if basis not in rule.bases:
        raise BasisNotAllowed(basis, rule.bases)
    days = rule.lifetime(basis, reason)
    return Basis(basis, since, since + timedelta(days=days) if days is not None else None, reason)


def pending_basis(center: Center, since: datetime) -> Basis:
    """A double opt-in awaiting confirmation: consent asked on ``since``, waiting until
    ``since`` plus the center's ``[consent] pending_days`` (then it expires)."""
    return Basis(CONSENT, since, since + timedelta(days=center.consent.pending_days))


def withdrawn(previous: Basis | None, since: datetime) -> Basis:
    """The basis an opt-out keeps: the one withdrawn (consent if none was stored), since the
    withdrawal, with no end: the row says what stopped and when."""
    return Basis(previous.legal_basis if previous else CONSENT, since, None, previous.reason if previous else None)
