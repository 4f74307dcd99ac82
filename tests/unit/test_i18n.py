"""Locale negotiation and the shipped catalogs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from babel.messages.pofile import read_po

from widget_server.i18n import (
    LOCALES,
    Translator,
    format_moment,
    negotiate,
    parse_accept_language,
    shipped_locales,
    text_direction,
)


def test_a_deadline_is_told_with_its_time_and_zone() -> None:
    """A link ending at 02:00 UTC on the 12th ends on the 11th in New York: a mail says the hour and the zone."""
    end = datetime(2026, 12, 12, 3, 0, tzinfo=timezone(timedelta(hours=1)))  # the same instant, another zone
    assert format_moment(end, "en") == "December 12, 2026, 2:00:00\u202fAM UTC"
    assert format_moment(end, "de") == "12. Dezember 2026, 02:00:00 UTC"


def test_accept_language_is_ordered_by_quality_then_position() -> None:
    assert parse_accept_language("de;q=0.5, fr-CH, en;q=0.9, es;q=0") == ["fr-CH", "en", "de"]
    assert parse_accept_language("") == [] and parse_accept_language("en;q=abc") == []


@pytest.mark.parametrize(
    "explicit, token, header, expected",
    [
        ("en", "fr", "de", "en"),  # an explicit choice wins
        ("xx", "en", "de", "en"),  # ...unless the center does not offer it: then the token's
        (None, None, "de-DE,en;q=0.8", "en"),  # the browser's best offered language
        (None, None, "fr-CA", "fr"),  # a regional variant falls back to its language
        (None, None, "ja, zh;q=0.5", "fr"),  # nothing offered: the center's default
        (None, None, None, "fr"),
    ],
)
def test_negotiation_order(explicit, token, header, expected) -> None:
    assert negotiate(["fr", "en"], "fr", explicit=explicit, from_token=token, accept_language=header) == expected


def test_direction() -> None:
    assert text_direction("ar") == "rtl" and text_direction("fr") == "ltr"


@pytest.mark.parametrize("locale", sorted(shipped_locales() - {"en"}))
def test_every_catalog_is_complete_and_not_fuzzy(locale: str) -> None:
    with open(LOCALES / locale / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po)
    with open(LOCALES / "messages.pot", "rb") as pot:
        template_ids = {m.id for m in read_po(pot) if m.id}
    ids = {m.id for m in catalog if m.id}
    assert template_ids <= ids, f"run pybabel update and translate: {template_ids - ids}"
    def done(m) -> bool:
        return not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])

    untranslated = [m.id for m in catalog if m.id and not done(m)]
    assert not untranslated, f"{locale}: untranslated or fuzzy: {untranslated}"


def test_catalogs_compile_in_memory_at_start() -> None:
    translator = Translator.load()
    assert translator.gettext("fr", "Save my choices") == "Enregistrer mes choix"
    assert translator.get("fr").ngettext("For %(num)d day", "For %(num)d days", 2) % {"num": 2} == "Pendant 2 jours"


def test_the_template_holds_every_message_the_code_and_templates_use(tmp_path) -> None:
    """A message added to a template or to the code but not extracted would be shown in
    English in every language, and the completeness test above would not see it."""
    import subprocess
    import sys

    from tests.helpers import ROOT

    extracted = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "N_",
                    "-k", "ngettext:1,2", "--no-location", "--sort-output", "-o", str(extracted), "."],
                   cwd=ROOT, check=True, capture_output=True)
    with open(extracted, "rb") as fresh, open(LOCALES / "messages.pot", "rb") as shipped:
        used, kept = ({str(m.id) for m in read_po(f) if m.id} for f in (fresh, shipped))
    assert not used - kept, f"run the README's pybabel extract and update, then translate: {sorted(used - kept)}"
