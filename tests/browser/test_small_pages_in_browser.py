"""The small pages in Chromium, left to right and right to left, checked by axe-core (WCAG 2.2 AA):
"check your inbox" with its resend and its way back, by keyboard; an unexpected error's page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from widget_server.store.store import Store

pytestmark = pytest.mark.browser

CASES = [("maison-lumiere", "fr", "ltr"), ("voyago", "ar", "rtl")]


@pytest.mark.parametrize(("center", "locale", "direction"), CASES)
def test_check_your_inbox_resends_and_leads_back_by_keyboard(widget, new_context, assert_accessible, center, locale,
                                                             direction) -> None:
    page = new_context().new_page()
    page.goto(f"{widget.url}/c/{center}/link?lang={locale}")
    page.get_by_label(widget.text(locale, "Your e-mail address")).fill("ines@example.org")
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(widget.text(locale, "Check your inbox"))
    expect(page.locator("html")).to_have_attribute("dir", direction)
    assert_accessible(page, f"check your inbox ({locale})")

    again = page.get_by_role("button", name=widget.text(locale, "Send it again"))
    again.focus()
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.keyboard.press("Enter")
    assert sent.value.status == 200
    expect(heading).to_have_text(widget.text(locale, "Check your inbox"))

    back = page.get_by_role("link", name=widget.text(locale, "Use another e-mail address"))
    back.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/c/{center}/link?lang={locale}")
    expect(page.get_by_label(widget.text(locale, "Your e-mail address"))).to_be_visible()


@pytest.mark.parametrize(("center", "locale", "direction"), CASES)
def test_an_unexpected_errors_page_is_styled_localized_and_accessible(widget, store, new_context, assert_accessible,
                                                                      monkeypatch, center, locale, direction) -> None:
    subscriber = store.create_subscriber(center)
    link = widget.link(center, subscriber, lang=locale)

    def fail(*args, **kwargs):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(Store, "get", fail)  # the live server runs in this process
    page = new_context().new_page()
    assert page.goto(link).status == 500
    expect(page.locator("html")).to_have_attribute("lang", locale)
    expect(page.locator("html")).to_have_attribute("dir", direction)
    expect(page.get_by_role("heading", level=1)).to_have_text(widget.text(locale, "Something went wrong"))
    # The widget's stylesheet applied (its custom properties), not the browser's defaults.
    assert page.evaluate("getComputedStyle(document.body).getPropertyValue('--pc-text')").strip()
    assert "a bug of ours" not in page.content() and "Traceback" not in page.content()
    assert_accessible(page, f"an unexpected error ({locale})")
    expect(page.get_by_role("link", name=widget.text(locale, "Try again"))).to_be_visible()
