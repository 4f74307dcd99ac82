"""An API write body as :class:`~widget_server.choosing.Choices`, applied by the shared rules.

What a center offers and what a choice does is decided in :mod:`widget_server.choosing`,
for the widget's form and the API alike; this module only reads a body's fields (an
absent field is ``UNSET``: left as it is by a ``PATCH``, reset by a ``PUT``) and adds the
one check that is not about preferences, the subscriber's locale. Every value the center
does not offer is reported with its path (``422``), all at once; so is a legal basis the
subscriber's region does not allow (``subscriptions.offers.email.legal_basis``). A ``PUT``
leaves the country as it is when the body does not give one: it is a fact about the
person, not one of their choices.
"""

from __future__ import annotations

from datetime import datetime

from msgspec import UNSET, UnsetType

from ....centers.model import Center
from ....choosing import KEEP, Choices, Requested, Rules, _Keep, apply
from ....errors import InvalidValues
from ....preferences import Preferences
from .bodies import PreferencesWrite, SubscriptionWrite


def desired(center: Center, current: Preferences, body: PreferencesWrite, *, replacing: bool, now: datetime,
            pending: bool = True, country: str | None | UnsetType = UNSET) -> Preferences:
    """``current`` changed as ``body`` asks; ``replacing`` resets what the body leaves out (PUT).

    ``pending``: the pending rule applies (an import may turn it off); ``country``: the
    subscriber's country, when the write gives one (a create's, a PATCH's, an import row's).
    """
    locale_problems = []
    if body.locale is not None and body.locale not in center.locales:
        locale_problems.append({"path": "locale", "message": f"offered: {', '.join(center.locales)}"})
    try:
        result = apply(center, current, choices_of(body, replacing=replacing, country=country),
                       rules=Rules(now=now, pending=pending))
    except InvalidValues as invalid:
        invalid.extra["errors"].extend(locale_problems)
        raise
    if locale_problems:
        raise InvalidValues(center=center, errors=locale_problems)
    return result


def choices_of(body: PreferencesWrite, *, replacing: bool, country: str | None | UnsetType = UNSET) -> Choices:
    """The body's fields, as the shared rules take them: a subscription is a state, or a state
    with its basis (``{"state": "opted_in", "legal_basis": "soft_opt_in", "reason": "purchase"}``)."""
    states: dict[str, dict[str, str]] = {}
    bases: dict[str, dict[str, Requested]] = {}
    for topic, channels in ({} if body.subscriptions is UNSET else body.subscriptions).items():
        for channel, given in channels.items():
            if isinstance(given, SubscriptionWrite):
                states.setdefault(topic, {})[channel] = given.state
                if given.legal_basis is not None:
                    bases.setdefault(topic, {})[channel] = Requested(given.legal_basis, given.reason, given.since)
            else:
                states.setdefault(topic, {})[channel] = given
    return Choices(
        subscriptions=states,
        bases=bases,
        country=_country(body, country),
        frequencies={} if body.frequencies is UNSET else body.frequencies,
        interests=None if body.interests is UNSET else frozenset(body.interests),
        paused_until=KEEP if body.paused_until is UNSET else body.paused_until,
        suppress=body.suppressed if isinstance(body.suppressed, bool) else None,
        replacing=replacing,
    )


def _country(body: PreferencesWrite, given: str | None | UnsetType) -> str | None | _Keep:
    """The country the write gives (the caller's, else the body's), or KEEP."""
    country = body.country if given is UNSET else given
    return KEEP if country is UNSET else country
