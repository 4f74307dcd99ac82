"""The footer's links, minted by the SDK's LinkMinter, carry the mail's language, and the pages they open speak it."""

from __future__ import annotations

import re

import pytest
from preference_sdk import LinkMinter

from widget_server.demo import footer_tokens

CENTER = "voyago"  # nine languages: the browser's and the mail's can differ
ENGLISH_BROWSER = {"Accept-Language": "en-GB,en;q=0.9"}


@pytest.fixture
def minter(settings, clock) -> LinkMinter:
    return LinkMinter(settings.base_url, settings.secret_keys, clock=lambda: clock().timestamp())


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


@pytest.mark.parametrize("locale, direction", [("de", "ltr"), ("ar", "rtl")])
def test_the_unsubscribe_page_speaks_the_links_language(client, store, minter, locale, direction) -> None:
    sid = store.create_subscriber(CENTER)
    url = minter.unsubscribe_url(CENTER, sid, topic="deals", locale=locale)
    page = client.get(path_of(url), headers=ENGLISH_BROWSER)
    assert page.status_code == 200
    assert f'<html lang="{locale}" dir="{direction}"' in page.text


def test_the_list_unsubscribe_url_carries_it_too(client, store, minter) -> None:
    sid = store.create_subscriber(CENTER)
    headers = minter.list_unsubscribe_headers(CENTER, sid, topic="deals", locale="pl")
    url = re.match(r"<([^>]+)>", headers["List-Unsubscribe"]).group(1)
    assert '<html lang="pl"' in client.get(path_of(url), headers=ENGLISH_BROWSER).text


def test_without_a_locale_the_browser_decides(client, store, minter) -> None:
    sid = store.create_subscriber(CENTER)
    page = client.get(path_of(minter.unsubscribe_url(CENTER, sid, topic="deals")),
                      headers={"Accept-Language": "nl"})
    assert '<html lang="nl"' in page.text


def test_an_explicit_lang_still_wins_over_the_links(client, store, minter) -> None:
    sid = store.create_subscriber(CENTER)
    url = minter.unsubscribe_url(CENTER, sid, topic="deals", locale="de")
    assert '<html lang="it"' in client.get(path_of(url) + "&lang=it", headers=ENGLISH_BROWSER).text


def test_the_demos_footer_unsubscribe_links_carry_the_footers_language(client, store) -> None:
    signer = client.app.state.signer
    subscribers = {"maison-lumiere": store.create_subscriber("maison-lumiere"), CENTER: store.create_subscriber(CENTER)}
    tokens = footer_tokens(signer, subscribers, {"maison-lumiere": "fr", CENTER: "en"})
    assert signer.read(tokens["unsubscribe:maison-lumiere"], "unsubscribe").locale == "fr"
    page = client.get("/c/maison-lumiere/unsubscribe", params={"t": tokens["unsubscribe:maison-lumiere"]},
                      headers=ENGLISH_BROWSER)
    assert '<html lang="fr"' in page.text
