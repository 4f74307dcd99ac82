"""The call-center console in a real browser: an agent's whole call (search, change, the
script's confirmation, save), framed by the call-center screen on another site, refused
saves on screen, a stale form, no JavaScript, keyboard alone, and axe-core (WCAG 2.2 AA)
on every screen, right to left too.

Every test runs the real app under uvicorn on 127.0.0.1 (see ``conftest.py``); the host
site on ``localhost`` stands in for the call-center screen that frames the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, Response, expect

from widget_server.preferences import OPTED_IN, Preferences
from widget_server.store import contacts

pytestmark = pytest.mark.browser

CENTER = "maison-lumiere"  # French first; phone_region FR
EMAIL = "camille.durand@example.org"
PHONE = "+33612345678"
SCRIPT_VERSION = "2026-11-01"

FOUND = "Customer found"
SAVED = "Saved: the customer's choices are recorded."
NOT_CONFIRMED = "Read the script to the customer, tick that they agreed, then save again."
STALE = "review them with the customer again"


@dataclass
class Agents:
    """The console of one test's server, and how an agent opens it."""

    url: str
    app: object
    host: object

    def link(self, center: str = CENTER, agent: str = "a1", permissions: str = "change,view", **extra: str) -> str:
        token = self.app.state.signer.mint("agent", center, agent, n="Sam Agent", p=permissions, **extra)
        return f"{self.url}/c/{center}/agent?" + urlencode({"t": token})

    def framed(self, center: str = CENTER, **extra: str) -> str:
        """The call-center screen (the host site, another site) framing the console."""
        self.host.links[center] = self.link(center, **extra)
        return self.host.page_url(center)


@pytest.fixture
def agents(widget) -> Agents:
    return Agents(widget.url, widget.app, widget.host)


@pytest.fixture
def customer(store) -> str:
    """A maison-lumiere subscriber (French) with an e-mail address and a phone, offers by e-mail."""
    subscriber = store.create_subscriber(CENTER, email=EMAIL, locale="fr", preferences=Preferences(
        subscriptions={("offers", "email"): OPTED_IN}))
    with store.writing() as connection:
        contacts.add(connection, store.lookup_key, CENTER, subscriber, "phone", PHONE)
    return subscriber


def is_post(response: Response) -> bool:
    return response.request.method == "POST"


def post(page: Page, scope, selector: str) -> Response:
    """Click ``selector`` in ``scope`` (a page or a frame); the POST's response."""
    with page.expect_response(is_post) as posted:
        scope.locator(selector).click()
    return posted.value


def search(page: Page, scope, kind: str, value: str) -> Response:
    scope.locator(f"#search-{kind}").fill(value)
    return post(page, scope, f"#search-{kind}-go")


# 1 -------------------------------------------------------------------------------------

def test_an_agent_session_end_to_end_in_the_call_center_screen(agents, store, customer, new_context) -> None:
    page = new_context(locale="en-GB").new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url + " " + (request.post_data or "")))
    page.goto(agents.framed())
    frame = page.frame(name="widget")
    console = page.frame_locator("#widget")
    expect(console.locator("#search-title")).to_be_visible()
    expect(console.locator(".agent-name")).to_contain_text("Sam Agent")
    console_url = frame.url

    answer = search(page, console, "phone", "06 12 34 56 78")  # as the caller says it
    assert answer.status == 200 and answer.request.headers.get("hx-request") == "true"
    expect(console.locator("#customer-title")).to_have_text(FOUND)
    expect(console.locator(".searched")).to_contain_text(PHONE)
    assert EMAIL not in frame.content()  # the contact searched, no other
    expect(console.locator(".script-text")).to_have_attribute("lang", "fr")  # the customer's language
    expect(console.locator(".script-text")).to_contain_text("Pour confirmer")

    console.locator('[name="s.offers.sms"]').check()
    console.locator('[name="i"][value="lighting"]').check()
    console.locator("#agreed").check()
    saved = post(page, console, "#agent-save")
    assert saved.status == 200
    expect(console.locator("#messages [role=status]")).to_have_text(SAVED)
    expect(console.locator('[name="s.offers.sms"]')).to_be_checked()
    expect(console.locator("#agreed")).not_to_be_checked()  # the next change needs its own agreement
    expect(console.locator(".history tbody tr").first).to_contain_text("our service team")

    event = store.events(customer)[-1]
    assert event["source"] == "call_center" and event["actor"] == "agent:a1"
    assert event["evidence"] == {"method": "verbal_consent", "script_version": SCRIPT_VERSION, "script_locale": "fr"}
    prefs = store.get(CENTER, customer).preferences
    assert prefs.opted_in("offers", "sms") and prefs.interests == {"lighting"}

    post(page, console, "#new-search")
    expect(console.locator("#search-email")).to_be_visible()
    assert PHONE not in frame.content() and "Camille" not in frame.content()
    assert frame.url == console_url  # one document, no address with a contact in it
    assert not [r for r in requested if "?" in r.split(" ")[0] and ("6123" in r.split(" ")[0] or "%40" in r)]

    # The person's own view says who, in words: the service team, never the agent.
    person = new_context(locale="en-GB").new_page()
    token = agents.app.state.signer.mint("manage", CENTER, customer)
    person.goto(f"{agents.url}/c/{CENTER}/preferences?" + urlencode({"t": token, "lang": "en"}))
    expect(person.locator(".staff-change")).to_contain_text("Last changed by our service team on")
    assert "Sam Agent" not in person.content()


