"""The kiosk in a real browser (Debian's Chromium): a customer's whole visit by e-mail code
(read from a real SMTP server), by SMS code (read from the gateway's endpoint), by staff
attestation with the tablet's staff PIN (a wrong one refused); "I'm done" and the idle
reset leaving nothing of them in the DOM, the history or the back button; three wrong
codes; a kiosk no longer set up; axe-core on every screen, right to left too; and the
whole visit by keyboard alone.

The app runs on a real uvicorn on 127.0.0.1 with the real SMTP mailer and the real
HTTP SMS sender, so what the customer receives is what a customer would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect
from preference_sdk import new_webhook_secret, verify_webhook

from tests import helpers
from tests.helpers import Receiver, serve_app, start_smtp, wait_for
from widget_server.preferences import OPTED_IN, Preferences
from widget_server.store import contacts, devices
from widget_server.store.tables import kiosk_sessions

pytestmark = pytest.mark.browser

CENTER = "maison-lumiere"
ADDRESS = "camille@example.org"
PHONE = "+33612345678"

# Controls under the kiosk's own floor: 44x44 CSS px (a label around a control is its target).
SMALL_TARGETS = """() => {
  const selector = "a[href], button, input:not([type=hidden]), select, textarea";
  const small = [];
  for (const control of document.querySelectorAll(selector)) {
    if (!control.checkVisibility()) continue;
    const box = (control.closest("label") || control).getBoundingClientRect();
    if (box.width < 44 || box.height < 44) {
      small.push(control.outerHTML.slice(0, 80) + " is " + box.width.toFixed(1) + "x" + box.height.toFixed(1));
    }
  }
  return small;
}"""

# What of a customer could be left in the page: every field's value, and the text.
PAGE_STATE = """() => [document.documentElement.outerHTML,
  ...[...document.querySelectorAll("input, select, textarea")].map(el => el.value)].join("\\n")"""


class Inbox(helpers.Inbox):
    """The customer's mailbox: the one-time codes mailed to them."""

    def code(self, count: int) -> str:
        """The code in the ``count``-th message, once it has arrived."""
        wait_for(lambda: len(self.messages) >= count)
        return re.search(r"^(\d{6})\r?$", self.messages[count - 1].get_body(("plain",)).get_content(), re.M).group(1)

@dataclass
class Shop:
    """The kiosk server of one test, its tablet, and where the customer's codes arrive."""

    url: str
    app: object
    store: object
    inbox: Inbox
    gateway: Receiver
    gateway_secret: str
    device: object
    pin: str  # the tablet's staff PIN, as provisioning showed it
    clock: object
    tablets: dict = field(default_factory=dict)

    def link(self, center: str = CENTER, **query: str) -> str:
        device = self.tablet(center)
        token = self.app.state.signer.mint("kiosk", center, device.id, lc=device.location)
        return f"{self.url}/c/{center}/kiosk?" + urlencode({"t": token, **query})

    def tablet(self, center: str = CENTER):
        """The tablet of ``center`` (maison-lumiere's is ``device``; another's is made once)."""
        if center == CENTER:
            return self.device
        if center not in self.tablets:
            with self.store.writing() as connection:
                self.tablets[center] = devices.provision(connection, self.store.lookup_key, center, "roma-centro",
                                                         "Tablet", self.clock())[0]
        return self.tablets[center]

    def sms_code(self, count: int) -> str:
        wait_for(lambda: len(self.gateway.received) >= count)
        headers, body = self.gateway.received[count - 1]
        text = verify_webhook(headers, body, self.gateway_secret)["text"]
        return re.search(r"\b(\d{6})\b", text).group(1)

    def text(self, locale: str, message: str) -> str:
        return self.app.state.translator.gettext(locale, message)

    def sessions(self) -> list:
        with self.store.engine.connect() as connection:
            return connection.execute(kiosk_sessions.select()).all()


@pytest.fixture
def shop(app_factory, store, clock):
    inbox = Inbox()
    smtp = start_smtp(inbox)
    gateway, secret = Receiver(), new_webhook_secret()
    options = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "mail_from": "prefs@maison.example",
               "sms_url": gateway.url, "sms_secret": secret}
    server = serve_app(lambda port: app_factory(port=port, options=options))
    with store.writing() as connection:
        device, pin = devices.provision(connection, store.lookup_key, CENTER, "paris-opera", "Tablet 1", clock())
    yield Shop(server.url, server.app, store, inbox, gateway, secret, device, pin, clock)
    server.stop()
    gateway.stop()
    smtp.stop()


