"""The script-tag loader (``/embed.js``) in a real browser, on the example host pages.

The widget runs on ``http://127.0.0.1:<port>``; the host site serving
``examples/hosts/`` runs on ``http://localhost:<port>``, another site (see
``conftest.py``). The loader frames the widget, sizes the frame to the widget's height,
and turns the widget's messages into ``preferences:*`` events on the host element.
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Frame, Page, Response, expect

from tests.helpers import serve
from widget_server.demo import host_app

pytestmark = pytest.mark.browser

CENTER = "maison-lumiere"
FRAME = "#prefs iframe"

# Runs in every document before its own scripts (Playwright init scripts bypass CSP):
# in the top page, records the preferences:* events reaching the document, and any CSP
# violation the page causes.
RECORDER = """if (window === window.top) {
  window.__events = [];
  window.__violations = [];
  for (const type of ["preferences:ready", "preferences:saved", "preferences:error", "preferences:resize"]) {
    document.addEventListener(type, (e) => __events.push({type: e.type, target: e.target.id || e.target.tagName,
                                                           detail: e.detail}));
  }
  document.addEventListener("securitypolicyviolation",
                            (e) => __violations.push(e.violatedDirective + " " + e.blockedURI));
}"""


@pytest.fixture
def subscriber(store) -> str:
    return store.create_subscriber(CENTER, email="camille@example.org")


def open_page(context, url: str) -> Page:
    page = context.new_page()
    page.add_init_script(RECORDER)
    page.goto(url)
    return page


def events(page: Page, type_: str) -> list[dict]:
    return page.evaluate("type => __events.filter(e => e.type === type)", type_)


def wait_for_event(page: Page, type_: str, count: int = 1, timeout: float = 30_000) -> dict:
    """The ``count``-th ``type_`` event the host page received (fails after ``timeout`` ms)."""
    try:
        page.wait_for_function("([type, n]) => __events.filter(e => e.type === type).length >= n",
                               arg=[type_, count], timeout=timeout)
    except PlaywrightError:
        seen = page.evaluate("__events.map(e => e.type)")
        pytest.fail(f"the host page got no {type_} (#{count}) within {timeout / 1000:.0f} s; it got {seen}")
    return events(page, type_)[count - 1]


def frame_of(page: Page, selector: str = FRAME) -> Frame:
    frame = page.locator(selector).element_handle().content_frame()
    assert frame is not None
    return frame


def frame_height(page: Page, selector: str = FRAME) -> float:
    return page.locator(selector).evaluate("f => f.getBoundingClientRect().height")


def settled_height(page: Page, selector: str = FRAME, quiet: float = 0.5, timeout: float = 20) -> float:
    """The frame's height once it has not changed for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last, since = frame_height(page, selector), time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(50)
        height = frame_height(page, selector)
        if height != last:
            last, since = height, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return height
    pytest.fail(f"the frame's height kept changing for {timeout} s (last {last}px)")


def inner_scroll(frame: Frame) -> int:
    """How many CSS px of the widget the frame hides (it would have to scroll them)."""
    return frame.evaluate("document.documentElement.scrollHeight - window.innerHeight")


def is_post(response: Response) -> bool:
    return response.request.method == "POST"


def luminance(css_colour: str) -> float:
    """WCAG relative luminance of an ``rgb(...)``/``rgba(...)`` computed colour."""
    red, green, blue = (int(v) / 255 for v in re.findall(r"\d+", css_colour)[:3])

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


# Adds a script tag, as a tag manager would, to the page at hand.
ADD_SCRIPT_TAG = """([src, attributes]) => {
  const target = document.body.appendChild(document.createElement("div"));
  target.id = "prefs";
  const script = document.createElement("script");
  for (const [name, value] of Object.entries(attributes)) script.setAttribute(name, value);
  script.src = src;
  document.body.appendChild(script);
}"""


def embed_on_host_site(page: Page, widget, subscriber: str, **data: str) -> None:
    """Open the host site's home page and add the loader's script tag with ``data-*``
    attributes (``data``, underscores for dashes) for ``#prefs``."""
    token = widget.app.state.signer.mint("manage", CENTER, subscriber)
    attributes = {"data-center": CENTER, "data-token": token, "data-target": "#prefs",
                  **{f"data-{name.replace('_', '-')}": value for name, value in data.items()}}
    page.goto(widget.host.url)
    page.evaluate(ADD_SCRIPT_TAG, [f"{widget.url}/embed.js", attributes])


# The loader and its frame ----------------------------------------------------------------

