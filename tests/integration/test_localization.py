"""Every screen in every shipped language: native text, lang and dir, plurals, catalogs.

The check for strings that escaped gettext renders each screen in each language and
looks for the English source of every message whose translation differs from it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html import unescape

import pytest
from babel import Locale
from babel.messages.pofile import read_po

from widget_server.i18n import LOCALES, Translator, shipped_locales

CENTER = "voyago"  # offers every shipped language
LANGUAGES = sorted(shipped_locales())
TRANSLATED = sorted(set(LANGUAGES) - {"en"})
RTL = {"ar"}


def english_sources(translator: Translator, locale: str) -> list[str]:
    """Source strings that must not appear on a page in ``locale``: those translated differently."""
    with open(LOCALES / "messages.pot", "rb") as pot:
        ids = [m.id for m in read_po(pot) if m.id]
    catalog = translator.get(locale)
    found = []
    for msgid in ids:
        singular = msgid[0] if isinstance(msgid, tuple) else msgid
        translated = catalog.ngettext(*msgid, 5) if isinstance(msgid, tuple) else catalog.gettext(msgid)
        if translated != singular and len(singular) > 3:
            found.append(re.sub(r"%\(\w+\)[sd]", "", singular).strip())
    return [text for text in found if len(text) > 3]


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    attributes = " ".join(re.findall(r'(?:aria-label|title|placeholder|data-offline-message)="([^"]*)"', html))
    return unescape(" ".join((text + " " + attributes).split()))


@pytest.fixture
def screens(client, store, clock):
    """Every screen of the widget for one language: name -> (status, html)."""
    from widget_server.preferences import OPTED_IN, Preferences

    app = client.app
    same_origin = {"Sec-Fetch-Site": "same-origin"}

    def render(locale: str) -> dict[str, tuple[int, str]]:
        subscriber = store.create_subscriber(
            CENTER, email="ana@example.org", preferences=Preferences(subscriptions={("deals", "email"): OPTED_IN})
        )
        token = app.state.signer.mint("manage", CENTER, subscriber, l=locale)
        with client.another() as visitor:
            url = f"/c/{CENTER}/preferences"
            page = visitor.get(url, params={"t": token})
            form = {"t": token, "version": "1", "submission": "s1", "notice": app.state.centers[CENTER].notice_version,
                    "lang": locale, "s.deals.sms": "on", "pause": "30"}
            htmx = {**same_origin, "HX-Request": "true"}
            out = {
                "widget": page,
                "saved fragment": visitor.post(url, data=form, headers=htmx),
                "paused widget": visitor.get(url, params={"t": token}),
                "conflict": visitor.post(url, data={**form, "submission": "s2", "s.deals.push": "on"}, headers=htmx),
                "bad form": visitor.post(url, data={**form, "pause": "5"}, headers=htmx),
                "bad form page": visitor.post(url, data={**form, "pause": "5"}, headers=same_origin),
                "invalid link": visitor.get(url, params={"t": token + "x", "lang": locale}),
                "cross-site": visitor.post(url, data=form,
                                           headers={"Sec-Fetch-Site": "cross-site", "Accept-Language": locale}),
                "unknown page": visitor.get(f"/c/{CENTER}/nothing-here", params={"lang": locale}),
                "fresh link": visitor.get(f"/c/{CENTER}/link", params={"lang": locale}),
                "fresh link sent": visitor.post(f"/c/{CENTER}/link", data={"lang": locale, "email": "x@example.org"},
                                                headers=same_origin),
            }
            clock.advance(days=200)
            out["expired link"] = visitor.get(url, params={"t": token})
            clock.advance(days=-200)
        return {name: (response.status_code, response.text) for name, response in out.items()}

    return render


@pytest.mark.parametrize("locale", LANGUAGES)
def test_every_screen_speaks_the_language_and_says_which(screens, client, locale: str) -> None:
    translator = client.app.state.translator
    sources = english_sources(translator, locale) if locale != "en" else []
    assert locale == "en" or len(sources) > 40  # the check has teeth
    expected_status = {"widget": 200, "saved fragment": 200, "paused widget": 200, "conflict": 409, "bad form": 422,
                       "bad form page": 422, "invalid link": 403, "cross-site": 403, "unknown page": 404,
                       "fresh link": 200, "fresh link sent": 200, "expired link": 401}
    for name, (status, html) in screens(locale).items():
        assert status == expected_status[name], name
        if "fragment" not in name and name not in ("conflict", "bad form"):
            direction = "rtl" if locale in RTL else "ltr"
            assert f'<html lang="{locale}" dir="{direction}"' in html, name
        text = visible_text(html)
        # Whole words only: German "Daten" holds the English "Date" without leaking it.
        leaked = [source for source in sources if re.search(rf"(?<!\w){re.escape(source)}(?!\w)", text)]
        assert not leaked, f"{locale} {name}: English left on the page: {leaked}"
        assert "Traceback" not in html


def test_the_fresh_link_mail_is_in_the_visitors_language(client, store) -> None:
    """Asked for in German and in Arabic, through the real route and the folder mailer."""
    import email
    import email.policy
    import time

    store.create_subscriber(CENTER, email="ana@example.org")
    for locale in ("de", "ar"):
        answer = client.post(f"{client.url}/c/{CENTER}/link", data={"email": "ana@example.org", "lang": locale},
                             headers={"Sec-Fetch-Site": "same-origin"})
        assert answer.status_code == 200
    folder = client.app.state.mailer.folder
    deadline = time.monotonic() + 30  # the mail is written after the response: allow a busy machine
    while len(list(folder.glob("*.eml"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    mails = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in folder.glob("*.eml")]
    bodies = [mail.get_body(("plain",)).get_content() for mail in mails]
    assert len(bodies) == 2
    assert any("Guten Tag" in body for body in bodies)
    assert any(re.search(r"[\u0600-\u06FF]", body) for body in bodies)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_plural_forms_follow_the_languages_own_rules(locale: str) -> None:
    """Counts in the same CLDR plural category read the same, and none is left in English.

    (Different categories may legitimately share a word, as Polish "2 dni" and "5 dni".)
    """
    catalog = Translator.load().get(locale)
    rules = Locale.parse({"pt": "pt_PT"}.get(locale, locale))  # our "pt" is European Portuguese
    rendered = {}
    for n in (0, 1, 2, 5, 22):
        text = catalog.ngettext("For %(num)d day", "For %(num)d days", n) % {"num": n}
        assert "day" not in text, f"{locale}: untranslated plural for {n}"
        rendered[n] = text.replace(str(n), "#")
    for a in rendered:
        for b in rendered:
            if rules.plural_form(a) == rules.plural_form(b):
                assert rendered[a] == rendered[b], (locale, a, b, rendered[a], rendered[b])
    if locale == "ar":  # six forms; 0, 1, 2, 5 and 22 fall in five of them
        assert len(set(rendered.values())) == 5, rendered


@pytest.mark.parametrize(
    "header, expected",
    [
        ("de;q=0.5, ar;q=0.9, en;q=0.1", "ar"),
        ("pt-PT,pt;q=0.9", "pt"),
        ("nl-BE, fr;q=0.8", "nl"),
        ("ja", "en"),  # not offered: the center's default
    ],
)
def test_accept_language_is_negotiated_against_the_centers_languages(client, store, header, expected) -> None:
    subscriber = store.create_subscriber(CENTER)
    token = client.app.state.signer.mint("manage", CENTER, subscriber)
    page = client.get(f"{client.url}/c/{CENTER}/preferences", params={"t": token},
                      headers={"Accept-Language": header})
    assert f'<html lang="{expected}"' in page.text


def test_an_explicit_language_beats_the_token_and_the_browser(client, store) -> None:
    subscriber = store.create_subscriber(CENTER)
    token = client.app.state.signer.mint("manage", CENTER, subscriber, l="de")
    url = f"{client.url}/c/{CENTER}/preferences"
    assert '<html lang="de"' in client.get(url, params={"t": token}, headers={"Accept-Language": "es"}).text
    assert '<html lang="pl"' in client.get(url, params={"t": token, "lang": "pl"}).text


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalogs_pass_gnu_msgfmt_check(locale: str) -> None:
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "GNU gettext's msgfmt is missing: scripts/test installs Debian's gettext"
    catalog = LOCALES / locale / "LC_MESSAGES" / "messages.po"
    result = subprocess.run([msgfmt, "--check", "-o", "/dev/null", str(catalog)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_the_stylesheet_mirrors_for_right_to_left() -> None:
    """Logical properties only: no physical left/right that would not mirror in Arabic."""
    from widget_server.paths import STATIC

    css = (STATIC / "widget.css").read_text()
    physical = re.findall(
        r"(?:margin|padding|border)-(?:left|right)|(?<![-\w])(?:left|right)\s*:|text-align:\s*(?:left|right)", css
    )
    assert not physical, physical
