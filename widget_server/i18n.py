"""Interface translations (Babel, gettext catalogs) and locale negotiation.

Catalogs live in ``locales/<lang>/LC_MESSAGES/messages.po`` and are compiled in memory
when the server starts, so there is no ``.mo`` file to forget to build or to drift from
its ``.po``. Center wording (topic labels...) is not here: it comes from center files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from .paths import LOCALES

DOMAIN = "messages"
SOURCE_LOCALE = "en"
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})


def shipped_locales(root: Path = LOCALES) -> frozenset[str]:
    """Languages with an interface catalog, plus the source language (English)."""
    found = {p.parent.parent.name for p in root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return frozenset(found | {SOURCE_LOCALE})


def compile_catalog(po_path: Path) -> Translations:
    """Read a ``.po`` file and return ready-to-use translations (compiled in memory)."""
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=po_path.parent.parent.name, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


@lru_cache(maxsize=64)
def _compiled(po_path: Path, mtime_ns: int) -> Translations:
    """A catalog compiled once per process and version of its file: every app built in
    the process (each test builds its own) shares it, and an edited file is read again.
    Translations are only read once made, so sharing them is safe."""
    return compile_catalog(po_path)


@dataclass(frozen=True)
class Translator:
    """Every shipped catalog, loaded once."""

    catalogs: Mapping[str, NullTranslations]

    @classmethod
    def load(cls, root: Path = LOCALES) -> "Translator":
        catalogs: dict[str, NullTranslations] = {SOURCE_LOCALE: NullTranslations()}
        for po_path in sorted(root.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            catalogs[po_path.parent.parent.name] = _compiled(po_path, po_path.stat().st_mtime_ns)
        return cls(catalogs)

    def get(self, locale: str) -> NullTranslations:
        return self.catalogs.get(locale) or self.catalogs.get(locale.split("_")[0]) or self.catalogs[SOURCE_LOCALE]

    def gettext(self, locale: str, message: str, **variables: object) -> str:
        text = self.get(locale).gettext(message)
        return text % variables if variables else text


def text_direction(locale: str) -> str:
    return "rtl" if locale.split("_")[0] in RTL_LANGUAGES else "ltr"


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags from an ``Accept-Language`` header, best first (q-weighted)."""
    if not header:
        return []
    weighted = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(
    available: Iterable[str],
    default: str,
    *,
    explicit: str | None = None,
    from_token: str | None = None,
    accept_language: str | None = None,
) -> str:
    """Pick a locale: explicit choice, then the token's, then the browser's, then default."""
    available = list(available)
    for candidate in (explicit, from_token):
        if candidate in available:
            return candidate
    for tag in parse_accept_language(accept_language):
        match = Locale.negotiate([tag.replace("-", "_")], available, sep="_")
        if match:
            return str(match)
        language = tag.split("-")[0].lower()
        if language in available:
            return language
    return default


def visitor_timezone(name: str | None) -> ZoneInfo | None:
    """The visitor's IANA time zone (``Europe/Paris``) when one was given and is real."""
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def format_moment(moment: datetime, locale: str) -> str:
    """An instant with its time and zone, in UTC ("12 December 2026, 02:00:00 UTC"): for a
    deadline told where the reader's zone is unknown (a mail, a link's page), since a day alone
    is another day somewhere else."""
    return format_datetime(moment, format="long", tzinfo=timezone.utc, locale=locale)


def format_day(moment: datetime, locale: str, timezone_name: str | None = None) -> str:
    """A date as people of ``locale`` write it, on the visitor's calendar (else UTC)."""
    zone = visitor_timezone(timezone_name)
    local = moment.astimezone(zone) if zone else moment
    return format_date(local, format="long", locale=locale)


@lru_cache(maxsize=None)
def locale_display_name(locale: str) -> str:
    """A language's own name for itself ("Français", "Deutsch"), for the switcher."""
    try:
        name = Locale.parse(locale).get_display_name(locale) or locale
    except (UnknownLocaleError, ValueError):
        return locale
    return name[:1].upper() + name[1:]
