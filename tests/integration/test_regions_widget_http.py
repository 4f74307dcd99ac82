"""The widget and the regions, the app in-process: the country select when the center asks
(``[consent] ask_country``), saved with the choices in one event and picking their rules; the
notice the person's region requires, near the save, in their language; an expired subscription
shown unticked and left as it is; a pending one shown ticked and kept by a save."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import form_of, same_origin
from widget_server.preferences import EXPIRED, PENDING, Basis, Preferences

CENTER = "maison-lumiere"


def page(client, token: str, lang: str = "fr") -> str:
    response = client.get(f"/c/{CENTER}/preferences", params={"t": token, "lang": lang})
    assert response.status_code == 200
    return response.text


def test_the_country_chosen_is_saved_with_the_choices_and_picks_their_rules(client, store) -> None:
    subscriber = store.create_subscriber(CENTER, email="ana@example.org")
    token = client.app.state.signer.mint("manage", CENTER, subscriber)
    html = page(client, token)
    assert '<select id="country" name="country"' in html and '<label for="country">' in html
    assert '<option value="CA">Canada</option>' in html and '<option value="US">États-Unis</option>' in html
    assert '<option value="FR">France</option>' in html and 'value="BR"' not in html  # only the rules' countries
    assert 'id="region-notice"' not in html  # the default region has no wording of its own
    fields = form_of(html)
    fields["country"] = ["CA"]
    fields["s.offers.email"] = ["on"]
    assert client.post(f"/c/{CENTER}/preferences", data=fields, headers=same_origin(client)).status_code == 303
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.country == "CA" and prefs.state("offers", "email") == "opted_in"  # CASL: no confirmation asked
    [event] = store.events(subscriber)[-1:]
    assert {"path": "country", "from": None, "to": "CA"} in event["changes"]
    html = page(client, token, "en")
    assert '<option value="CA" selected>Canada</option>' in html
    assert "You may withdraw your consent at any time. Maison Lumière" in html  # Canada's notice, in English


def test_a_french_subscriber_sees_the_eu_notice_and_waits_for_the_confirmation(client, store) -> None:
    subscriber = store.create_subscriber(CENTER, email="ana@example.org", preferences=Preferences(country="FR"))
    token = client.app.state.signer.mint("manage", CENTER, subscriber)
    html = page(client, token)
    assert "Conformément au RGPD" in html and '<option value="FR" selected>France</option>' in html
    fields = form_of(html)
    fields["s.offers.email"] = ["on"]
    client.post(f"/c/{CENTER}/preferences", data=fields, headers=same_origin(client))
    assert store.get(CENTER, subscriber).preferences.state("offers", "email") == PENDING
    again = form_of(page(client, token))
    assert again["s.offers.email"] == ["on"]  # a pending opt-in is shown ticked
    again["f.offers"] = ["monthly"]
    client.post(f"/c/{CENTER}/preferences", data=again, headers=same_origin(client))
    assert store.get(CENTER, subscriber).preferences.state("offers", "email") == PENDING  # kept, not withdrawn


def test_a_country_the_rules_do_not_name_stays_chosen(client, store) -> None:
    subscriber = store.create_subscriber(CENTER, preferences=Preferences(country="BR"))
    token = client.app.state.signer.mint("manage", CENTER, subscriber)
    fields = form_of(page(client, token))
    assert fields["country"] == ["BR"]
    fields["s.offers.sms"] = ["on"]
    client.post(f"/c/{CENTER}/preferences", data=fields, headers=same_origin(client))
    assert store.get(CENTER, subscriber).preferences.country == "BR"


def test_an_expired_subscription_is_shown_unticked_and_left_as_it_is(client, store, clock) -> None:
    ended = Basis("soft_opt_in", clock() - timedelta(days=800), clock() - timedelta(days=70), "purchase")
    subscriber = store.create_subscriber(CENTER, preferences=Preferences(
        country="CA", subscriptions={("offers", "email"): EXPIRED}, bases={("offers", "email"): ended}))
    token = client.app.state.signer.mint("manage", CENTER, subscriber)
    fields = form_of(page(client, token))
    assert "s.offers.email" not in fields
    fields["s.offers.sms"] = ["on"]
    client.post(f"/c/{CENTER}/preferences", data=fields, headers=same_origin(client))
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("offers", "email") == EXPIRED and prefs.basis("offers", "email") == ended


def test_a_center_that_does_not_ask_shows_no_select(client, store) -> None:
    subscriber = store.create_subscriber("voyago")
    token = client.app.state.signer.mint("manage", "voyago", subscriber)
    html = client.get("/c/voyago/preferences", params={"t": token}).text
    assert 'name="country"' not in html


def test_the_history_says_the_country_in_words(client, store) -> None:
    subscriber = store.create_subscriber(CENTER, preferences=Preferences(country="CA"))
    token = client.app.state.signer.mint("manage", CENTER, subscriber)
    history = client.get(f"/c/{CENTER}/history", params={"t": token, "lang": "en"})
    assert history.status_code == 200 and "Country: Canada" in history.text
