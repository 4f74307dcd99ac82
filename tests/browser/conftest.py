"""Browser fixtures: Debian's Chromium, the widget and a host site on two different sites.

The widget runs on ``http://127.0.0.1:<port>`` (the ``live_server`` of each test, with
that test's store and clock); the host site, a stand-in for a brand's website, runs once
per session on ``http://localhost:<port>``. Different host names make them different
*sites*, not only different origins, so the browser treats the widget frame as
third-party, as it will be on a customer's website.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.helpers import ROOT, serve_app
from widget_server.demo import host_app

SCREENSHOTS = ROOT / "test-results" / "screenshots"

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

#: What the widget must meet: WCAG 2.2 level AA (with the A criteria below it).
WCAG_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}

#: Chromium's "Block third-party cookies" setting (chrome://settings/cookies), as stored
#: in a profile: ``profile.cookie_controls_mode`` 1 = block third-party, 0 = allow all.
#: The DevTools call ``Network.setCookieControls`` does not change it (measured on
#: Chromium 156), so the blocking test launches a profile with this preference.
BLOCK_THIRD_PARTY_COOKIES = {"profile": {"cookie_controls_mode": 1, "block_third_party_cookies": True}}


# expect() waits 5 s by default, page actions 30 s: a save answered and swapped in by
# htmx on a loaded CI machine needs the same patience as a click.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ARGS}


@dataclass
class HostSite:
    """The brand's website: ``/frame/<center_id>`` frames the link set in ``links``,
    ``/<center_id>`` embeds the widget of ``tokens[center_id]`` with the script-tag loader;
    ``/examples/<name>`` serves ``examples/hosts/<name>`` for the widget at
    ``widget_origin`` and the subscribers whose tokens are in ``tokens``."""

    url: str
    links: dict[str, str]
    tokens: dict[str, str] = dataclasses.field(default_factory=dict)
    widget_origin: str = "the widget server"

    def page_url(self, center_id: str) -> str:
        return f"{self.url}/frame/{center_id}"


@pytest.fixture(scope="session")
def host_site() -> Iterator[HostSite]:
    site = HostSite("http://localhost", {})  # set per test: the host app reads it at each request

    def build(port: int):
        site.url = f"http://localhost:{port}"
        return host_app(site.links, lambda: site.widget_origin, site.tokens)

    server = serve_app(build)
    yield site
    server.stop()


@pytest.fixture(scope="session")
def centers(centers, host_site):
    """The example centers, framable by the host site only (which also stands in for the
    call-center screen that frames the agent console)."""
    def framed_by_host(center):
        call_center = center.call_center and dataclasses.replace(center.call_center, allowed_origins=(host_site.url,))
        return dataclasses.replace(center, allowed_origins=(host_site.url,), call_center=call_center)

    return {cid: framed_by_host(c) for cid, c in centers.items()}


@dataclass
class Widget:
    """The widget server of one test, and how to reach a subscriber's page on it."""

    url: str
    app: object
    store: object
    host: HostSite

    def link(self, center_id: str, subscriber_id: str, **query: str) -> str:
        token = self.app.state.signer.mint("manage", center_id, subscriber_id)
        return f"{self.url}/c/{center_id}/preferences?" + urlencode({"t": token, **query})

    def embed(self, center_id: str, subscriber_id: str, **query: str) -> str:
        """The host page that frames this subscriber's widget."""
        self.host.links[center_id] = self.link(center_id, subscriber_id, **query)
        return self.host.page_url(center_id)

    def text(self, locale: str, message: str) -> str:
        """An interface message as the app shows it in ``locale``."""
        return self.app.state.translator.gettext(locale, message)

    def example(self, name: str, subscribers: dict[str, str], query: str = "") -> str:
        """The host site's ``examples/hosts/<name>`` for these subscribers (center id -> id)."""
        for center_id, subscriber_id in subscribers.items():
            self.host.tokens[center_id] = self.app.state.signer.mint("manage", center_id, subscriber_id)
        return f"{self.host.url}/examples/{name}" + (f"?{query}" if query else "")


@pytest.fixture
def widget(live_server, store, host_site) -> Iterator[Widget]:
    host_site.widget_origin = live_server.url
    yield Widget(live_server.url, live_server.app, store, host_site)
    host_site.links.clear()
    host_site.tokens.clear()


@pytest.fixture
def third_party_cookies_blocked(browser_type, browser_type_launch_args, tmp_path):
    """A browser profile whose user blocked third-party cookies, as many people do."""
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(json.dumps(BLOCK_THIRD_PARTY_COOKIES))
    context = browser_type.launch_persistent_context(profile, locale="fr-FR", **browser_type_launch_args)
    yield context
    context.close()


@pytest.fixture(scope="session")
def assert_accessible():
    """``assert_accessible(page_or_frame, where)``: axe-core finds no WCAG 2.2 AA violation.

    axe does not look into cross-origin frames: pass the widget's Frame, not the host page.
    """
    axe = Axe()

    def check(target, where: str) -> None:
        results = axe.run(target, options=WCAG_AA)
        assert results.violations_count == 0, f"axe-core, {where}:\n{results.generate_report()}"

    return check


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
