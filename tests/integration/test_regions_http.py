"""Regional rules end to end, on SQLite and PostgreSQL: the same widget form for a Canadian, a
French and a US subscriber of Maison Lumière behaves as each region requires (EU: e-mail waits for
its confirmation; Canada and the US: opted in), ``/decision`` lets the US use a never-answered
e-mail (CAN-SPAM: opt-out suffices) and not France or Canada, and an implied consent older than
its lifetime (CASL: 6 months after an inquiry) is refused as ``expired``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import ENGINES, form_of, same_origin
from widget_server.json_shapes import instant

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def api(client, make_key):
    with client.another(headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"}) as api:
        yield api


def subscriber_of(api, country: str) -> str:
    response = api.post(f"{BASE}/subscribers", json={"country": country, "external_id": f"crm-{country}"})
    assert response.status_code == 201, response.text
    assert response.json()["country"] == country
    return response.json()["subscriber_id"]


def save_the_same_form(client, token: str) -> None:
    """Offers by e-mail and by SMS ticked, nothing else changed."""
    fields = form_of(client.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.offers.email"] = ["on"]
    fields["s.offers.sms"] = ["on"]
    saved = client.post(f"/c/{CENTER}/preferences", data=fields, headers=same_origin(client))
    assert saved.status_code == 303, saved.text


def decision(api, subscriber: str, topic: str, channel: str) -> dict:
    answer = api.get(f"{BASE}/subscribers/{subscriber}/decision",
                     params={"topic": topic, "channel": channel, "digest": "true"})
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize(("country", "email", "sms"), [
    ("FR", "pending", "opted_in"),  # EU: an e-mail opt-in is confirmed by a mailed link first
    ("CA", "opted_in", "opted_in"),  # CASL: an express consent, until withdrawn
    ("US", "opted_in", "opted_in"),  # CAN-SPAM for e-mail, TCPA's opt-in for SMS, both given here
])
def test_the_same_form_follows_each_region(client, api, store, clock, country, email, sms) -> None:
    subscriber = subscriber_of(api, country)
    save_the_same_form(client, client.app.state.signer.mint("manage", CENTER, subscriber))
    document = api.get(f"{BASE}/subscribers/{subscriber}").json()
    assert (document["subscriptions"]["offers"]["email"], document["subscriptions"]["offers"]["sms"]) == (email, sms)
    bases = document["legal_bases"]["offers"]
    assert bases["sms"] == {"legal_basis": "consent", "since": instant(clock()), "until": None, "reason": None}
    if email == "pending":  # consent asked now, waiting 7 days for its confirmation
        assert bases["email"]["until"] == instant(clock() + timedelta(days=7))
        assert decision(api, subscriber, "offers", "email")["reason"] == "no_consent"
    else:
        assert bases["email"]["until"] is None
        assert decision(api, subscriber, "offers", "email") == {
            "allowed": True, "reason": "opted_in", "frequency": "weekly", "legal_basis": "consent"}
    # The feed's event says on what basis, since when and until when.
    [event] = [e for e in api.get(f"{BASE}/events", params={"after": 0}).json()["events"]
               if e["subscriber_id"] == subscriber and e["version"] == 2]
    change = next(c for c in event["changes"] if c["path"] == "offers.email")
    assert change["to"] == email and change["basis"] == bases["email"]


@pytest.mark.parametrize(("country", "allowed", "reason"), [
    ("US", True, "opt_out_region"), ("FR", False, "no_consent"), ("CA", False, "no_consent")])
def test_a_never_answered_e_mail_is_usable_only_where_opt_out_suffices(api, country, allowed, reason) -> None:
    subscriber = subscriber_of(api, country)
    answer = decision(api, subscriber, "offers", "email")
    assert (answer["allowed"], answer["reason"]) == (allowed, reason)
    assert answer["legal_basis"] == ("legitimate_interest" if allowed else None)
    assert not decision(api, subscriber, "offers", "sms")["allowed"]  # SMS needs an opt-in everywhere


def test_an_implied_consent_older_than_its_lifetime_is_expired(api, clock) -> None:
    subscriber = subscriber_of(api, "CA")
    url = f"{BASE}/subscribers/{subscriber}/preferences"

    def implied(days_ago: int) -> dict:
        since = instant(clock() - timedelta(days=days_ago))
        return {"subscriptions": {"offers": {"email": {"state": "opted_in", "legal_basis": "soft_opt_in",
                                                        "reason": "inquiry", "since": since}}}}

    recent = api.patch(url, json=implied(100))
    assert recent.status_code == 200, recent.text
    basis = recent.json()["legal_bases"]["offers"]["email"]
    assert basis["until"] == instant(clock() - timedelta(days=100) + timedelta(days=183))
    assert decision(api, subscriber, "offers", "email")["legal_basis"] == "soft_opt_in"
    old = api.patch(url, json=implied(200))  # six months after an inquiry have passed
    assert old.status_code == 200 and old.json()["subscriptions"]["offers"]["email"] == "opted_in"
    assert decision(api, subscriber, "offers", "email") == {
        "allowed": False, "reason": "expired", "frequency": "weekly", "legal_basis": None}


def test_a_basis_the_region_does_not_allow_is_a_422_naming_it(api) -> None:
    subscriber = subscriber_of(api, "FR")
    url = f"{BASE}/subscribers/{subscriber}/preferences"
    body = {"subscriptions": {"offers": {"email": {"state": "opted_in", "legal_basis": "soft_opt_in",
                                                    "reason": "purchase"}}}}
    refused = api.patch(url, json=body)
    assert refused.status_code == 422, refused.text
    assert [e["path"] for e in refused.json()["errors"]] == ["subscriptions.offers.email.legal_basis"]
    assert api.get(f"{BASE}/subscribers/{subscriber}").json()["version"] == 1  # unchanged
    bad_country = api.patch(url, json={"country": "fr"})
    assert bad_country.status_code == 422 and bad_country.json()["errors"][0]["path"] == "country"
    moved = api.patch(url, json={"country": "US", "subscriptions": {"offers": {"email": "opted_in"}}})
    assert moved.json()["country"] == "US" and moved.json()["subscriptions"]["offers"]["email"] == "opted_in"
    assert api.patch(url, json={"subscriptions": {"offers": {"email": "expired"}}}).status_code in (400, 422)


def test_the_export_answers_on_what_basis_and_an_erasure_forgets_the_country(api, clock) -> None:
    subscriber = subscriber_of(api, "CA")
    since = instant(clock() - timedelta(days=30))
    api.patch(f"{BASE}/subscribers/{subscriber}/preferences", json={"subscriptions": {"offers": {"email": {
        "state": "opted_in", "legal_basis": "soft_opt_in", "reason": "purchase", "since": since}}}})
    export = api.get(f"{BASE}/subscribers/{subscriber}/export").json()
    assert export["subscriber"]["country"] == "CA"
    basis = export["subscriber"]["legal_bases"]["offers"]["email"]
    assert (basis["legal_basis"], basis["since"], basis["reason"]) == ("soft_opt_in", since, "purchase")
    assert basis["until"] == instant(clock() - timedelta(days=30) + timedelta(days=730))
    change = next(c for e in export["events"] for c in e["changes"] if c["path"] == "offers.email")
    assert change["basis"] == basis
    erased = api.delete(f"{BASE}/subscribers/{subscriber}").json()
    assert "country" in erased["deleted"]
    after = api.get(f"{BASE}/subscribers/{subscriber}").json()
    assert after["country"] is None and after["subscriptions"]["offers"]["email"] == "opted_out"
    assert after["legal_bases"]["offers"]["email"]["legal_basis"] == "soft_opt_in"  # what was withdrawn, and when


def test_an_api_opt_in_to_confirm_is_pending_and_its_mail_is_owed(api, store, clock) -> None:
    from sqlalchemy import select

    from widget_server.store.tables import mail_outbox

    made = api.post(f"{BASE}/subscribers", json={"country": "FR", "email": "lea@example.org",
                                                 "preferences": {"subscriptions": {"offers": {"email": "opted_in"}}}})
    assert made.status_code == 201, made.text
    document = made.json()
    assert document["subscriptions"]["offers"]["email"] == "pending"
    assert document["legal_bases"]["offers"]["email"]["until"] == instant(clock() + timedelta(days=7))
    with store.engine.connect() as connection:
        owed = connection.execute(select(mail_outbox.c.kind, mail_outbox.c.subscriber_id)).all()
    assert [tuple(row) for row in owed] == [("confirm", document["subscriber_id"])]
    # Naming another basis is not a consent to confirm: a US legitimate interest is recorded at once.
    us = api.post(f"{BASE}/subscribers", json={"country": "US", "preferences": {"subscriptions": {"offers": {
        "email": {"state": "opted_in", "legal_basis": "legitimate_interest"}}}}}).json()
    assert us["subscriptions"]["offers"]["email"] == "opted_in"
    assert us["legal_bases"]["offers"]["email"]["legal_basis"] == "legitimate_interest"