def test_the_script_tag_frames_the_widget_at_its_target(widget, subscriber, new_context) -> None:
    context = new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.add_init_script(RECORDER)
    with page.expect_response(lambda r: r.url == f"{widget.url}/embed.js") as loaded:
        page.goto(widget.example("account.html", {CENTER: subscriber}))
    script = loaded.value
    assert script.status == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "public, max-age=3600"
    assert script.headers["cross-origin-resource-policy"] == "cross-origin"

    frames = page.locator("#prefs > iframe")
    expect(frames).to_have_count(1)
    iframe = frames.first
    src = urlparse(iframe.get_attribute("src"))
    assert f"{src.scheme}://{src.netloc}" == widget.url and src.path == f"/c/{CENTER}/preferences"
    query = parse_qs(src.query)
    assert query["embed_origin"] == [widget.host.url] and query["lang"] == ["en"]
    assert query["t"] == [widget.host.tokens[CENTER]]
    assert iframe.get_attribute("title") == "Communication preferences"
    assert iframe.get_attribute("loading") == "lazy"
    assert iframe.get_attribute("allow") is None
    assert iframe.evaluate("f => [getComputedStyle(f).borderTopWidth, f.style.width]") == ["0px", "100%"]

    ready = wait_for_event(page, "preferences:ready")
    assert ready["target"] == "prefs", "preferences:ready must be dispatched on the host element"
    expect(page.locator("#prefs")).to_have_attribute("data-ready", "")  # account.js heard it too
    frame = frame_of(page)
    expect(frame.locator("#preferences")).to_be_visible()
    assert frame.evaluate("document.documentElement.lang") == "en"
    assert page.evaluate("__violations") == [], "the loader needs more than the documented host CSP"


def test_without_a_target_the_widget_follows_the_script_tag(widget, subscriber, new_context) -> None:
    page = open_page(new_context(), widget.example("retail-footer.html", {CENTER: subscriber}))
    iframe = page.locator("#newsletter script + div > iframe")
    iframe.scroll_into_view_if_needed()  # the frame is lazy: it loads near the viewport
    expect(iframe).to_have_count(1)
    assert iframe.get_attribute("title") == "Vos préférences de communication"  # data-title
    query = parse_qs(urlparse(iframe.get_attribute("src")).query)
    assert query["lang"] == ["fr"] and query["topics"] == ["offers,inspirations"]

    ready = wait_for_event(page, "preferences:ready")
    assert ready["target"] == "DIV"
    frame = frame_of(page, "#newsletter iframe")
    expect(frame.locator("#preferences")).to_be_visible()
    assert frame.locator('[name^="s.offers."]').count() == 3
    assert frame.locator('[name^="s.loyalty."]').count() == 0, "data-topics did not narrow the widget"


def test_the_javascript_api_mounts_a_widget_and_the_app_shell_relays_its_events(widget, store,
                                                                                new_context) -> None:
    subscriber = store.create_subscriber("voyago", email="camille@example.org")
    page = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    # The app's bridge, as react-native-webview installs it, in the shell page only.
    page.add_init_script("""if (window === window.top) {
      window.ReactNativeWebView = {postMessage: (json) => (window.__native ||= []).push(JSON.parse(json))};
    }""")
    page.add_init_script(RECORDER)
    page.goto(widget.example("app-webview.html", {"voyago": subscriber}, "locale=de&theme=dark&tz=Europe/Berlin"))
    query = parse_qs(urlparse(page.locator(FRAME).get_attribute("src")).query)
    assert query["lang"] == ["de"] and query["mode"] == ["dark"] and query["tz"] == ["Europe/Berlin"]
    assert page.locator(FRAME).get_attribute("title") == "Notification preferences"

    wait_for_event(page, "preferences:ready")
    page.wait_for_function("(window.__native || []).length > 0")
    assert page.evaluate("__native[0]") == {"source": "preference-center", "type": "preferences:ready", "detail": {}}

    # mount() returns the frame, and any element can host one.
    mounted = page.evaluate("""() => {
      const el = document.body.appendChild(document.createElement("section"));
      const frame = PreferenceCenter.mount(el, {center: "voyago", token: "x", locale: "es"});
      return [frame instanceof HTMLIFrameElement, frame.parentElement === el, frame.src];
    }""")
    assert mounted[:2] == [True, True]
    assert mounted[2].startswith(f"{widget.url}/c/voyago/preferences?") and "lang=es" in mounted[2]