@pytest.fixture
def camille(store) -> str:
    subscriber = store.create_subscriber(
        CENTER, email=ADDRESS, preferences=Preferences(subscriptions={("offers", "email"): OPTED_IN}))
    with store.writing() as connection:
        contacts.add(connection, store.lookup_key, CENTER, subscriber, "phone", PHONE)
    return subscriber


@pytest.fixture
def tablet(new_context) -> Page:
    """A tablet's browser: a touch screen in landscape, in English."""
    return new_context(locale="en-GB", viewport={"width": 1024, "height": 768}, has_touch=True).new_page()


def identify_by_email(page: Page, address: str = ADDRESS) -> None:
    page.get_by_label("Your e-mail address").fill(address)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Type your code")


def type_code(page: Page, code: str) -> None:
    page.locator("#kiosk-code").fill(code)
    page.get_by_role("button", name="Check the code").click()


def attest(page: Page, pin: str, staff: str = "S-1042", *, opens: bool = True) -> None:
    """The staff's way: the customer's address, the staff id, the tablet's PIN, the tick."""
    page.get_by_label("Your e-mail address").fill(ADDRESS)
    page.get_by_text("A member of staff checks my identity").click()
    page.get_by_label("Staff id (optional)").fill(staff)
    page.get_by_label("Staff PIN").fill(pin)
    tick = page.locator('[name="checked"]')
    if not tick.is_checked():
        page.get_by_text("I have checked this customer's identity in person").click()
    page.get_by_role("button", name="Continue").click()
    if opens:
        expect(page.locator("#preferences")).to_be_visible()


def assert_nothing_of(page: Page, *traces: str) -> None:
    """Nothing of the customer in the page: not in its HTML, not in any field."""
    expect(page.locator("#identify")).to_be_visible()
    state = page.evaluate(PAGE_STATE)
    for trace in traces:
        assert trace not in state, f"{trace!r} is still in the page"
    assert 'name="session"' not in state and "ks_" not in state


def assert_big_targets(page: Page, where: str) -> None:
    small = page.evaluate(SMALL_TARGETS)
    assert not small, f"{where}: touch targets under 44px: {small}"


# -- a whole visit -------------------------------------------------------------------------------------------


def test_a_visit_by_e_mail_code_ends_with_nothing_of_the_customer_left(shop, store, camille, tablet) -> None:
    page = tablet
    page.goto(shop.link())
    start = page.evaluate("history.length")
    identify_by_email(page)
    expect(page.locator(".intro")).to_contain_text("c…e@example.org")
    code = shop.inbox.code(1)
    assert shop.inbox.messages[0]["To"] == ADDRESS
    type_code(page, code)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your choices")
    expect(page.locator('[name="s.offers.email"]')).to_be_checked()
    page.locator('[name="s.offers.sms"]').check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your choices are saved.")
    assert store.get(CENTER, camille).preferences.opted_in("offers", "sms")
    session = shop.sessions()[0].id
    assert page.url == shop.link()  # the address never changed

    with page.expect_navigation():
        page.get_by_role("button", name="I'm done").click()
    assert_nothing_of(page, ADDRESS, "c…e@example.org", code, session)
    assert page.evaluate("history.length") == start  # replaced, never pushed
    (row,) = shop.sessions()
    assert row.status == "ended" and row.contact is None

    page.go_back()  # before the kiosk: the tablet's blank start page, nothing of the customer
    assert ADDRESS not in page.content() and session not in page.content()
    page.go_forward()  # the kiosk again: a fresh welcome screen, loaded anew
    assert_nothing_of(page, ADDRESS, "c…e@example.org", code, session)


def test_the_idle_reset_counts_down_then_leaves_nothing(shop, store, camille, tablet) -> None:
    page = tablet
    page.clock.install()
    page.goto(shop.link())
    start = page.evaluate("history.length")
    attest(page, shop.pin)
    session = shop.sessions()[0].id
    countdown = page.locator("#kiosk-idle")
    expect(countdown).to_be_hidden()
    page.clock.fast_forward(49_000)
    page.clock.run_for(1_000)  # 50 s idle of 60: the last ten are counted down
    expect(countdown).to_be_visible()
    expect(page.locator("#kiosk-idle-seconds")).to_have_text("10")
    expect(page.get_by_role("button", name="I'm still here")).to_be_focused()
    page.clock.run_for(3_000)
    expect(page.locator("#kiosk-idle-seconds")).to_have_text("7")
    page.get_by_role("button", name="I'm still here").click()
    expect(countdown).to_be_hidden()
    expect(page.locator("#preferences")).to_be_visible()  # still the customer's screen

    page.clock.fast_forward(50_000)
    page.clock.run_for(1_000)
    expect(countdown).to_be_visible()
    with page.expect_navigation():
        page.clock.run_for(11_000)
    assert_nothing_of(page, ADDRESS, session, "S-1042", shop.pin)
    assert page.evaluate("history.length") == start
    wait_for(lambda: shop.sessions()[0].status == "ended")
    assert shop.sessions()[0].contact is None


