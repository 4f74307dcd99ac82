"""The write path (``changes.Changes``) on both engines: a real SQLite file and this
machine's PostgreSQL. It wakes the worker after a commit, never after a refused write,
and a refused write leaves the state, its history and the outbox as they were."""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy import func, select

from tests.helpers import ENGINES
from widget_server.changes import Changes
from widget_server.ledger import EventContext
from widget_server.preferences import OPTED_IN, OPTED_OUT, Preferences
from widget_server.store.store import VersionConflict
from widget_server.store.tables import webhook_deliveries, webhook_endpoints

CENTER = "maison-lumiere"
WEB = EventContext(source="web", actor="subject")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def written(store):
    """The store, a Changes that counts its wake-ups, and a subscriber with offers by e-mail,
    created after a webhook endpoint so that every change queues a delivery."""
    with store.writing() as connection:
        connection.execute(webhook_endpoints.insert().values(
            id="whe_test", center=CENTER, url="https://crm.example.com/hooks", secret="whsec_x",
            description="", created_at=store.clock()))
    who = store.create_subscriber(CENTER, preferences=Preferences(subscriptions={("offers", "email"): OPTED_IN}))
    woken: list[bool] = []
    return store, Changes(store, wake=lambda: woken.append(True)), who, woken


def outbox_size(store) -> int:
    with store.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(webhook_deliveries))


def test_a_save_commits_state_event_and_outbox_then_wakes(written) -> None:
    store, changes, who, woken = written
    subscriber = store.get(CENTER, who)
    wanted = Preferences(subscriptions={("offers", "email"): OPTED_OUT}, version=1)
    result = anyio.run(lambda: changes.save(CENTER, subscriber, wanted, base_version=1, context=WEB))
    assert result.outcome == "saved" and result.preferences.version == 2
    assert store.get(CENTER, who).preferences.state("offers", "email") == OPTED_OUT
    assert [e["version"] for e in store.events(who)] == [1, 2] and store.verify_chain(who).intact
    assert outbox_size(store) == 2 and woken == [True]


def test_a_stale_save_is_refused_and_changes_nothing(written) -> None:
    store, changes, who, woken = written
    subscriber = store.get(CENTER, who)
    anyio.run(lambda: changes.save(CENTER, subscriber, Preferences(), base_version=1, context=WEB))
    before = (store.get(CENTER, who).preferences, store.events(who), outbox_size(store))
    woken.clear()
    stale = Preferences(subscriptions={("offers", "sms"): OPTED_IN}, version=1)
    with pytest.raises(VersionConflict) as conflict:
        anyio.run(lambda: changes.save(CENTER, subscriber, stale, base_version=1, context=WEB))
    assert conflict.value.current.version == 2
    assert (store.get(CENTER, who).preferences, store.events(who), outbox_size(store)) == before
    assert woken == []


def test_apply_re_applies_to_what_was_saved_meanwhile(written) -> None:
    store, changes, who, woken = written
    stale = store.get(CENTER, who)
    store.save(CENTER, who, Preferences(subscriptions={("offers", "email"): OPTED_IN, ("offers", "sms"): OPTED_IN},
                                        version=1), base_version=1, context=WEB)

    def switch_off_email(prefs: Preferences) -> Preferences:
        return Preferences(subscriptions={**prefs.subscriptions, ("offers", "email"): OPTED_OUT},
                           version=prefs.version)

    result = anyio.run(lambda: changes.apply(CENTER, stale, switch_off_email, WEB))
    assert result.outcome == "saved" and result.preferences.version == 3
    prefs = store.get(CENTER, who).preferences
    assert prefs.state("offers", "email") == OPTED_OUT and prefs.opted_in("offers", "sms")
    again = anyio.run(lambda: changes.apply(CENTER, store.get(CENTER, who), switch_off_email, WEB))
    assert again.outcome == "unchanged" and len(store.events(who)) == 3
