"""Languages in the browser: the switcher keeps unsaved choices; right-to-left mirrors."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CENTER = "maison-lumiere"


@pytest.fixture
def subscriber(store) -> str:
    return store.create_subscriber(CENTER, email="camille@example.org")


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_switching_language_keeps_the_token_and_the_unsaved_choices(
    widget, store, subscriber, new_context, javascript: bool
) -> None:
    page = new_context(java_script_enabled=javascript, locale="fr-FR").new_page()
    page.goto(widget.link(CENTER, subscriber))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.locator('[name="s.offers.sms"]').check()
    page.locator('[name="i"][value="garden"]').check()
    page.locator('[name="pause"]').select_option("30")
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Your communication preferences")
    expect(page.locator('[name="s.offers.sms"]')).to_be_checked()
    expect(page.locator('[name="i"][value="garden"]')).to_be_checked()
    expect(page.locator('[name="pause"]')).to_have_value("30")
    assert store.events(subscriber) == []  # switching language saved nothing
    page.locator("#save").click()
    expect(page.locator("#messages")).to_contain_text(widget.text("en", "Your choices are saved."))
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.opted_in("offers", "sms") and prefs.interests == {"garden"} and prefs.paused_until
    assert store.events(subscriber)[-1]["locale"] == "en"