def test_an_untouched_welcome_screen_never_resets(shop, tablet) -> None:
    page = tablet
    page.clock.install()
    page.goto(shop.link())
    page.clock.run_for(120_000)
    expect(page.locator("#kiosk-idle")).to_be_hidden()
    page.get_by_label("Your e-mail address").fill("half-typed@example")
    page.clock.run_for(61_000)  # typing started the timer: the half-typed address goes too
    expect(page.locator("#identify")).to_be_visible()
    assert "half-typed" not in page.evaluate(PAGE_STATE)


def test_a_phone_identification_with_the_code_from_the_gateway(shop, store, camille, tablet) -> None:
    page = tablet
    page.goto(shop.link())
    page.get_by_text("Phone number", exact=True).click()
    expect(page.get_by_label("Your e-mail address")).to_be_hidden()
    page.get_by_label("Your mobile phone number").fill("06 12 34 56 78")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".intro")).to_contain_text("+33•••••••78")
    type_code(page, shop.sms_code(1))
    page.locator('[name="s.offers.push"]').check()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your choices are saved.")
    event = store.last_event(camille)
    assert event["evidence"]["channel"] == "sms" and event["source"] == "kiosk"
    assert event["evidence"]["device"] == shop.device.id


def test_a_staff_attestation(shop, store, camille, tablet, assert_accessible) -> None:
    page = tablet
    page.goto(shop.link())
    expect(page.get_by_label("Staff PIN")).to_have_attribute("type", "password")
    wrong = f"{(int(shop.pin) + 1) % 10**8:08d}"
    attest(page, wrong, "S-1042", opens=False)  # a wrong PIN: refused in place, nothing of the customer shown
    expect(page.locator("#messages [role=alert]")).to_contain_text("Please check the staff PIN")
    expect(page.locator("#preferences")).to_have_count(0)
    assert_accessible(page, "a wrong staff PIN")
    assert [row.status for row in shop.sessions()] == ["refused"]
    attest(page, shop.pin, "S-1042")
    page.locator('[name="s.offers.email"]').uncheck()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your choices are saved.")
    event = store.last_event(camille)
    assert event["actor"] == "staff:S-1042"
    assert event["evidence"] == {"method": "staff_attestation", "staff": "S-1042", "device": shop.device.id,
                                 "location": "paris-opera"}
    assert shop.inbox.messages == []


def test_three_wrong_codes_lock_that_code(shop, store, camille, tablet) -> None:
    page = tablet
    page.goto(shop.link())
    identify_by_email(page)
    code = shop.inbox.code(1)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    alert = page.locator("#messages [role=alert]")
    type_code(page, wrong)
    expect(alert).to_contain_text("You can try 2 more times.")
    type_code(page, wrong)
    expect(alert).to_contain_text("You can try 1 more time.")
    type_code(page, wrong)
    expect(alert).to_contain_text("This code can no longer be used")
    type_code(page, code)  # the right one, too late
    expect(alert).to_contain_text("This code can no longer be used")
    expect(page.locator("#preferences")).to_have_count(0)
    assert shop.sessions()[0].status == "locked" and len(store.events(camille)) == 1


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_a_kiosk_no_longer_set_up_shows_the_clear_page(shop, store, clock, tablet, how) -> None:
    page = tablet
    link = shop.link(lang="en")  # the token the tablet was set up with
    page.goto(link)
    if how == "revoked":
        with store.writing() as connection:
            devices.revoke(connection, shop.device.id, clock())
    else:
        clock.advance(days=366)
    page.get_by_label("Your e-mail address").fill(ADDRESS)
    page.get_by_role("button", name="Continue").click()  # the screen already open: refused in place
    expect(page.locator("#messages [role=alert]")).to_contain_text("This kiosk is not set up")
    assert shop.inbox.messages == [] and shop.sessions() == []
    response = page.goto(link)
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("This kiosk is not set up")
    expect(page.locator("#identify")).to_have_count(0)


def test_choosing_a_language_adds_no_history_entry(shop, tablet) -> None:
    page = tablet
    page.goto(shop.link())
    start = page.evaluate("history.length")
    with page.expect_navigation():
        page.get_by_role("button", name="Français").click()
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.evaluate("history.length") == start