def test_every_data_attribute_reaches_the_widget_url(widget, subscriber, new_context) -> None:
    page = new_context().new_page()
    embed_on_host_site(page, widget, subscriber, locale="en", topics="offers, loyalty", theme="light",
                       primary="#1d4e89", radius="12px", tz="Europe/Paris", title="Prefs")
    iframe = page.locator(FRAME)
    query = parse_qs(urlparse(iframe.get_attribute("src")).query)
    assert {key: values[0] for key, values in query.items() if key != "t"} == {
        "embed_origin": widget.host.url, "lang": "en", "topics": "offers, loyalty", "mode": "light",
        "primary": "#1d4e89", "radius": "12px", "tz": "Europe/Paris",
    }
    assert iframe.get_attribute("title") == "Prefs"


def test_messages_from_anyone_but_the_widget_are_ignored(widget, subscriber, new_context) -> None:
    page = open_page(new_context(), widget.example("account.html", {CENTER: subscriber}))
    wait_for_event(page, "preferences:ready")
    before = settled_height(page)
    page.evaluate("""() => {
      const forged = {source: "preference-center", type: "preferences:saved", height: 150,
                      detail: {version: 99, changes: ["offers.email"]}};
      window.postMessage(forged, "*");  // from the host page itself, not the widget's frame
      // Messages arrive in order: once this one has, the loader has handled the forged one.
      addEventListener("message", (e) => { if (e.data === "after the forged one") window.__after = true; });
      window.postMessage("after the forged one", "*");
    }""")
    page.wait_for_function("window.__after === true")
    assert events(page, "preferences:saved") == [] and frame_height(page) == before


# Height ----------------------------------------------------------------------------------

def test_the_frame_grows_with_the_widget(widget, subscriber, new_context) -> None:
    page = open_page(new_context(viewport={"width": 1280, "height": 900}),
                     widget.example("account.html", {CENTER: subscriber}))
    wait_for_event(page, "preferences:ready")
    frame = frame_of(page)
    wide = settled_height(page)
    assert wide > 600, f"the frame kept its initial height ({wide}px) for a widget taller than that"
    assert inner_scroll(frame) <= 1, f"the frame hides {inner_scroll(frame)}px of the widget"

    page.evaluate("document.getElementById('prefs').style.width = '320px'")  # the layout gets taller
    page.wait_for_function("h => document.querySelector('#prefs iframe').getBoundingClientRect().height > h + 50",
                           arg=wide, timeout=30_000)
    narrow = settled_height(page)
    assert inner_scroll(frame) <= 1, f"at 320px the frame hides {inner_scroll(frame)}px of the widget"
    assert narrow > wide


def test_the_frame_shrinks_with_the_widget(widget, subscriber, new_context) -> None:
    page = open_page(new_context(viewport={"width": 1280, "height": 900}),
                     widget.example("account.html", {CENTER: subscriber}))
    wait_for_event(page, "preferences:ready")
    wide = settled_height(page)
    page.evaluate("document.getElementById('prefs').style.width = '320px'")
    page.wait_for_function("h => document.querySelector('#prefs iframe').getBoundingClientRect().height > h + 50",
                           arg=wide, timeout=30_000)
    narrow = settled_height(page)

    page.evaluate("document.getElementById('prefs').style.width = ''")  # back to the wide layout
    try:  # the widget's next height arrives from its own process: a busy machine can take seconds
        page.wait_for_function("h => Math.abs(document.querySelector('#prefs iframe').getBoundingClientRect()"
                               ".height - h) <= 2", arg=wide, timeout=30_000)
    except PlaywrightError:
        pass  # said below, with the heights
    again = settled_height(page)
    assert abs(again - wide) <= 2, (
        f"the frame did not shrink back: {wide}px wide, {narrow}px narrow, {again}px wide again "
        f"(the widget reports a height that never falls below the frame's own)"
    )


# Saving ----------------------------------------------------------------------------------

def test_a_save_in_the_frame_reaches_the_host_page(widget, store, subscriber, new_context) -> None:
    page = open_page(new_context(viewport={"width": 1280, "height": 900}),
                     widget.example("account.html", {CENTER: subscriber}))
    wait_for_event(page, "preferences:ready")
    form = page.frame_locator(FRAME)
    form.locator('[name="s.offers.sms"]').check()
    with page.expect_response(is_post) as posted:
        form.locator("#save").click()
    assert posted.value.status == 200

    saved = wait_for_event(page, "preferences:saved")
    assert saved["target"] == "prefs"
    assert "offers.sms" in saved["detail"]["changes"]
    assert saved["detail"]["version"] == store.get(CENTER, subscriber).preferences.version
    expect(page.locator("#toast")).to_have_text("Preferences saved (1 change).")  # account.js
    settled_height(page)
    assert inner_scroll(frame_of(page)) <= 1, "after the save, the frame hides part of the widget"
    assert events(page, "preferences:error") == []


