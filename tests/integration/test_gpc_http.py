"""Global Privacy Control on the widget: a browser sending ``Sec-GPC: 1`` is opted out of the
topics that share personal data, recorded with the signal as evidence, and the page says so."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.helpers import form_of, same_origin
from widget_server.preferences import OPTED_IN, OPTED_OUT, UNKNOWN, Preferences

CENTER = "maison-lumiere"
GPC = {"Sec-GPC": "1", "Accept-Language": "en"}


@pytest.fixture
def centers(centers):
    """maison-lumiere's Inspirations newsletter shared with partner brands too, for these tests
    (its partner brands' offers are already: shares_personal_data in the example file)."""
    center = centers[CENTER]
    topics = tuple(replace(t, shares_personal_data=True) if t.id == "inspirations" else t for t in center.topics)
    return {**centers, CENTER: replace(center, topics=topics)}


@pytest.fixture
def visitor(client, store):
    subscriber = store.create_subscriber(CENTER, preferences=Preferences(subscriptions={
        ("offers", "email"): OPTED_IN, ("inspirations", "email"): OPTED_IN}))
    return subscriber, client.app.state.signer.mint("manage", CENTER, subscriber)


def page(client, token: str, headers: dict):
    return client.get(f"{client.url}/c/{CENTER}/preferences", params={"t": token}, headers=headers)


def test_the_signal_opts_out_of_sharing_topics_once_with_the_signal_as_evidence(client, store, visitor) -> None:
    subscriber, token = visitor
    first = page(client, token, GPC)
    assert first.status_code == 200
    assert "Global Privacy Control" in first.text and 'name="s.inspirations.email" value="on" disabled' in first.text
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("inspirations", "email") == OPTED_OUT and prefs.state("inspirations", "post") == OPTED_OUT
    assert prefs.state("offers", "email") == OPTED_IN  # a topic that shares nothing is the person's own
    event = store.last_event(subscriber)
    assert event["source"] == "web" and event["actor"] == "subject"
    assert event["evidence"]["method"] == "global_privacy_control" and event["evidence"]["signal"] == "Sec-GPC: 1"
    assert {c["path"] for c in event["changes"]} == {"inspirations.email", "inspirations.post", "partners.email"}
    again = page(client, token, GPC)  # nothing more to record
    assert again.status_code == 200 and len(store.events(subscriber)) == 2
    assert "We have switched off" not in again.text and "Global Privacy Control" in again.text


def test_while_the_signal_is_sent_a_form_cannot_switch_a_sharing_topic_on(client, store, visitor) -> None:
    subscriber, token = visitor
    fields = form_of(page(client, token, GPC).text)
    fields["s.inspirations.email"] = ["on"]  # a hand-made post
    fields["s.offers.sms"] = ["on"]
    saved = client.post(f"{client.url}/c/{CENTER}/preferences", data=fields, headers={**GPC, **same_origin(client)})
    assert saved.status_code in (200, 303)
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("inspirations", "email") == OPTED_OUT and prefs.state("offers", "sms") == OPTED_IN
    assert store.last_event(subscriber)["evidence"]["signal"] == "Sec-GPC: 1"


def test_without_the_signal_nothing_changes_and_the_topic_is_the_persons_to_choose(client, store, visitor) -> None:
    subscriber, token = visitor
    for headers in ({"Accept-Language": "en"}, {"Sec-GPC": "0"}, {"Sec-GPC": "yes"}):
        shown = page(client, token, headers)
        assert shown.status_code == 200 and "Global Privacy Control" not in shown.text
        assert 'name="s.inspirations.email" value="on" checked' in shown.text
    assert len(store.events(subscriber)) == 1


def test_the_signal_on_a_center_that_shares_nothing_records_nothing(client, store) -> None:
    subscriber = store.create_subscriber("voyago")
    token = client.app.state.signer.mint("manage", "voyago", subscriber)
    shown = client.get(f"{client.url}/c/voyago/preferences", params={"t": token}, headers=GPC)
    assert shown.status_code == 200 and "Global Privacy Control" not in shown.text
    assert store.events(subscriber) == [] and store.get("voyago", subscriber).preferences.state(
        "offers", "email") == UNKNOWN