def test_the_agent_token_of_one_center_is_refused_on_another(agents, new_context) -> None:
    page = new_context(locale="en-GB").new_page()
    voyago = agents.link("voyago")
    response = page.goto(voyago.replace("/c/voyago/", f"/c/{CENTER}/"))
    assert response.status == 401
    expect(page.get_by_role("heading", level=1)).to_have_text("Please sign in again")
    assert page.goto(voyago).status == 200


# 2 -------------------------------------------------------------------------------------

def test_a_save_without_the_confirmation_is_refused_on_screen(agents, store, customer, new_context) -> None:
    page = new_context(locale="en-GB").new_page()
    page.goto(agents.link())
    search(page, page, "email", EMAIL)
    page.locator('[name="s.offers.sms"]').check()
    refused = post(page, page, "#agent-save")
    assert refused.status == 422
    alert = page.locator("#messages [role=alert]")
    expect(alert).to_contain_text(NOT_CONFIRMED)
    expect(alert).to_be_focused()
    expect(page.locator('[name="s.offers.sms"]')).to_be_checked()  # the agent's ticks are kept
    assert len(store.events(customer)) == 1 and not store.get(CENTER, customer).preferences.opted_in("offers", "sms")

    page.locator("#agreed").check()
    assert post(page, page, "#agent-save").status == 200
    assert store.get(CENTER, customer).preferences.opted_in("offers", "sms")


# 3 -------------------------------------------------------------------------------------

def test_a_stale_agent_form_gets_the_fresh_state(agents, widget, store, customer, new_context) -> None:
    page = new_context(locale="en-GB").new_page()
    page.goto(agents.link())
    search(page, page, "email", EMAIL)
    expect(page.locator("#customer-title")).to_have_text(FOUND)

    # Meanwhile the customer, on the website, takes the newsletter by post.
    person = new_context(locale="fr-FR").new_page()
    person.goto(widget.link(CENTER, customer))
    person.locator('[name="s.inspirations.post"]').check()
    assert post(person, person, "#save").status == 200

    page.locator('[name="s.offers.sms"]').check()
    page.locator("#agreed").check()
    refused = post(page, page, "#agent-save")
    assert refused.status == 409
    expect(page.locator("#messages [role=alert]")).to_contain_text(STALE)
    expect(page.locator('[name="s.inspirations.post"]')).to_be_checked()  # the fresh state...
    expect(page.locator('[name="s.offers.sms"]')).not_to_be_checked()  # ...not the stale choice
    expect(page.locator("#agreed")).not_to_be_checked()
    expect(page.locator(".history tbody tr").first).to_contain_text("the customer online")
    prefs = store.get(CENTER, customer).preferences
    assert prefs.opted_in("inspirations", "post") and not prefs.opted_in("offers", "sms")
    assert [e["source"] for e in store.events(customer)] == ["system", "web"]

    # Decided again with the customer: saved over the fresh state.
    page.locator('[name="s.offers.sms"]').check()
    page.locator("#agreed").check()
    assert post(page, page, "#agent-save").status == 200
    prefs = store.get(CENTER, customer).preferences
    assert prefs.opted_in("inspirations", "post") and prefs.opted_in("offers", "sms")


# 4 -------------------------------------------------------------------------------------

def test_without_javascript_every_screen_is_a_plain_form_post(agents, store, customer, new_context) -> None:
    page = new_context(java_script_enabled=False, locale="en-GB").new_page()
    page.goto(agents.link())
    found = search(page, page, "email", EMAIL)
    assert found.status == 200 and "hx-request" not in found.request.headers
    expect(page.locator("#customer-title")).to_have_text(FOUND)
    assert page.url.endswith(f"/c/{CENTER}/agent/search")  # the contact is in no address
    page.locator('[name="s.offers.push"]').check()
    page.locator("#agreed").check()
    assert post(page, page, "#agent-save").status == 200
    expect(page.locator("#messages [role=status]")).to_have_text(SAVED)
    assert store.get(CENTER, customer).preferences.opted_in("offers", "push")
    assert post(page, page, "#new-search").status == 200
    expect(page.locator("#search-email")).to_be_visible()


