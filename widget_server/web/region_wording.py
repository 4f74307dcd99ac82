"""What the widget shows of the regions' rules: the country select (when the center asks the
person's country, ``[consent] ask_country``) and the wording the subscriber's region requires
near the save (``[regions.CODE.text.LOCALE] notice``).

The country is the person's own say (never guessed from an IP address or a phone number):
it picks the rules their choices are recorded under, so it is saved in the same event as
those choices (a change of path ``country``), and the notice follows the country the form
was shown for. The select lists the countries whose rules differ from the ``default``
region's (a region's own country, a group's members), named and sorted in the visitor's
language, and the person's own country whatever it is; "another country" is the default's
rules. The full list of 250 would double the page's weight for no difference in what is
recorded (the API and the import take any ISO 3166 code).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import countries
from ..centers.model import Center
from ..preferences import Preferences
from ..regions import DEFAULT, GROUPS, region_for


@dataclass(frozen=True)
class CountryField:
    """The select: the countries the rules name, in the visitor's language, the person's selected."""

    selected: str | None
    options: tuple[tuple[str, str], ...]


def country_field(center: Center, locale: str, prefs: Preferences) -> CountryField | None:
    """The country select, or None when the center does not ask (or its rules name no country)."""
    if not center.consent.ask_country:
        return None
    named = _named_countries(center) | ({prefs.country} if prefs.country else set())
    if not named:
        return None
    return CountryField(prefs.country, tuple((code, name) for code, name in countries.names(locale) if code in named))


def _named_countries(center: Center) -> set[str]:
    named: set[str] = set()
    for region in center.consent.regions:
        if region.code in GROUPS:
            named |= GROUPS[region.code]
        elif region.code != DEFAULT:
            named.add(region.code)
    return named


def region_notice(center: Center, locale: str, country: str | None) -> str | None:
    """The notice ``country``'s region asks the widget to show, in ``locale`` (else the center's
    default locale), or None when the region has none."""
    region = region_for(center, country)
    if region is None or not region.text:
        return None
    wording = region.text.get(locale) or region.text.get(center.default_locale) or {}
    return wording.get("notice") or None
