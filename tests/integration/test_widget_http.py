"""The widget over HTTP, the app in-process: pages, saves, and every bad case."""

from __future__ import annotations

import logging
import re

import pytest

from tests.helpers import form_of, same_origin

CENTER = "maison-lumiere"


@pytest.fixture
def visitor(client, store):
    """A subscriber of maison-lumiere with offers by e-mail, their manage link, and their
    (French) browser."""
    from widget_server.preferences import OPTED_IN, Preferences

    app = client.app
    subscriber = store.create_subscriber(
        CENTER, email="camille@example.org",
        preferences=Preferences(subscriptions={("offers", "email"): OPTED_IN}),
    )
    token = app.state.signer.mint("manage", CENTER, subscriber)
    browser = client.another(headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    yield subscriber, token, browser
    browser.close()


def test_the_widget_page_is_served_with_its_security_headers(client, visitor) -> None:
    _, token, browser = visitor
    response = browser.get(f"/c/{CENTER}/preferences", params={"t": token})
    assert response.status_code == 200
    html = response.text
    assert '<html lang="fr" dir="ltr"' in html
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'self' http://127.0.0.1:8001" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    stylesheet = re.search(r'href="(/static/widget.css\?v=\w+)"', html).group(1)
    assert "max-age=31536000" in browser.get(stylesheet).headers["cache-control"]
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html)), "no inline script"
    assert 'name="s.offers.email" value="on" checked' in html
    assert "Offres et promotions" in html and "Enregistrer mes choix" in html


