"""The unsubscribe page in a real browser: French and Arabic, keyboard only, without
JavaScript, framed by another site, and checked by axe-core against WCAG 2.2 AA."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from widget_server.preferences import OPTED_IN, OPTED_OUT, Preferences

from .test_widget_in_browser import FOCUS_OUTLINES, layout_problems

pytestmark = pytest.mark.browser


def unsubscribe_link(widget, center: str, subscriber: str, **extra: str) -> str:
    token = widget.app.state.signer.mint("unsubscribe", center, subscriber, **extra)
    return f"{widget.url}/c/{center}/unsubscribe?" + urlencode({"t": token})


def tab_to(page: Page, target, limit: int = 20) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    pytest.fail(f"{limit} presses of Tab never reached {target}")


def test_french_keyboard_only_confirm_then_undo(widget, store, new_context, assert_accessible, screenshots) -> None:
    subscriber = store.create_subscriber(
        "maison-lumiere", preferences=Preferences(subscriptions={("offers", "email"): OPTED_IN}))
    page = new_context(locale="fr-FR").new_page()
    page.goto(unsubscribe_link(widget, "maison-lumiere", subscriber, tp="offers"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("h1")).to_have_text(widget.text("fr", "Unsubscribe"))
    expect(page.locator(".unsubscribe-target")).to_contain_text("Offres et promotions")
    expect(page.locator(".unsubscribe-target")).to_contain_text("E-mail")
    assert_accessible(page, "the French confirm page")
    assert layout_problems(page) == []
    page.screenshot(path=str(screenshots / "unsubscribe-fr-confirm.png"), full_page=True)
    assert len(store.events(subscriber)) == 1  # opening the page changed nothing

    button = page.locator("#confirm")
    tab_to(page, button)
    assert button.evaluate(FOCUS_OUTLINES)[0] != "none", "no visible focus on the confirm button"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(widget.text("fr", "You are unsubscribed"))
    assert "done=1" in page.url
    assert store.get("maison-lumiere", subscriber).preferences.state("offers", "email") == OPTED_OUT
    assert store.events(subscriber)[-1]["evidence"]["method"] == "confirmed_on_page"
    assert_accessible(page, "the French done page")
    assert layout_problems(page) == []
    page.screenshot(path=str(screenshots / "unsubscribe-fr-done.png"), full_page=True)

    undo = page.locator("#resubscribe")
    tab_to(page, undo)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("[role=status]")).to_have_text(widget.text("fr", "You are subscribed again."))
    assert store.get("maison-lumiere", subscriber).preferences.opted_in("offers", "email")
    assert_accessible(page, "the French page after an undo")

    manage = page.get_by_role("link", name=widget.text("fr", "Manage all my preferences instead"))
    manage.click()
    expect(page.locator('[name="s.offers.email"]')).to_be_checked()  # the widget, opened by a fresh link


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_arabic_on_a_phone_right_to_left(widget, store, new_context, assert_accessible, screenshots,
                                         javascript: bool) -> None:
    subscriber = store.create_subscriber("voyago", preferences=Preferences(subscriptions={("deals", "sms"): OPTED_IN}))
    page = new_context(locale="ar", viewport={"width": 375, "height": 812}, java_script_enabled=javascript).new_page()
    page.goto(unsubscribe_link(widget, "voyago", subscriber))  # everything
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator(".unsubscribe-target")).to_have_text(widget.text("ar", "All our messages, on every channel"))
    text = page.locator("body").inner_text()
    assert "Unsubscribe" not in text and "preferences" not in text
    if javascript:  # axe and the layout probe run scripts in the page
        assert_accessible(page, "the Arabic confirm page")
        assert layout_problems(page) == []
    # Mirrored: the first action button starts on the right.
    confirm, manage = page.locator("#confirm").bounding_box(), page.locator(".actions a").bounding_box()
    assert confirm["y"] < manage["y"] or confirm["x"] > manage["x"]
    page.screenshot(path=str(screenshots / f"unsubscribe-ar-375-{'js' if javascript else 'nojs'}.png"),
                    full_page=True)

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.locator("#confirm").click()
    assert posted.value.status == 303
    expect(page.locator("h1")).to_have_text(widget.text("ar", "You are unsubscribed"))
    assert store.get("voyago", subscriber).preferences.suppressed
    if javascript:
        assert_accessible(page, "the Arabic done page")
        assert layout_problems(page) == []


def test_the_page_works_framed_by_another_site(widget, store, new_context, assert_accessible) -> None:
    """Embedded like the widget: framed by the host site (another site), confirmed inside the frame."""
    subscriber = store.create_subscriber(
        "maison-lumiere", preferences=Preferences(subscriptions={("loyalty", "push"): OPTED_IN}))
    link = unsubscribe_link(widget, "maison-lumiere", subscriber, tp="loyalty", ch="push", l="en")
    widget.host.links["maison-lumiere"] = f"{link}&{urlencode({'embed_origin': widget.host.url})}"
    page = new_context().new_page()
    page.goto(widget.host.page_url("maison-lumiere"))
    frame = page.frame_locator("#widget")
    expect(frame.locator("h1")).to_have_text("Unsubscribe")
    frame.locator("#confirm").click()
    expect(frame.locator("h1")).to_have_text("You are unsubscribed")
    assert store.get("maison-lumiere", subscriber).preferences.state("loyalty", "push") == OPTED_OUT
    assert_accessible(page.frame(name="widget"), "the done page in a frame")
