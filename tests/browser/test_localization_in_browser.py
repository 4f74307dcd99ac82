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


def test_arabic_is_right_to_left_and_mirrored(widget, store, new_context, screenshots, assert_accessible) -> None:
    subscriber = store.create_subscriber("voyago")
    page = new_context(viewport={"width": 375, "height": 812}, locale="ar").new_page()
    page.goto(widget.link("voyago", subscriber))
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    page.screenshot(path=str(screenshots / "widget-ar-rtl-375.png"), full_page=True)
    # Mirrored: the box sits right of its label, the page's first column starts on the right.
    box = page.locator('[name="s.deals.email"]').bounding_box()
    label = page.locator('label:has([name="s.deals.email"]) span').bounding_box()
    assert box["x"] > label["x"]
    save, leave = page.locator("#save").bounding_box(), page.locator("#unsubscribe-all").bounding_box()
    assert save["y"] < leave["y"] or save["x"] > leave["x"]  # stacked on a phone, or side by side mirrored
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert_accessible(page, "the Arabic widget")


@pytest.mark.parametrize("locale", ["fr", "de", "ar"])
def test_a_french_a_german_and_an_arabic_customer_see_a_native_page(widget, store, new_context, screenshots,
                                                                     locale: str) -> None:
    subscriber = store.create_subscriber("voyago")
    page = new_context(viewport={"width": 1024, "height": 900}, locale=locale).new_page()
    page.goto(widget.link("voyago", subscriber))
    expect(page.locator("html")).to_have_attribute("lang", locale)
    page.screenshot(path=str(screenshots / f"widget-voyago-{locale}.png"), full_page=True)
    text = page.locator("body").inner_text()
    for english in ("Save my choices", "Unsubscribe from everything", "How often", "Your interests", "Trip alerts"):
        assert english not in text, (locale, english)


@pytest.mark.parametrize("center, mode", [("maison-lumiere", "dark"), ("voyago", "dark"), ("voyago", "auto")])
def test_dark_mode_passes_axe_too(widget, store, new_context, assert_accessible, center: str, mode: str) -> None:
    subscriber = store.create_subscriber(center)
    page = new_context(color_scheme="dark", locale="ar" if center == "voyago" else "fr").new_page()
    page.goto(widget.link(center, subscriber, mode=mode))
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")  # really dark
    page.locator("#save").click()
    expect(page.locator("#messages [role=status]")).to_be_visible()
    assert_accessible(page, f"{center} in {mode} mode, after a save")
