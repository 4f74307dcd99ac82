"""Double opt-in in a real browser, with a real SMTP server (aiosmtpd): the widget's opt-in
shows it waits for a confirmation; the mail that arrives (parsed with the email package: text
and HTML parts, List-Unsubscribe, the person's language) carries a link that Chromium follows
to a page that confirms nothing until its button is pressed, by keyboard; in French, and in
Arabic right to left; axe-core finds no WCAG 2.2 AA violation on any of the pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.helpers import Inbox, serve_app, start_smtp
from widget_server import confirm_links
from widget_server.ledger import EventContext
from widget_server.preferences import OPTED_IN, PENDING, Basis, Preferences

from .test_unsubscribe_in_browser import tab_to
from .test_widget_in_browser import FOCUS_OUTLINES, layout_problems

pytestmark = pytest.mark.browser


@pytest.fixture
def mailing_server(app_factory, host_site):
    inbox = Inbox()
    smtp = start_smtp(inbox)
    options = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "mail_from": "prefs@maison.example"}
    server = serve_app(lambda port: app_factory(port=port, options=options))
    yield server, inbox
    server.stop()
    smtp.stop()


def text(server, locale: str, message: str) -> str:
    return server.app.state.translator.gettext(locale, message)


def test_the_mailed_link_opens_a_page_that_confirms_only_on_its_button(
        mailing_server, store, new_context, assert_accessible, screenshots) -> None:
    server, inbox = mailing_server
    subscriber = store.create_subscriber("maison-lumiere", email="camille@example.org", locale="fr")
    token = server.app.state.signer.mint("manage", "maison-lumiere", subscriber, l="fr")
    page = new_context(locale="fr-FR").new_page()
    page.goto(f"{server.url}/c/maison-lumiere/preferences?t={token}")
    page.locator('input[name="s.inspirations.email"]').check()
    page.locator("#save").click()
    notice = page.locator("#pending-notice")
    expect(notice).to_contain_text(text(server, "fr", "Check your inbox: please confirm by e-mail."))
    expect(notice).to_contain_text("Inspirations")
    assert_accessible(page, "the widget with its pending notice")
    assert store.get("maison-lumiere", subscriber).preferences.state("inspirations", "email") == PENDING

    [message] = inbox.wait(1)
    assert message["To"] == "camille@example.org" and message["Content-Language"] == "fr"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith(f"<{server.url}/c/maison-lumiere/unsubscribe?t=")
    plain, html = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
    assert text(server, "fr", "Hello,") in plain and '<html lang="fr" dir="ltr">' in html
    link = re.search(r"(http://\S+/confirm\?t=\S+)", plain).group(1)

    # The HTML part, as a mail client shows it: one real link, the button, accessible.
    mail_view = new_context(locale="fr-FR").new_page()
    mail_view.set_content(html)
    expect(mail_view.get_by_role("link", name=text(server, "fr", "Confirm my subscription"))).to_have_attribute(
        "href", link)
    assert_accessible(mail_view, "the confirmation mail's HTML part")

    page.goto(link)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("h1")).to_have_text(text(server, "fr", "Confirm your subscription"))
    expect(page.locator(".confirm-items")).to_contain_text("Inspirations")
    assert_accessible(page, "the French confirm page")
    assert layout_problems(page) == []
    page.screenshot(path=str(screenshots / "confirm-fr.png"), full_page=True)
    assert store.get("maison-lumiere", subscriber).preferences.state("inspirations", "email") == PENDING

    button = page.locator("#confirm")
    tab_to(page, button)
    assert button.evaluate(FOCUS_OUTLINES)[0] != "none", "no visible focus on the confirm button"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(text(server, "fr", "Thank you: your subscription is confirmed."))
    assert_accessible(page, "the French done page")
    assert store.get("maison-lumiere", subscriber).preferences.state("inspirations", "email") == OPTED_IN
    event = store.events(subscriber)[-1]
    assert event["source"] == "email_link" and event["evidence"]["method"] == "double_opt_in"

    with page.expect_navigation():  # the done page leads back to the widget, where nothing waits any more
        page.get_by_role("link", name=text(server, "fr", "Manage my preferences")).click()
    expect(page.locator("#preferences")).to_be_visible()
    expect(page.locator("#pending-notice")).to_have_count(0)

    page.goto(link)  # the same link again: used
    expect(page.locator("h1")).to_have_text(text(server, "fr", "This link has already been used"))
    assert_accessible(page, "the French used-link page")


def test_arabic_right_to_left_confirm_and_its_expired_page(widget, store, clock, new_context, assert_accessible,
                                                           screenshots) -> None:
    since = clock()
    subscriber = store.create_subscriber("voyago", email="layla@example.org", locale="ar")
    waiting = Preferences(subscriptions={("inspiration", "email"): PENDING},
                          bases={("inspiration", "email"): Basis("consent", since, since + timedelta(days=5))})
    store.save("voyago", subscriber, waiting, base_version=0, context=EventContext(source="web", actor="subject"))
    signer = widget.app.state.signer
    token, _ = confirm_links.mint(signer, "voyago", subscriber, confirm_links.OPT_IN, since + timedelta(days=5),
                                  locale="ar")
    page = new_context(locale="ar").new_page()
    page.goto(f"{widget.url}/c/voyago/confirm?t={token}")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    assert_accessible(page, "the Arabic confirm page")
    assert layout_problems(page) == []
    page.screenshot(path=str(screenshots / "confirm-ar.png"), full_page=True)
    button = page.locator("#confirm")
    tab_to(page, button)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert store.get("voyago", subscriber).preferences.state("inspiration", "email") == OPTED_IN
    assert_accessible(page, "the Arabic done page")

    late, _ = confirm_links.mint(signer, "voyago", subscriber, confirm_links.OPT_IN, since + timedelta(days=5),
                                 locale="ar")
    clock.advance(days=6)
    response = page.goto(f"{widget.url}/c/voyago/confirm?t={late}")
    assert response.status == 401
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text(widget.text("ar", "This link has expired"))
    assert_accessible(page, "the Arabic expired page")
    page.screenshot(path=str(screenshots / "confirm-ar-expired.png"), full_page=True)


def test_the_pending_notice_resends_the_mail_by_keyboard(mailing_server, store, new_context, assert_accessible) -> None:
    server, inbox = mailing_server
    subscriber = store.create_subscriber("maison-lumiere", email="camille@example.org")
    token = server.app.state.signer.mint("manage", "maison-lumiere", subscriber)
    page = new_context(locale="en-GB").new_page()
    page.goto(f"{server.url}/c/maison-lumiere/preferences?t={token}")
    page.locator('input[name="s.offers.email"]').check()
    page.locator("#save").click()
    again = page.get_by_role("link", name=text(server, "en", "Send me the confirmation e-mail again"))
    expect(again).to_be_visible()
    inbox.wait(1)
    tab_to(page, again, limit=40)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(text(server, "en", "Send the confirmation e-mail again"))
    assert_accessible(page, "the resend page")
    assert len(inbox.messages) == 1  # opening the page sends nothing
    button = page.locator("#resend")
    tab_to(page, button)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text(text(server, "en", "Check your inbox"))
    assert_accessible(page, "the resent page")
    assert len(inbox.wait(2)) == 2
    page.get_by_role("link", name=text(server, "en", "Back to your preferences")).click()
    expect(page.locator("#pending-notice")).to_be_visible()
