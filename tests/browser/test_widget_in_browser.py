"""The widget in a real browser: framed by another site, without JavaScript, on a phone,
by keyboard only, and checked by axe-core against WCAG 2.2 AA.

Every test runs the real app under uvicorn on 127.0.0.1 (see ``conftest.py``); the host
site that frames it is on ``localhost``, another site.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from playwright.sync_api import Page, Response, expect

from widget_server.preferences import OPTED_IN, Preferences
from widget_server.regions import needs_confirmation

pytestmark = pytest.mark.browser

CENTER = "maison-lumiere"  # French first: its pages are in French unless asked otherwise
FRENCH_VISITOR = {"locale": "fr-FR"}

SAVED = "Your choices are saved."
CONFLICT_TITLE = "Nothing was saved"
SUPPRESSED = "You are unsubscribed from all our marketing messages."

# Sets a cookie only a third-party context may refuse: SameSite=None is the one kind a
# cross-site frame may set at all, and Secure is allowed on http://127.0.0.1.
COOKIE_PROBE = """() => {
  const name = "probe_" + Math.random().toString(36).slice(2);
  document.cookie = name + "=1; SameSite=None; Secure; Path=/";
  return document.cookie.includes(name + "=1");
}"""

CHECKED_BOXES = """form => [...form.querySelectorAll("input[type=checkbox]:checked")]
  .map(box => box.name === "i" ? "i=" + box.value : box.name)"""

# Controls and their targets. A label around a control is part of its target (clicking
# it operates the control), so a checkbox is measured by its label (WCAG 2.5.8).
SMALL_TARGETS = """() => {
  const selector = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])";
  const small = [];
  for (const control of document.querySelectorAll(selector)) {
    const style = getComputedStyle(control);
    if (style.display === "none" || style.visibility === "hidden") continue;
    const box = (control.closest("label") || control).getBoundingClientRect();
    if (box.width < 24 || box.height < 24) {
      small.push(control.outerHTML.slice(0, 90) + " is " + box.width.toFixed(1) + "x" + box.height.toFixed(1));
    }
  }
  return small;
}"""


def layout_problems(scope) -> list[str]:
    """Sideways scrolling and targets under 24x24 CSS px, in words."""
    inner, scroll = scope.evaluate("() => [window.innerWidth, document.documentElement.scrollWidth]")
    problems = [f"scrolls sideways: {scroll}px of content in a {inner}px window"] if scroll > inner else []
    return problems + [f"target under 24x24 CSS px: {small}" for small in scope.evaluate(SMALL_TARGETS)]


def is_post(response: Response) -> bool:
    return response.request.method == "POST"


def checked_boxes(scope) -> set[str]:
    """Names of the ticked boxes (``i=<id>`` for interests), as the page shows them."""
    return set(scope.locator("#preferences").evaluate(CHECKED_BOXES))


def save(page: Page, scope=None, button: str = "#save") -> Response:
    """Click a submit button of the form (in ``scope``, a frame, if given); the POST's response."""
    with page.expect_response(is_post) as posted:
        (scope or page).locator(button).click()
    return posted.value


@pytest.fixture
def subscriber(store) -> str:
    """A maison-lumiere subscriber who never chose anything: no event yet."""
    subscriber_id = store.create_subscriber(CENTER, email="camille@example.org")
    assert store.events(subscriber_id) == []
    return subscriber_id


# 1 -------------------------------------------------------------------------------------

