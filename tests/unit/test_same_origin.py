"""The same-origin rule for state changes (``check_same_origin``).

The widget lives in third-party iframes where cookies are blocked, so a forged POST is
stopped only by what the browser says of where it came from: ``Sec-Fetch-Site`` first,
else ``Origin``. Headers are Litestar's, as a request hands them over (case-insensitive).
"""

from __future__ import annotations

import pytest
from litestar.datastructures import Headers

from widget_server.errors import CrossSiteRequest
from widget_server.web.security import check_same_origin

#: As ``own_origins`` answers: the configured base URL, then the origin the request came to.
OWN = ("https://prefs.example", "http://127.0.0.1:8000")


def check(**headers: str) -> None:
    check_same_origin(Headers({name.replace("_", "-"): value for name, value in headers.items()}), OWN)


@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_a_request_the_browser_says_is_ours_is_accepted(site: str) -> None:
    """``none``: the person acted themself (typed the address, a bookmark), no page sent it."""
    check(Sec_Fetch_Site=site)


@pytest.mark.parametrize("site", ["cross-site", "same-site", "", "Same-Origin", "same-origin, cross-site"])
def test_any_other_fetch_site_is_refused(site: str) -> None:
    """``same-site`` too: a sibling subdomain (another tenant, a forum) is not us."""
    with pytest.raises(CrossSiteRequest):
        check(Sec_Fetch_Site=site)


def test_sec_fetch_site_wins_over_origin() -> None:
    """A browser that sends both is believed on Sec-Fetch-Site, which cannot be scripted."""
    check(Sec_Fetch_Site="same-origin", Origin="https://evil.example")
    with pytest.raises(CrossSiteRequest):
        check(Sec_Fetch_Site="cross-site", Origin="https://prefs.example")


@pytest.mark.parametrize("origin", OWN)
def test_without_sec_fetch_site_an_own_origin_is_accepted(origin: str) -> None:
    """Older browsers send only Origin."""
    check(Origin=origin)


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "null",  # sandboxed iframes, data: URLs, some redirects
    "https://prefs.example:8443",  # another port
    "http://prefs.example",  # another scheme
    "https://sub.prefs.example",
    "https://prefs.example/",  # an Origin never has a path: not ours
    "",
])
def test_without_sec_fetch_site_any_other_origin_is_refused(origin: str) -> None:
    with pytest.raises(CrossSiteRequest):
        check(Origin=origin)


def test_a_client_sending_neither_header_is_not_a_browser_and_is_accepted() -> None:
    """curl or a server-side client cannot be made to forge a visitor's request."""
    check()
    check(Referer="https://evil.example/page")


def test_header_names_are_matched_whatever_their_case() -> None:
    with pytest.raises(CrossSiteRequest):
        check_same_origin(Headers([(b"SEC-FETCH-SITE", b"cross-site")]), OWN)
    with pytest.raises(CrossSiteRequest):
        check_same_origin(Headers([(b"ORIGIN", b"https://evil.example")]), OWN)


def test_with_no_own_origin_known_any_origin_is_refused() -> None:
    with pytest.raises(CrossSiteRequest):
        check_same_origin(Headers({"Origin": "https://prefs.example"}), ())