# 5 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("center, locale, email", [
    pytest.param(CENTER, "fr", EMAIL, id="fr"),
    pytest.param("voyago", "ar", "layla@example.org", id="ar-rtl"),
])
def test_no_wcag_22_aa_violations_on_the_console_screens(agents, store, customer, new_context, assert_accessible,
                                                         center, locale, email) -> None:
    if center != CENTER:
        store.create_subscriber(center, email=email, locale="ar", preferences=Preferences(
            subscriptions={("deals", "email"): OPTED_IN}))
    page = new_context(locale="en-GB").new_page()
    page.goto(agents.link(center, l=locale))
    html = page.locator("html")
    expect(html).to_have_attribute("lang", locale)
    expect(html).to_have_attribute("dir", "rtl" if locale == "ar" else "ltr")
    assert_accessible(page, f"the search ({locale})")

    assert search(page, page, "phone", "12").status == 422
    assert_accessible(page, f"a number that does not read ({locale})")
    assert search(page, page, "email", "nobody@example.org").status == 200
    expect(page.locator("#messages [role=alert]")).to_be_visible()
    assert_accessible(page, f"nobody found ({locale})")

    assert search(page, page, "email", email).status == 200
    expect(page.locator("#customer-title")).to_be_visible()
    assert_accessible(page, f"the customer panel ({locale})")
    page.locator(".topic input[type=checkbox]").first.check()
    assert post(page, page, "#agent-save").status == 422
    assert_accessible(page, f"a save without the confirmation ({locale})")
    page.locator("#agreed").check()
    assert post(page, page, "#agent-save").status == 200
    expect(page.locator("#messages [role=status]")).to_be_visible()
    assert_accessible(page, f"after a save, with its history ({locale})")

    viewer = new_context(locale="en-GB").new_page()
    viewer.goto(agents.link(center, permissions="view", l=locale))
    search(viewer, viewer, "email", email)
    expect(viewer.locator(".read-only-choices")).to_be_visible()
    assert_accessible(viewer, f"the read-only panel ({locale})")

    assert viewer.goto(f"{agents.url}/c/{center}/agent?t=expired").status == 401
    assert_accessible(viewer, f"the sign-in page ({locale})")


# 6 -------------------------------------------------------------------------------------

# The outline styles of a focused control and of the label around it, if any.
FOCUS_OUTLINES = (
    "control => [control, control.closest('label')].filter(Boolean)"
    ".map(el => getComputedStyle(el).outlineStyle)"
)


def test_the_whole_call_by_keyboard_alone(agents, store, customer, new_context) -> None:
    page = new_context(locale="en-GB").new_page()
    page.goto(agents.link())

    def focused(target) -> bool:
        return target.evaluate("element => element === document.activeElement")

    def tab_to(target, limit: int = 60) -> None:
        for _ in range(limit):
            if focused(target):
                break
            page.keyboard.press("Tab")
        else:
            pytest.fail(f"{limit} presses of Tab never reached {target}")
        styles = target.evaluate(FOCUS_OUTLINES)
        assert any(style != "none" for style in styles), f"no visible focus on {target}: {styles}"

    email = page.locator("#search-email")
    expect(email).to_be_focused()  # the console opens ready to type
    page.keyboard.type(EMAIL)
    with page.expect_response(is_post):
        page.keyboard.press("Enter")
    expect(page.locator("#customer-title")).to_be_focused()  # the new screen's start, not the page's

    sms = page.locator('[name="s.offers.sms"]')
    tab_to(sms)
    page.keyboard.press("Space")
    expect(sms).to_be_checked()
    agreed = page.locator("#agreed")
    tab_to(agreed)
    page.keyboard.press("Space")
    expect(agreed).to_be_checked()
    tab_to(page.locator("#agent-save"))
    with page.expect_response(is_post) as saved:
        page.keyboard.press("Enter")
    assert saved.value.status == 200
    expect(page.locator("#messages [role=status]")).to_have_text(SAVED)
    assert store.get(CENTER, customer).preferences.opted_in("offers", "sms")
    assert store.events(customer)[-1]["actor"] == "agent:a1"

    tab_to(page.locator("#new-search"))
    with page.expect_response(is_post):
        page.keyboard.press("Enter")
    expect(page.locator("#search-email")).to_be_focused()