def test_a_cross_site_frame_saves_with_third_party_cookies_blocked(widget, store, subscriber,
                                                                  third_party_cookies_blocked) -> None:
    host_url = widget.embed(CENTER, subscriber)
    assert urlparse(host_url).hostname == "localhost" and urlparse(widget.url).hostname == "127.0.0.1"
    page = third_party_cookies_blocked.new_page()
    page.goto(host_url)
    frame = page.frame(name="widget")
    assert frame is not None and frame.url.startswith(widget.url)
    # The frame really is third-party and really has no cookies.
    assert frame.evaluate(COOKIE_PROBE) is False, "third-party cookies are not blocked"
    assert frame.evaluate("document.hasStorageAccess()") is False

    form = page.frame_locator("#widget")
    form.locator('[name="s.offers.email"]').check()
    form.locator('[name="s.inspirations.post"]').check()
    form.locator('[name="f.offers"]').select_option("monthly")
    form.locator('[name="i"][value="lighting"]').check()
    form.locator('[name="i"][value="linen"]').check()
    posted = save(page, form)
    assert posted.status == 200 and posted.request.headers.get("hx-request") == "true"
    expect(form.locator("#messages [role=status]")).to_have_text(widget.text("fr", SAVED))

    page.reload()
    form = page.frame_locator("#widget")
    assert checked_boxes(form) == {"s.offers.email", "s.inspirations.post", "i=lighting", "i=linen"}
    expect(form.locator('[name="f.offers"]')).to_have_value("monthly")

    prefs = store.get(CENTER, subscriber).preferences
    # Maison Lumière confirms e-mail opt-ins (double opt-in): ticked, and waiting for the mailed link.
    assert prefs.state("offers", "email") == "pending" and prefs.opted_in("inspirations", "post")
    assert prefs.frequencies == {"offers": "monthly"}
    assert prefs.interests == {"lighting", "linen"}
    events = store.events(subscriber)
    assert len(events) == 1 and events[0]["source"] == "web" and events[0]["actor"] == "subject"
    chain = store.verify_chain(subscriber)
    assert chain.intact and chain.events == 1

    # Control: the same probe succeeds first-party, so it is the framing that blocks it.
    top = third_party_cookies_blocked.new_page()
    top.goto(widget.link(CENTER, subscriber))
    assert top.evaluate(COOKIE_PROBE) is True


# 2 -------------------------------------------------------------------------------------

def test_without_javascript_the_form_posts_and_redirects(widget, store, subscriber, new_context) -> None:
    page = new_context(java_script_enabled=False, **FRENCH_VISITOR).new_page()
    link = widget.link(CENTER, subscriber)
    page.goto(link)
    page.locator('[name="s.offers.sms"]').check()
    page.locator('[name="f.offers"]').select_option("realtime")
    page.locator('[name="i"][value="garden"]').check()
    posted = save(page)
    assert posted.status == 303 and "hx-request" not in posted.request.headers
    page.wait_for_url(re.compile(r"[?&]saved=1"))
    expect(page.locator("#messages [role=status]")).to_have_text(widget.text("fr", SAVED))

    page.goto(link)
    assert checked_boxes(page) == {"s.offers.sms", "i=garden"}
    expect(page.locator('[name="f.offers"]')).to_have_value("realtime")
    assert len(store.events(subscriber)) == 1

    # The same, framed by the host site.
    page.goto(widget.embed(CENTER, subscriber))
    form = page.frame_locator("#widget")
    form.locator('[name="s.loyalty.push"]').check()
    posted = save(page, form)
    assert posted.status == 303, f"a plain POST from the frame got {posted.status}"
    expect(form.locator("#messages [role=status]")).to_have_text(widget.text("fr", SAVED))
    assert checked_boxes(form) == {"s.offers.sms", "s.loyalty.push", "i=garden"}

    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.opted_in("offers", "sms") and prefs.opted_in("loyalty", "push")
    assert prefs.frequencies == {"offers": "realtime"} and prefs.interests == {"garden"}
    chain = store.verify_chain(subscriber)
    assert chain.intact and chain.events == 2


# 3 -------------------------------------------------------------------------------------

def test_unsubscribe_from_everything_is_one_click(widget, store, new_context) -> None:
    subscriber = store.create_subscriber(CENTER, email="camille@example.org", preferences=Preferences(
        subscriptions={("offers", "email"): OPTED_IN, ("offers", "sms"): OPTED_IN, ("loyalty", "push"): OPTED_IN},
        interests=frozenset({"lighting"}),
    ))
    page = new_context(**FRENCH_VISITOR).new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.goto(widget.link(CENTER, subscriber))
    switchable = page.locator('#preferences input[type=checkbox][name^="s."]')
    assert switchable.count() == 8 and len(checked_boxes(page)) == 4

    posted = save(page, button="#unsubscribe-all")
    assert posted.status == 200
    expect(page.locator("#preferences .notice")).to_contain_text(widget.text("fr", SUPPRESSED))
    assert [box.is_checked() for box in switchable.all()] == [False] * 8
    assert dialogs == [] and len(posts) == 1

    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.suppressed and not any(state == OPTED_IN for state in prefs.subscriptions.values())
    assert store.verify_chain(subscriber).intact and len(store.events(subscriber)) == 2