def test_a_plain_post_saves_and_redirects_with_303(client, visitor, store) -> None:
    subscriber, token, browser = visitor
    fields = form_of(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.offers.sms"] = ["on"]
    fields["i"] = ["garden", "lighting"]
    fields["f.offers"] = ["monthly"]
    response = browser.post(f"/c/{CENTER}/preferences", data=fields, headers=same_origin(client))
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/c/{CENTER}/preferences?t=")
    page = browser.get(response.headers["location"])
    assert "Vos choix ont été enregistrés" in page.text
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.opted_in("offers", "sms") and prefs.interests == {"garden", "lighting"}
    assert prefs.frequencies["offers"] == "monthly"
    event = store.events(subscriber)[-1]
    assert (event["source"], event["actor"], event["locale"]) == ("web", "subject", "fr")
    assert event["notice_version"] == "2026-11-01"
    assert event["context"]["ip"] == "127.0.0.0" and event["evidence"]["method"] == "signed_link"
    assert store.verify_chain(subscriber).intact


def test_an_htmx_save_answers_the_form_fragment_and_a_status(client, visitor, store) -> None:
    subscriber, token, browser = visitor
    fields = form_of(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.loyalty.push"] = ["on"]
    response = browser.post(f"/c/{CENTER}/preferences", data=fields,
                            headers={**same_origin(client), "HX-Request": "true"})
    assert response.status_code == 200
    assert "HX-Request" in response.headers["vary"]
    assert response.text.lstrip().startswith("<form")
    assert 'hx-swap-oob="innerHTML"' in response.text and 'role="status"' in response.text
    assert 'name="version" value="2"' in response.text
    assert store.get(CENTER, subscriber).preferences.opted_in("loyalty", "push")


def test_the_same_form_posted_twice_records_one_change(client, visitor, store) -> None:
    subscriber, token, browser = visitor
    fields = form_of(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.offers.push"] = ["on"]
    for _ in range(3):
        browser.post(f"/c/{CENTER}/preferences", data=fields, headers={**same_origin(client), "HX-Request": "true"})
    assert len(store.events(subscriber)) == 2


def test_a_stale_form_is_refused_with_the_fresh_state(client, visitor, store) -> None:
    subscriber, token, browser = visitor
    first = form_of(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    second = {**first, "submission": ["another-tab"]}
    first["s.offers.sms"] = ["on"]
    assert browser.post(f"/c/{CENTER}/preferences", data=first, headers=same_origin(client)).status_code == 303
    second.pop("s.offers.email")
    response = browser.post(f"/c/{CENTER}/preferences", data=second,
                            headers={**same_origin(client), "HX-Request": "true"})
    assert response.status_code == 409
    assert 'role="alert"' in response.text and "Rien n" in response.text
    assert 'name="s.offers.sms" value="on" checked' in response.text  # the fresh state
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.opted_in("offers", "email") and prefs.version == 2
    assert len(store.events(subscriber)) == 2


def test_unsubscribe_from_everything_is_one_post(client, visitor, store, centers) -> None:
    subscriber, token, browser = visitor
    fields = form_of(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    fields["action"] = ["unsubscribe_all"]
    browser.post(f"/c/{CENTER}/preferences", data=fields, headers=same_origin(client))
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.suppressed
    for topic in centers[CENTER].switchable_topics:
        assert all(prefs.state(topic.id, c) == "opted_out" for c in topic.channels)
    assert all(prefs.state("orders", c) == "unknown" for c in ("email", "sms"))  # required: untouched


@pytest.mark.parametrize(
    "change",
    [
        {"f.offers": ["hourly"]},
        {"i": ["home-decor", "astrology"]},
        {"pause": ["5"]},
        {"version": ["two"]},
        {"version": [""]},
        {"action": ["delete_everything"]},
    ],
)
def test_a_bad_form_is_a_clear_422_and_changes_nothing(client, visitor, store, change) -> None:
    subscriber, token, browser = visitor
    fields = form_of(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.offers.sms"] = ["on"]
    fields.update(change)
    before = store.get(CENTER, subscriber)
    for headers in (same_origin(client), {**same_origin(client), "HX-Request": "true"}):
        response = browser.post(f"/c/{CENTER}/preferences", data=fields, headers=headers)
        assert response.status_code == 422
        assert "Nous n&#39;avons pas pu enregistrer vos choix" in response.text
        assert "Traceback" not in response.text
    assert response.headers["hx-retarget"] == "#messages"
    assert store.get(CENTER, subscriber) == before and len(store.events(subscriber)) == 1


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "https://evil.example"},
])
def test_a_post_from_another_site_is_refused(client, visitor, store, headers) -> None:
    subscriber, token, browser = visitor
    fields = form_of(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.offers.sms"] = ["on"]
    response = browser.post(f"/c/{CENTER}/preferences", data=fields, headers=headers)
    assert response.status_code == 403 and "Demande refusée" in response.text
    assert len(store.events(subscriber)) == 1


def test_an_expired_link_gets_a_friendly_page_offering_a_fresh_one(client, visitor, clock) -> None:
    _, token, browser = visitor
    clock.advance(days=181)
    response = browser.get(f"/c/{CENTER}/preferences", params={"t": token})
    assert response.status_code == 401
    assert "Ce lien a expiré" in response.text
    assert f'action="/c/{CENTER}/link"' in response.text and f'name="t" value="{token}"' in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize("mangle", [lambda t: t[:-4] + "AAAA", lambda t: "", lambda t: "garbage"])
def test_a_tampered_or_missing_link_is_403(client, visitor, mangle) -> None:
    _, token, browser = visitor
    response = browser.get(f"/c/{CENTER}/preferences", params={"t": mangle(token)})
    assert response.status_code == 403 and "Ce lien ne fonctionne pas" in response.text
    assert 'name="email"' in response.text  # asks where to send a fresh link


def test_a_link_of_another_scope_or_center_does_not_open_the_widget(client, visitor) -> None:
    subscriber, _, browser = visitor
    signer = client.app.state.signer
    for token, center in ((signer.mint("unsubscribe", CENTER, subscriber), CENTER),
                          (signer.mint("manage", CENTER, subscriber), "voyago")):
        assert browser.get(f"/c/{center}/preferences", params={"t": token}).status_code == 403


def test_revoked_links_stop_working(client, visitor, store, clock) -> None:
    subscriber, token, browser = visitor
    clock.advance(seconds=5)
    store.revoke_links(subscriber)
    assert browser.get(f"/c/{CENTER}/preferences", params={"t": token}).status_code == 401
    same_second = client.app.state.signer.mint("manage", CENTER, subscriber)  # signed a moment before
    assert browser.get(f"/c/{CENTER}/preferences", params={"t": same_second}).status_code == 401
    clock.advance(seconds=1)
    fresh = client.app.state.signer.mint("manage", CENTER, subscriber)
    assert browser.get(f"/c/{CENTER}/preferences", params={"t": fresh}).status_code == 200


def test_an_unknown_center_is_a_404_page_in_the_visitors_language(client) -> None:
    response = client.get(f"{client.url}/c/nope/preferences?t=x", headers={"Accept-Language": "de"})
    assert response.status_code == 404 and '<html lang="de"' in response.text
    assert "Seite nicht gefunden" in response.text


def test_an_oversized_body_is_refused_without_a_trace(client, visitor, store) -> None:
    subscriber, token, browser = visitor
    response = browser.post(f"/c/{CENTER}/preferences", content=b"t=" + b"x" * 200_000,
                            headers={**same_origin(client), "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413 and "Traceback" not in response.text
    assert len(store.events(subscriber)) == 1


def test_health_and_readiness(client) -> None:
    assert client.get(f"{client.url}/healthz").json() == {"status": "ok"}
    ready = client.get(f"{client.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_tokens_and_personal_data_never_reach_the_logs(client, visitor, caplog) -> None:
    _, token, browser = visitor
    caplog.set_level(logging.DEBUG)
    browser.get(f"/c/{CENTER}/preferences", params={"t": token})
    browser.get(f"/c/{CENTER}/preferences", params={"t": token + "x"})
    browser.post(f"/c/{CENTER}/link", data={"email": "camille@example.org"}, headers=same_origin(client))
    server_side = ("widget_server", "uvicorn", "litestar")  # the test's own client logs URLs
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(server_side))
    assert f"/c/{CENTER}/preferences" in logged  # the access log is on...
    assert token[:20] not in logged and "camille" not in logged  # ...and says nothing personal


def test_a_newline_in_a_path_cannot_forge_an_access_log_line(client, make_key, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    key = make_key(CENTER, "read")
    forged = client.get(f"{client.url}/api/v1/centers/{CENTER}/subscribers/x%0AGET%20forged%20200",
                       headers={"Authorization": f"Bearer {key}"})
    assert forged.status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "widget_server.access"]
    assert lines and all("\n" not in line for line in lines)
    assert any("/subscribers/x\\x0aGET forged 200 404" in line for line in lines)


def test_the_command_line_keeps_http_client_urls_out_of_the_log() -> None:
    """httpx logs each request's URL at INFO; a webhook URL may hold its receiver's secret."""
    import subprocess
    import sys

    probe = ("import logging; from widget_server.cli import _configure_logging; _configure_logging('debug'); "
             "print(logging.getLogger('httpx').isEnabledFor(logging.INFO), "
             "logging.getLogger('httpcore').isEnabledFor(logging.INFO), "
             "logging.getLogger('widget_server').isEnabledFor(logging.DEBUG))")
    printed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout
    assert printed.split() == ["False", "False", "True"]


def test_readiness_is_503_until_the_migrations_are_applied(client_for, tmp_path) -> None:
    from widget_server.store.engine import make_engine
    from widget_server.store.store import Store

    fresh = Store(make_engine(f"sqlite:///{tmp_path / 'fresh.db'}"), lookup_key=b"k")
    server = client_for(store=fresh, migrate=False)
    answer = server.get(f"{server.url}/readyz")
    assert answer.status_code == 503 and answer.json()["database"] == "migrations pending"
    assert server.get(f"{server.url}/healthz").status_code == 200  # alive, just not ready
    fresh.migrate()
    assert server.get(f"{server.url}/readyz").status_code == 200


def test_random_junk_forms_never_reach_a_server_error(client, visitor, store) -> None:
    """200 malformed posts: each gets a clear 4xx (or a harmless save), never a 500."""
    import random

    subscriber, token, browser = visitor
    rng = random.Random(2026)
    base = form_of(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    junk = ["", "0", "-1", "999999999999999999999", "on", "\x00", "é" * 300, "<script>", "%(x)s", "../", "nan",
            "Europe/Paris", "#fff", "weekly", "garden", "unsubscribe_all", "save", "keep", "30", token]
    names = [*base, "s.offers.fax", "s..", "f.nope", "i", "pause", "action", "version", "t", "lang", "tz", "topics",
             "mode", "primary", "radius", "embed_origin", "switch_to", "notice", "submission"]
    for _ in range(200):
        fields = {name: list(values) for name, values in base.items()}
        for _ in range(rng.randint(1, 4)):
            fields[rng.choice(names)] = [rng.choice(junk) for _ in range(rng.randint(0, 3))]
        headers = {"Sec-Fetch-Site": "same-origin"}
        if rng.random() < 0.5:
            headers["HX-Request"] = "true"
        answer = browser.post(f"/c/{CENTER}/preferences", data=fields, headers=headers)
        assert answer.status_code in (200, 303, 400, 401, 403, 409, 422), (answer.status_code, fields)
        assert "Traceback" not in answer.text
    for _ in range(100):  # and the page itself, with junk options and a junk draft
        query = {"t": token, **{rng.choice(names): rng.choice(junk) for _ in range(rng.randint(1, 5))}}
        answer = browser.get(f"/c/{CENTER}/preferences", params=query)
        assert answer.status_code in (200, 401, 403), (answer.status_code, query)
    assert store.verify_chain(subscriber).intact


def test_the_openapi_document_is_served_where_the_contract_says(client) -> None:
    document = client.get(f"{client.url}/schema/openapi.json").json()
    assert document["info"]["title"] == "widget-server"
    assert "/c/{center_id}/preferences" in document["paths"] and "/readyz" in document["paths"]
