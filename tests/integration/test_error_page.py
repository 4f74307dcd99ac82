"""An unexpected error's page: in the visitor's language and direction, the center's look, a reference
the support finds in the log line, and never a trace."""

from __future__ import annotations

import logging
import re
from html import unescape

import pytest

from widget_server.store.store import Store

CENTER = "maison-lumiere"
SECRET = "an inner detail no visitor may read"


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch):
    """Every read of a subscriber fails as a bug of ours would."""
    def fail(*args, **kwargs):
        raise RuntimeError(SECRET)

    monkeypatch.setattr(Store, "get", fail)


def manage_token(client, store, center: str = CENTER) -> str:
    return client.app.state.signer.mint("manage", center, store.create_subscriber(center))


def reference_of(text: str) -> str:
    """The reference the page shows ("Error reference: 1a2b3c4d5e6f", in the page's language)."""
    found = re.search(r'class="hint">[^<]*?\b([0-9a-f]{12})</p>', text)
    assert found, text
    return found.group(1)


@pytest.mark.parametrize("language, direction", [("fr", "ltr"), ("ar", "rtl")])
def test_the_page_is_in_the_visitors_language_with_the_centers_theme(client, store, broken, caplog, language,
                                                                     direction) -> None:
    center = "voyago"  # nine languages, Arabic among them
    token = manage_token(client, store, center)
    with caplog.at_level(logging.ERROR, logger="widget_server.errors"):
        page = client.get(f"/c/{center}/preferences", params={"t": token}, headers={"Accept-Language": language})
    assert page.status_code == 500
    assert f'<html lang="{language}" dir="{direction}"' in page.text
    assert "/static/widget.css" in page.text and f"/c/{center}/theme.css" in page.text  # styled, themed
    assert client.app.state.translator.gettext(language, "Something went wrong") in unescape(page.text)
    assert "Traceback" not in page.text and SECRET not in page.text and "RuntimeError" not in page.text
    reference = reference_of(page.text)
    [line] = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    # The log line the support greps for: the reference, the method and the path, never the query (the token).
    assert line.getMessage() == f"unexpected error {reference} (GET /c/{center}/preferences): RuntimeError"
    assert token not in line.getMessage()
    assert page.headers["cache-control"] == "no-store"


def test_a_read_offers_to_try_again_at_the_same_address(client, store, broken) -> None:
    token = manage_token(client, store)
    page = client.get(f"/c/{CENTER}/preferences", params={"t": token})
    assert f'href="/c/{CENTER}/preferences?t={token}"' in page.text


def test_a_post_is_not_offered_again(client, store, broken) -> None:
    token = manage_token(client, store)
    page = client.post(f"/c/{CENTER}/preferences", data={"t": token}, headers={"Sec-Fetch-Site": "same-origin"})
    assert page.status_code == 500
    assert 'class="button primary" href=' not in page.text
    reference_of(page.text)


def test_htmx_gets_the_message_with_its_reference(client, store, broken) -> None:
    token = manage_token(client, store)
    fragment = client.get(f"/c/{CENTER}/preferences", params={"t": token}, headers={"HX-Request": "true"})
    assert fragment.status_code == 500 and fragment.headers["HX-Retarget"] == "#messages"
    assert "<html" not in fragment.text and SECRET not in fragment.text
    reference_of(fragment.text)


def test_when_the_error_page_itself_fails_the_fallback_is_still_localized_and_styled(client, store, broken,
                                                                                       monkeypatch, caplog) -> None:
    jinja = client.app.state.jinja
    real = jinja.get_template

    def failing(name: str, *args, **kwargs):
        if name == "errors/error.html":
            raise RuntimeError("the template broke")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(jinja, "get_template", failing)
    token = manage_token(client, store, "voyago")
    with caplog.at_level(logging.ERROR, logger="widget_server.errors"):
        page = client.get("/c/voyago/preferences", params={"t": token}, headers={"Accept-Language": "ar"})
    assert page.status_code == 500
    assert page.text.startswith('<!doctype html><html lang="ar" dir="rtl">')
    assert "/static/widget.css" in page.text and '<main id="main">' in page.text
    assert client.app.state.translator.gettext("ar", "Something went wrong") in unescape(page.text)
    reference = reference_of(page.text)
    assert any(f"(error {reference})" in r.getMessage() for r in caplog.records)  # the two lines tie up
    assert SECRET not in page.text and "the template broke" not in page.text


def test_a_page_outside_a_center_is_styled_without_a_theme(client) -> None:
    page = client.get("/nowhere", headers={"Accept-Language": "de"})
    assert page.status_code == 404 and '<html lang="de" dir="ltr"' in page.text
    assert "/static/widget.css" in page.text and "theme.css" not in page.text