# 4 -------------------------------------------------------------------------------------

def test_a_stale_form_shows_the_conflict_and_the_fresh_state(widget, store, subscriber, new_context) -> None:
    context = new_context(**FRENCH_VISITOR)
    first, second = context.new_page(), context.new_page()
    link = widget.link(CENTER, subscriber)
    first.goto(link)
    second.goto(link)

    first.locator('[name="s.offers.email"]').check()
    assert save(first).status == 200
    expect(first.locator("#messages [role=status]")).to_have_text(widget.text("fr", SAVED))

    second.locator('[name="s.inspirations.post"]').check()
    assert save(second).status == 409
    alert = second.locator("#messages [role=alert]")
    expect(alert).to_contain_text(widget.text("fr", CONFLICT_TITLE))
    expect(alert).to_be_focused()
    assert second.evaluate("document.activeElement.getAttribute('role')") == "alert"
    assert checked_boxes(second) == {"s.offers.email"}  # the fresh state, not the stale choice

    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("offers", "email") == "pending" and not prefs.opted_in("inspirations", "post")
    assert len(store.events(subscriber)) == 1 and store.verify_chain(subscriber).intact


# 5 -------------------------------------------------------------------------------------

@pytest.mark.parametrize("width, height", [(320, 640), (375, 812)])
def test_on_a_phone_nothing_scrolls_sideways_and_targets_are_big_enough(
    widget, subscriber, new_context, screenshots, width, height
) -> None:
    context = new_context(viewport={"width": width, "height": height}, device_scale_factor=2,
                          is_mobile=True, has_touch=True, **FRENCH_VISITOR)
    page = context.new_page()
    page.goto(widget.link(CENTER, subscriber))
    page.locator('[name="s.offers.email"]').check()
    save(page)
    expect(page.locator("#messages [role=status]")).to_be_visible()  # the page at its longest
    page.screenshot(path=screenshots / f"widget-phone-{width}.png", full_page=True)
    assert page.evaluate("window.innerWidth") == width
    problems = layout_problems(page)

    page.goto(widget.embed(CENTER, subscriber))  # framed by the host site, on the same phone
    problems += [f"in the frame, {problem}" for problem in layout_problems(page.frame(name="widget"))]
    assert not problems, "\n".join(problems)


def test_on_a_desktop(widget, subscriber, new_context, screenshots) -> None:
    page = new_context(viewport={"width": 1280, "height": 900}, **FRENCH_VISITOR).new_page()
    page.goto(widget.link(CENTER, subscriber))
    page.screenshot(path=screenshots / "widget-desktop-1280.png", full_page=True)
    problems = layout_problems(page)
    assert not problems, "\n".join(problems)


# 6 -------------------------------------------------------------------------------------

def test_an_expired_link_explains_and_offers_a_new_one(widget, subscriber, clock, new_context) -> None:
    link = widget.link(CENTER, subscriber)
    clock.advance(days=200)  # the manage lifetime is 180 days
    page = new_context(**FRENCH_VISITOR).new_page()
    response = page.goto(link)
    assert response.status == 401
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_be_visible()
    expect(heading).to_have_text(widget.text("fr", "This link has expired"))
    button = page.get_by_role("button", name=widget.text("fr", "Send me a new link"))
    expect(button).to_be_visible()
    assert "Traceback" not in page.content()

    # The expired link still says who this is: one click, nothing to type.
    with page.expect_response(is_post) as sent:
        button.click()
    assert sent.value.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text(widget.text("fr", "Check your inbox"))


def test_a_tampered_link_is_refused_with_a_friendly_page(widget, subscriber, new_context) -> None:
    link = widget.link(CENTER, subscriber)
    token = parse_qs(urlparse(link).query)["t"][0]
    payload, timestamp, signature = token.rsplit(".", 2)
    middle = len(signature) // 2
    forged = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1:]
    tampered = f"{widget.url}/c/{CENTER}/preferences?" + urlencode({"t": f"{payload}.{timestamp}.{forged}"})

    page = new_context(**FRENCH_VISITOR).new_page()
    response = page.goto(tampered)
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text(widget.text("fr", "This link does not work"))
    expect(page.get_by_role("button", name=widget.text("fr", "Send me a new link"))).to_be_visible()
    assert "Traceback" not in page.content()