# -- accessible, and for a finger ------------------------------------------------------------------------------

SCREENS = [pytest.param(CENTER, "fr", "ltr", id="fr"), pytest.param("voyago", "ar", "rtl", id="ar-rtl")]


@pytest.mark.parametrize("center, language, direction", SCREENS)
def test_every_screen_is_accessible_and_big_enough(shop, store, tablet, assert_accessible,
                                                   center, language, direction) -> None:
    subscriber = store.create_subscriber(center, email=ADDRESS)
    page = tablet
    page.clock.install()
    page.goto(shop.link(center, lang=language))
    assert page.locator("html").get_attribute("dir") == direction
    for where in ("welcome", "welcome, staff fields"):
        assert_accessible(page, f"{where} ({language})")
        assert_big_targets(page, where)
        page.locator("#proof-staff").check()
    page.locator("#proof-code").check()

    page.locator("#kiosk-email").fill(ADDRESS)
    page.locator("#identify button[type=submit]").click()
    expect(page.locator("#kiosk-code")).to_be_focused()
    assert_accessible(page, f"the code ({language})")
    assert_big_targets(page, "the code")
    page.locator("#kiosk-code").fill("000000" if shop.inbox.code(1) != "000000" else "111111")
    page.locator(".kiosk-verify button[type=submit]").click()
    expect(page.locator("#messages [role=alert]")).to_be_visible()
    assert_accessible(page, f"a wrong code ({language})")

    page.locator("#kiosk-code").fill(shop.inbox.code(1))
    page.locator(".kiosk-verify button[type=submit]").click()
    expect(page.locator("#preferences")).to_be_visible()
    assert_accessible(page, f"the choices ({language})")
    assert_big_targets(page, "the choices")
    page.locator('#preferences input[type=checkbox][name^="s."]').first.check()
    page.locator("#save").click()
    expect(page.locator(".kiosk-done")).to_be_visible()
    expect(page.locator("#preferences")).to_have_count(0)
    assert_accessible(page, f"saved ({language})")
    assert_big_targets(page, "saved")
    assert len(store.events(subscriber)) == 1

    idle = 60 if center == CENTER else 90
    page.clock.fast_forward((idle - 11) * 1000)
    page.clock.run_for(1_000)
    expect(page.locator("#kiosk-idle")).to_be_visible()
    assert_accessible(page, f"the idle countdown ({language})")
    assert_big_targets(page, "the idle countdown")

    with store.writing() as connection:
        devices.revoke(connection, shop.tablet(center).id, shop.clock())
    assert page.goto(shop.link(center, lang=language)).status == 403
    assert_accessible(page, f"the kiosk not set up ({language})")


def test_a_whole_visit_by_keyboard_alone(shop, store, camille, tablet) -> None:
    page = tablet
    page.goto(shop.link())

    def tab_to(selector: str, limit: int = 40) -> None:
        target = page.locator(selector)
        for _ in range(limit):
            page.keyboard.press("Tab")
            if target.evaluate("element => element === document.activeElement"):
                outline = target.evaluate("el => getComputedStyle(el.closest('label') || el).outlineStyle "
                                          "+ getComputedStyle(el).outlineStyle")
                assert outline != "nonenone", f"no visible focus on {selector}"
                return
        pytest.fail(f"{limit} presses of Tab never reached {selector}")

    tab_to("#kiosk-email")
    page.keyboard.type(ADDRESS)
    page.keyboard.press("Enter")
    expect(page.locator("#kiosk-code")).to_be_focused()  # the code screen puts the keyboard in the field
    page.keyboard.type(shop.inbox.code(1))
    page.keyboard.press("Enter")
    expect(page.locator("#preferences")).to_be_visible()
    tab_to('[name="s.offers.sms"]')
    page.keyboard.press("Space")
    tab_to("#save")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your choices are saved.")
    assert store.get(CENTER, camille).preferences.opted_in("offers", "sms")
    tab_to(".kiosk-done button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert_nothing_of(page, ADDRESS)

    # The staff's way, by keyboard too: the arrow keys move within a radio group.
    tab_to("#kiosk-email")
    page.keyboard.type(ADDRESS)
    tab_to("#proof-code")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#proof-staff")).to_be_checked()
    tab_to("#kiosk-staff-id")
    page.keyboard.type("S-7")
    tab_to("#kiosk-staff-pin")
    page.keyboard.type(shop.pin)
    tab_to('[name="checked"]')
    page.keyboard.press("Space")
    tab_to("#identify button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#preferences")).to_be_visible()
    assert shop.sessions()[-1].staff_id == "S-7"
