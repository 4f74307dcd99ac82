"""An API write body as :class:`~widget_server.choosing.Choices`, applied by the shared rules.

What a center offers and what a choice does is decided in :mod:`widget_server.choosing`,
for the widget's form and the API alike; this module only reads a body's fields (an
absent field is ``UNSET``: left as it is by a ``PATCH``, reset by a ``PUT``) and adds the
one check that is not about preferences, the subscriber's locale. Every value the center
does not offer is reported with its path (``422``), all at once.
"""

from __future__ import annotations

from msgspec import UNSET

from ....centers.model import Center
from ....choosing import KEEP, Choices, apply
from ....errors import InvalidValues
from ....preferences import Preferences
from .bodies import PreferencesWrite


def desired(center: Center, current: Preferences, body: PreferencesWrite, *, replacing: bool) -> Preferences:
    """``current`` changed as ``body`` asks; ``replacing`` resets what the body leaves out (PUT)."""
    locale_problems = []
    if body.locale is not None and body.locale not in center.locales:
        locale_problems.append({"path": "locale", "message": f"offered: {', '.join(center.locales)}"})
    try:
        result = apply(center, current, choices_of(body, replacing=replacing))
    except InvalidValues as invalid:
        invalid.extra["errors"].extend(locale_problems)
        raise
    if locale_problems:
        raise InvalidValues(center=center, errors=locale_problems)
    return result


def choices_of(body: PreferencesWrite, *, replacing: bool) -> Choices:
    """The body's fields, as the shared rules take them."""
    return Choices(
        subscriptions={} if body.subscriptions is UNSET else body.subscriptions,
        frequencies={} if body.frequencies is UNSET else body.frequencies,
        interests=None if body.interests is UNSET else frozenset(body.interests),
        paused_until=KEEP if body.paused_until is UNSET else body.paused_until,
        suppress=body.suppressed if isinstance(body.suppressed, bool) else None,
        replacing=replacing,
    )