# 7 -------------------------------------------------------------------------------------

LANGUAGES = [
    pytest.param("maison-lumiere", "fr", {}, FRENCH_VISITOR, id="fr"),
    pytest.param("maison-lumiere", "en", {"lang": "en"}, {}, id="en"),
    pytest.param("voyago", "de", {"lang": "de"}, {}, id="de"),
]


@pytest.mark.parametrize("center, language, query, visitor", LANGUAGES)
def test_no_wcag_22_aa_violations(widget, store, clock, new_context, assert_accessible,
                                  center, language, query, visitor) -> None:
    subscriber = store.create_subscriber(center, email="camille@example.org")
    link = widget.link(center, subscriber, **query)
    context = new_context(**visitor)
    page, stale = context.new_page(), context.new_page()
    page.goto(link)
    stale.goto(link)
    assert page.locator("html").get_attribute("lang") == language
    assert_accessible(page, f"the widget page ({language})")

    framed = context.new_page()
    framed.goto(widget.embed(center, subscriber, **query))
    assert_accessible(framed.frame(name="widget"), f"the widget in the host page's frame ({language})")

    boxes = '#preferences input[type=checkbox][name^="s."]'
    page.locator(boxes).nth(0).check()
    save(page)
    expect(page.locator("#messages [role=status]")).to_be_visible()
    assert_accessible(page, f"after a save ({language})")

    stale.locator(boxes).nth(1).check()
    assert save(stale).status == 409
    expect(stale.locator("#messages [role=alert]")).to_be_visible()
    assert_accessible(stale, f"after a conflict ({language})")

    clock.advance(days=200)
    assert page.goto(link).status == 401
    assert_accessible(page, f"the expired-link page ({language})")


# 8 -------------------------------------------------------------------------------------

# The outline styles of a focused control and of the label around it, if any.
FOCUS_OUTLINES = (
    "control => [control, control.closest('label')].filter(Boolean)"
    ".map(el => getComputedStyle(el).outlineStyle)"
)


def test_keyboard_only_tick_and_save(widget, store, subscriber, new_context) -> None:
    page = new_context(**FRENCH_VISITOR).new_page()
    page.goto(widget.link(CENTER, subscriber))
    first_box = page.locator("#preferences input[type=checkbox]").first
    save_button = page.locator("#save")

    def tab_to(target, limit: int) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if target.evaluate("element => element === document.activeElement"):
                return
        pytest.fail(f"{limit} presses of Tab never reached {target}")

    tab_to(first_box, 10)
    styles = first_box.evaluate(FOCUS_OUTLINES)
    assert any(style != "none" for style in styles), f"no visible focus on the checkbox: {styles}"
    name = first_box.get_attribute("name")
    page.keyboard.press("Space")
    expect(first_box).to_be_checked()

    tab_to(save_button, 40)
    styles = save_button.evaluate(FOCUS_OUTLINES)
    assert styles[0] != "none", f"no visible focus on the Save button: {styles}"
    page.keyboard.press("Enter")
    expect(page.locator("#messages [role=status]")).to_have_text(widget.text("fr", SAVED))
    topic, channel = name.split(".")[1:]
    # Opted in, or waiting for its confirmation where the center asks one (e-mail, here).
    expected = "pending" if needs_confirmation(widget.app.state.centers[CENTER], None, topic, channel) else "opted_in"
    assert store.get(CENTER, subscriber).preferences.state(topic, channel) == expected
    assert len(store.events(subscriber)) == 1


# The status message speaks the page's language too ----------------------------------------

@pytest.mark.parametrize("center, language, query, visitor", [
    pytest.param("maison-lumiere", "fr", {}, FRENCH_VISITOR, id="fr"),
    pytest.param("voyago", "de", {"lang": "de"}, {}, id="de"),
])
def test_the_saved_message_speaks_the_page_language(widget, store, new_context, center, language, query,
                                                    visitor) -> None:
    subscriber = store.create_subscriber(center, email="camille@example.org")
    page = new_context(**visitor).new_page()
    page.goto(widget.link(center, subscriber, **query))
    page.locator('#preferences input[type=checkbox][name^="s."]').first.check()
    save(page)
    status = page.locator("#messages [role=status]")
    expect(status).to_be_visible()
    assert status.inner_text() != SAVED, f"the {language} page says its status in English"
