"""The person's own history page in Chromium: reached from the widget, readable by
keyboard, and checked by axe-core against WCAG 2.2 AA, left to right and right to left."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from widget_server.ledger import EventContext
from widget_server.preferences import OPTED_IN, Preferences

pytestmark = pytest.mark.browser

CASES = [("maison-lumiere", "fr", "ltr"), ("voyago", "ar", "rtl")]


@pytest.mark.parametrize(("center", "locale", "direction"), CASES)
def test_the_history_page_is_reached_from_the_widget_and_accessible(widget, store, new_context, assert_accessible,
                                                                     center, locale, direction) -> None:
    subscriber = store.create_subscriber(center, locale=locale, preferences=Preferences(
        subscriptions={("offers", "email"): OPTED_IN}), context=EventContext(source="web", actor="subject"))
    current = store.get(center, subscriber).preferences
    store.save(center, subscriber, Preferences(version=current.version, subscriptions={("offers", "email"): OPTED_IN},
                                               suppressed=True),
               base_version=current.version, context=EventContext(source="call_center", actor="agent:a-1"))
    page = new_context().new_page()
    page.goto(widget.link(center, subscriber, lang=locale))
    link = page.locator("a[href*='/history?']")
    link.focus()
    page.keyboard.press("Enter")  # the keyboard alone reaches it
    page.wait_for_url("**/history?**")
    expect(page.locator("html")).to_have_attribute("dir", direction)
    expect(page.locator("table tbody tr")).to_have_count(2)
    shown = page.locator("main").inner_text()
    assert "agent" not in shown and "a-1" not in shown  # "our service team", never who
    assert_accessible(page, f"the history page ({locale})")