def test_with_third_party_cookies_blocked(widget, store, subscriber, third_party_cookies_blocked) -> None:
    page = open_page(third_party_cookies_blocked, widget.example("account.html", {CENTER: subscriber}))
    wait_for_event(page, "preferences:ready")
    frame = frame_of(page)
    assert frame.evaluate("document.hasStorageAccess()") is False  # third-party, no cookies
    form = page.frame_locator(FRAME)
    form.locator('[name="s.offers.sms"]').check()
    form.locator("#save").click()
    saved = wait_for_event(page, "preferences:saved")
    assert saved["detail"]["changes"] == ["offers.sms"]
    assert store.get(CENTER, subscriber).preferences.opted_in("offers", "sms")


def test_a_site_the_center_does_not_list_gets_no_widget(widget, subscriber, new_context) -> None:
    """Another origin (localhost, another port) serving the same page: frame-ancestors blocks it."""
    stranger = serve(host_app({}, widget.url, widget.host.tokens))
    port = stranger.port
    try:
        page = new_context().new_page()
        page.add_init_script(RECORDER)
        with page.expect_response(lambda r: r.url.startswith(f"{widget.url}/c/{CENTER}/preferences")) as framed:
            page.goto(widget.example("account.html", {CENTER: subscriber}).replace(widget.host.url,
                                                                                   f"http://localhost:{port}"))
        assert "frame-ancestors" in framed.value.headers["content-security-policy"]
        expect(page.locator(FRAME)).to_have_count(1)  # the loader did its part
        page.wait_for_timeout(1000)
        frame = frame_of(page)
        assert frame.url.startswith("chrome-error:") or frame.locator("#preferences").count() == 0
        assert page.evaluate("__events") == [], "a page the center does not list heard from the widget"
        assert frame_height(page) == 600  # the loader's initial height: nobody told it another
    finally:
        stranger.stop()


# Theming ---------------------------------------------------------------------------------

def test_data_primary_and_radius_style_the_widget(widget, subscriber, new_context) -> None:
    page = new_context(color_scheme="light").new_page()
    page.add_init_script(RECORDER)
    embed_on_host_site(page, widget, subscriber, theme="light", primary="#1d4e89", radius="12px")
    wait_for_event(page, "preferences:ready")
    save = frame_of(page).locator("#save")
    expect(save).to_have_css("background-color", "rgb(29, 78, 137)")
    expect(save).to_have_css("border-top-left-radius", "12px")


def test_data_theme_dark_gives_a_dark_widget(widget, subscriber, new_context) -> None:
    page = new_context(color_scheme="light").new_page()  # the visitor's system is light
    page.add_init_script(RECORDER)
    embed_on_host_site(page, widget, subscriber, theme="dark")
    wait_for_event(page, "preferences:ready")
    frame = frame_of(page)
    background, text = frame.evaluate("[getComputedStyle(document.body).backgroundColor, "
                                      "getComputedStyle(document.body).color]")
    assert luminance(background) < 0.05, f"data-theme=dark, yet the widget's background is {background}"
    assert luminance(text) > 0.5, f"data-theme=dark, yet the widget's text is {text}"


# Screenshots -----------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width, height", [(375, 812), (1280, 900)])
def test_screenshots_of_the_account_page(widget, subscriber, new_context, screenshots, width, height,
                                         scheme) -> None:
    phone = width < 600
    context = new_context(viewport={"width": width, "height": height}, color_scheme=scheme,
                          device_scale_factor=2 if phone else 1, is_mobile=phone, has_touch=phone)
    page = open_page(context, widget.example("account.html", {CENTER: subscriber}))
    wait_for_event(page, "preferences:ready")
    settled_height(page)
    # Chromium paints a cross-site frame only where it meets the viewport: make the viewport
    # as tall as the page (the width, hence the layout, stays) rather than a full-page shot.
    page.set_viewport_size({"width": width, "height": page.evaluate("document.documentElement.scrollHeight")})
    settled_height(page)
    page.screenshot(path=screenshots / f"embed-account-{width}-{scheme}.png")

    inner, scroll = page.evaluate("[window.innerWidth, document.documentElement.scrollWidth]")
    assert scroll <= inner, f"the host page scrolls sideways: {scroll}px in {inner}px"
    frame = frame_of(page)
    assert inner_scroll(frame) <= 1
    background = frame.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (luminance(background) < 0.05) == (scheme == "dark"), f"{scheme} visitor, widget background {background}"
