"""The demo's host site in Chromium: its printed "embedded in a host page" shows the whole widget through the
script-tag loader (no scroll inside the frame, Save reached by scrolling the page itself), on a phone and a
desktop, in French, English and Arabic; every example host page has one main landmark and a heading, and
axe-core finds no WCAG 2.2 AA violation on it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from widget_server.demo import HOST_EXAMPLES

pytestmark = pytest.mark.browser

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
LANGUAGES = [("maison-lumiere", "fr", "fr-FR"), ("maison-lumiere", "en", "en-GB"), ("voyago", "ar", "ar")]


def host_page(widget, store, center: str) -> str:
    """The page the demo prints as "embedded in a host page", for a new subscriber of ``center``."""
    subscriber = store.create_subscriber(center, email="camille@example.org")
    widget.host.tokens[center] = widget.app.state.signer.mint("manage", center, subscriber)
    return f"{widget.host.url}/{center}"


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
@pytest.mark.parametrize(("center", "language", "accept"), LANGUAGES)
def test_the_printed_host_page_shows_the_whole_widget_without_an_inner_scroll(widget, store, new_context,
                                                                               assert_accessible, center,
                                                                               language, accept, viewport) -> None:
    page = new_context(viewport=VIEWPORTS[viewport], locale=accept).new_page()
    page.goto(host_page(widget, store, center))
    assert page.locator("iframe").count() <= 1
    frame_element = page.locator("#prefs > iframe")
    expect(frame_element).to_have_count(1)
    frame_element.scroll_into_view_if_needed()  # the loader's frame is lazy
    frame = frame_element.content_frame
    expect(frame.locator("#save")).to_be_attached()
    expect(frame.locator("html")).to_have_attribute("lang", language)
    # The loader sets the frame's height from the widget's own: nothing left to scroll inside.
    page.wait_for_function("() => document.querySelector('#prefs > iframe').getBoundingClientRect().height > 600")
    inner = frame.locator("html").evaluate(
        "html => ({scroll: html.scrollHeight, view: window.innerHeight})")
    assert inner["scroll"] <= inner["view"] + 1, inner  # no scroll inside the frame
    # Save is on the host page: scrolling the page itself brings it into view.
    frame.locator("#save").scroll_into_view_if_needed()
    expect(frame.locator("#save")).to_be_in_viewport()
    page_width = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert page_width[0] <= page_width[1], page_width  # no sideways scroll of the host page
    assert_accessible(page, f"the demo's host page ({language}, {viewport})")


def test_the_host_site_index_and_every_example_page_have_one_main_and_a_heading(widget, store, new_context,
                                                                                assert_accessible) -> None:
    subscribers = {center: store.create_subscriber(center) for center in ("maison-lumiere", "voyago")}
    context = new_context()
    pages = [f"{widget.host.url}/", *(widget.example(path.name, subscribers)
                                      for path in sorted(HOST_EXAMPLES.glob("*.html")))]
    assert len(pages) == 1 + 5  # the index, and examples/hosts/*.html
    for url in pages:
        page = context.new_page()
        page.goto(url)
        expect(page.get_by_role("main")).to_have_count(1)
        expect(page.get_by_role("heading", level=1)).to_have_count(1)
        assert_accessible(page, url.rsplit("/", 1)[-1] or "the host site's index")
        page.close()


def test_an_unknown_center_has_no_host_page(widget) -> None:
    import httpx

    assert httpx.get(f"{widget.host.url}/nowhere").status_code == 404
    assert httpx.get(f"{widget.host.url}/unsubscribe:voyago").status_code == 404
