"""Countries: the ISO 3166 alpha-2 codes a subscriber's country may take, and their names.

A subscriber's country picks the region whose rules apply (:mod:`widget_server.regions`),
so it must be a code the regions can name: two capital letters of a country or
territory. The list is Babel's (CLDR's) territories, without the codes CLDR uses for
groups and placeholders (``EU``, ``UN``, ``ZZ``...), so the API, the import, the
widget's select and check-config accept the same codes, and the widget names them in
the visitor's language.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping

from babel import Locale, UnknownLocaleError

#: CLDR territory codes that are not a country or territory of one's own.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})


@lru_cache(maxsize=1)
def codes() -> frozenset[str]:
    """Every country code a subscriber may have (``FR``, ``CA``, ``US``, ``XK``...)."""
    territories: Mapping[str, str] = Locale("en").territories
    return frozenset(code for code in territories
                     if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES)


def known(code: str) -> bool:
    return code in codes()


def problem(code: str) -> str | None:
    """None for a known code, else what to write (for an API 422 or an import row)."""
    if known(code):
        return None
    if known(code.upper()):
        return f"write country codes in capitals: '{code.upper()}'"
    return "an ISO 3166 alpha-2 country code in capitals, e.g. FR, CA, US"


@lru_cache(maxsize=32)
def names(locale: str) -> tuple[tuple[str, str], ...]:
    """(code, name) for every country, named and sorted in ``locale`` (the widget's select)."""
    english: Mapping[str, str] = Locale("en").territories
    try:
        territories: Mapping[str, str] = Locale.parse(locale.replace("-", "_")).territories
    except (UnknownLocaleError, ValueError):
        territories = english
    named = [(code, territories.get(code) or english[code]) for code in codes()]
    return tuple(sorted(named, key=lambda item: item[1].casefold()))
