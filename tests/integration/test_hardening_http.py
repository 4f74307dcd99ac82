"""Answers that must hold whatever is sent: security headers on every answer, no Host
reflected, and no field that must come once taken from two copies. The app in-process."""

from __future__ import annotations

import pytest

from tests.helpers import form_of
from widget_server.preferences import OPTED_IN, Preferences

CENTER = "maison-lumiere"
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy", "cache-control")


@pytest.fixture
def subscriber(store) -> str:
    return store.create_subscriber(CENTER, email="camille@example.org",
                                   preferences=Preferences(subscriptions={("offers", "email"): OPTED_IN}))


@pytest.fixture
def token(client, subscriber) -> str:
    return client.app.state.signer.mint("manage", CENTER, subscriber)


def assert_hardened(response) -> None:
    headers = response.headers
    missing = [name for name in SECURITY_HEADERS if name not in headers]
    assert not missing, (response.status_code, response.request.url, missing)
    assert "frame-ancestors 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/c/nope/elsewhere", "/static/nope.css"])
def test_an_unrouted_404_carries_the_security_headers(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert_hardened(response)


def test_a_405_carries_the_security_headers(client) -> None:
    response = client.put(f"/c/{CENTER}/preferences")
    assert response.status_code == 405
    assert_hardened(response)


def test_the_rate_limiters_429_carries_the_security_headers(client_for) -> None:
    client = client_for(options={"api_rate_limit": 2})
    answers = [client.get(f"/api/v1/centers/{CENTER}/") for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert_hardened(answers[-1])


def test_the_language_switch_redirect_never_names_the_requested_host(client, token) -> None:
    """htmx follows HX-Redirect: built from Host, it would send the token to whoever the Host names."""
    response = client.get(f"/c/{CENTER}/preferences", params={"t": token, "switch_to": "en"},
                          headers={"Host": "evil.example", "HX-Request": "true"})
    redirect = response.headers["HX-Redirect"]
    assert redirect.startswith(f"/c/{CENTER}/preferences?") and "evil" not in redirect
    assert f"t={token}" in redirect and "switch_to=en" in redirect


@pytest.mark.parametrize("field", ["t", "version", "submission", "notice", "lang"])
def test_a_form_field_that_must_come_once_coming_twice_is_a_400_and_saves_nothing(
    client, store, subscriber, token, field: str,
) -> None:
    page = client.get(f"/c/{CENTER}/preferences", params={"t": token})
    fields = form_of(page.text)
    fields["s.offers.sms"] = ["on"]  # a change, had the save gone through
    fields[field] = fields[field] * 2
    before = store.get(CENTER, subscriber).preferences
    response = client.post(f"/c/{CENTER}/preferences", data=fields, headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 400
    assert "<html" in response.text and "Traceback" not in response.text
    assert store.get(CENTER, subscriber).preferences == before
    assert len(store.events(subscriber)) == 1  # the creation only


def test_a_token_twice_in_the_query_is_a_400(client, token) -> None:
    other = client.app.state.signer.mint("manage", CENTER, "sub_other")
    response = client.get(f"/c/{CENTER}/preferences", params=[("t", other), ("t", token)])
    assert response.status_code == 400
    assert_hardened(response)


def test_a_one_click_with_two_tokens_unsubscribes_no_one(client, store, subscriber) -> None:
    signer = client.app.state.signer
    mine = signer.mint("unsubscribe", CENTER, subscriber, tp="offers", ch="email")
    response = client.post(f"/c/{CENTER}/unsubscribe", params=[("t", mine), ("t", mine)],
                           data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400
    assert store.get(CENTER, subscriber).preferences.opted_in("offers", "email")


def test_a_fresh_link_request_with_two_addresses_sends_nothing(client, tmp_path) -> None:
    response = client.post(f"/c/{CENTER}/link", data={"email": ["a@example.org", "b@example.org"]},
                           headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 400
    assert not list((tmp_path / "mail").glob("*.eml"))
