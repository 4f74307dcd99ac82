"""Global Privacy Control in Chromium: a browser that sends ``Sec-GPC: 1`` sees the partner
topic switched off with the reason beside it, announced once, and the page passes axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from widget_server.ledger import EventContext
from widget_server.preferences import OPTED_IN, OPTED_OUT, Preferences

pytestmark = pytest.mark.browser

CENTER = "maison-lumiere"


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_a_browser_sending_the_signal_is_opted_out_of_partner_sharing(widget, store, new_context, assert_accessible,
                                                                       locale) -> None:
    subscriber = store.create_subscriber(CENTER, locale=locale, preferences=Preferences(subscriptions={
        ("offers", "email"): OPTED_IN, ("partners", "email"): OPTED_IN}), context=EventContext(
        source="web", actor="subject"))
    page = new_context(extra_http_headers={"Sec-GPC": "1"}).new_page()
    page.goto(widget.link(CENTER, subscriber, lang=locale))
    partner = page.locator("input[name='s.partners.email']")
    expect(partner).to_be_disabled()
    expect(partner).not_to_be_checked()
    expect(page.locator("#messages")).to_contain_text("Global Privacy Control")
    expect(page.locator("#topic-partners-gpc")).to_be_visible()
    assert store.get(CENTER, subscriber).preferences.state("partners", "email") == OPTED_OUT
    assert store.last_event(subscriber)["evidence"]["method"] == "global_privacy_control"
    assert_accessible(page, f"the widget with Global Privacy Control ({locale})")
    page.locator("input[name='s.offers.sms']").check()
    with page.expect_response(lambda response: response.request.method == "POST"):
        page.locator("#save").click()
    expect(page.locator("#messages")).not_to_contain_text("Global Privacy Control")
    expect(partner).to_be_disabled()
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("offers", "sms") == OPTED_IN and prefs.state("partners", "email") == OPTED_OUT
