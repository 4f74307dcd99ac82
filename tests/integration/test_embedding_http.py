"""Embed options over HTTP, the app in-process: what an embed may ask for, what it may not, what survives a save."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest

from widget_server.preferences import OPTED_IN, Preferences

CENTER = "maison-lumiere"
ALLOWED = "http://127.0.0.1:8001"


@pytest.fixture
def visit(client, store):
    subscriber = store.create_subscriber(CENTER, preferences=Preferences(
        subscriptions={("offers", "email"): OPTED_IN, ("inspirations", "email"): OPTED_IN}))
    token = client.app.state.signer.mint("manage", CENTER, subscriber)
    with client.another(headers={"Accept-Language": "en"}) as visitor:
        yield subscriber, token, visitor


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


def test_an_embed_may_show_only_some_topics_and_saving_leaves_the_others_alone(visit, store) -> None:
    subscriber, token, client = visit
    page = client.get(f"/c/{CENTER}/preferences", params={"t": token, "topics": "offers,nonsense"}).text
    assert 'name="s.offers.email"' in page and 's.inspirations.' not in page and 's.loyalty.' not in page
    fields = hidden_fields(page)
    assert fields["topics"] == "offers"
    fields["s.offers.sms"] = "on"  # offers.email is now unticked, inspirations is not in the form at all
    client.post(f"/c/{CENTER}/preferences", data=fields, headers={"Sec-Fetch-Site": "same-origin"})
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.opted_in("offers", "sms") and prefs.state("offers", "email") == "opted_out"
    assert prefs.opted_in("inspirations", "email")  # not shown, so not touched


def test_only_a_listed_origin_receives_the_widgets_events(visit) -> None:
    _, token, client = visit
    listed = client.get(f"/c/{CENTER}/preferences", params={"t": token, "embed_origin": ALLOWED}).text
    assert f'data-embed-origin="{ALLOWED}"' in listed
    other = client.get(f"/c/{CENTER}/preferences", params={"t": token, "embed_origin": "https://evil.example"}).text
    assert "data-embed-origin" not in other and "evil.example" not in other


def test_options_survive_a_plain_save_and_bad_ones_are_dropped(visit) -> None:
    _, token, client = visit
    query = {"t": token, "tz": "Europe/Paris", "mode": "dark", "primary": "#7a1f1f", "radius": "4px",
             "embed_origin": ALLOWED, "topics": "offers"}
    page = client.get(f"/c/{CENTER}/preferences", params={**query, "radius": "999px", "tz": "Mars/Olympus"}).text
    fields = hidden_fields(page)
    assert "radius" not in fields and "tz" not in fields and fields["mode"] == "dark"
    page = client.get(f"/c/{CENTER}/preferences", params=query).text
    theme = re.search(r'<link rel="stylesheet" href="(/c/[^"]+/theme\.css[^"]+)"', page).group(1).replace("&amp;", "&")
    theme_options = parse_qs(urlparse(theme).query)
    assert {"mode": ["dark"], "primary": ["#7a1f1f"], "radius": ["4px"]}.items() <= theme_options.items()
    same_origin = {"Sec-Fetch-Site": "same-origin"}
    answer = client.post(f"/c/{CENTER}/preferences", data=hidden_fields(page), headers=same_origin)
    assert answer.status_code == 303
    kept = parse_qs(urlparse(answer.headers["location"]).query)
    assert {k: kept[k][0] for k in ("tz", "mode", "primary", "radius", "embed_origin", "topics")} == {
        k: v for k, v in query.items() if k != "t"}


def test_htmx_saves_and_errors_raise_events_for_the_host_page(visit) -> None:
    _, token, client = visit
    fields = hidden_fields(client.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    fields.update({"s.offers.email": "on", "s.offers.sms": "on"})
    htmx = {"Sec-Fetch-Site": "same-origin", "HX-Request": "true"}
    saved = client.post(f"/c/{CENTER}/preferences", data=fields, headers=htmx)
    event = json.loads(saved.headers["hx-trigger"])["preferences:saved"]
    assert event == {"version": 2, "changes": ["inspirations.email", "offers.sms"]}
    stale = client.post(f"/c/{CENTER}/preferences", data={**fields, "submission": "x", "s.offers.push": "on"},
                        headers=htmx)
    assert json.loads(stale.headers["hx-trigger"]) == {"preferences:error": {"status": 409}}
    bad = client.post(f"/c/{CENTER}/preferences", data={**fields, "pause": "3"}, headers=htmx)
    assert json.loads(bad.headers["hx-trigger"]) == {"preferences:error": {"status": 422}}


def test_the_theme_stylesheet_has_light_dark_and_only_readable_overrides(client) -> None:
    def css(**params: str) -> str:
        return client.get(f"{client.url}/c/{CENTER}/theme.css", params=params).text

    auto = css()
    assert "prefers-color-scheme: dark" in auto and "color-scheme: light" in auto
    dark = css(mode="dark")
    assert "prefers-color-scheme" not in dark and "--pc-background: #1c1814" in dark  # its own dark palette
    assert "--pc-primary: #7a1f1f" in css(primary="#7a1f1f")
    light, _, dark_part = css(primary="#ffff66").partition("@media")
    assert "#ffff66" not in light  # unreadable on a light page: ignored there...
    assert "--pc-primary: #ffff66" in dark_part  # ...and readable on the dark one, so used there
    assert "expression" not in css(primary="red;} body{background:url(x)", radius="1px;}")
    assert "--pc-radius: 2px" in css(radius="2px")
    assert "--pc-gap: 1.5rem" in css(spacing="1.5rem") and "--pc-gap: 1rem" in css(spacing="2px")
    assert "--pc-font: Georgia, serif" in css(font="Georgia, serif")
    assert "url(" not in css(font="x;} body{background:url(//evil)}")
