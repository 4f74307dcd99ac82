"""Time passing, with the test's clock: a pending confirmation that never comes and an implied
consent whose lifetime ends are recorded as ``system`` expiries that the change feed carries;
before the end, one re-permission mail whose "keep me subscribed" page renews the consent on
its POST (never on its GET); two workers at once record each expiry once. On both engines."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.helpers import ENGINES, form_of, same_origin
from widget_server.ledger import EventContext
from widget_server.preferences import EXPIRED, OPTED_IN, PENDING, Basis, Preferences
from widget_server.store.tables import mail_outbox, repermission_reminders
from widget_server.workers.lifecycle import LifecycleWorker

CENTER = "maison-lumiere"


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture
def app_client(client_for):
    return client_for(options={"run_lifecycle": False})  # the test runs the worker, pass by pass


def worker_of(client, store, clock) -> LifecycleWorker:
    state = client.app.state
    return LifecycleWorker(store, clock, state.changes, state.centers)


def mails_in(folder: Path, count: int, timeout: float = 20.0) -> list[email.message.EmailMessage]:
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("*.eml"))) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    paths = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime)
    assert len(paths) >= count, f"{len(paths)} of {count} mails"
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in paths]


def test_a_pending_never_confirmed_expires_as_a_system_event_in_the_feed(app_client, store, clock, make_key) -> None:
    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    token = app_client.app.state.signer.mint("manage", CENTER, subscriber)
    fields = form_of(app_client.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.inspirations.email"] = ["on"]
    assert app_client.post(f"/c/{CENTER}/preferences", data=fields, headers=same_origin(app_client)).status_code == 303
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("inspirations", "email") == PENDING
    worker = worker_of(app_client, store, clock)
    clock.advance(days=6, hours=23)
    asyncio.run(worker.run_once())
    assert store.get(CENTER, subscriber).preferences.state("inspirations", "email") == PENDING
    clock.advance(hours=2)  # past pending_days (7)
    asyncio.run(worker.run_once())
    assert store.get(CENTER, subscriber).preferences.state("inspirations", "email") == EXPIRED
    event = store.events(subscriber)[-1]
    assert (event["source"], event["actor"], event["evidence"]) == ("system", "system", {"reason": "pending_expired"})
    assert store.verify_chain(subscriber).intact
    asyncio.run(worker.run_once())  # nothing more to record
    assert store.events(subscriber)[-1]["id"] == event["id"]

    key = make_key(CENTER, "read")
    feed = app_client.get(f"/api/v1/centers/{CENTER}/events", headers={"Authorization": f"Bearer {key}"}).json()
    last = [e for e in feed["events"] if e["subscriber_id"] == subscriber][-1]
    assert [(c["path"], c["from"], c["to"]) for c in last["changes"]] == [("inspirations.email", PENDING, EXPIRED)]
    assert last["source"] == "system"


def implied_consent(store, clock, days: int = 730, address: str = "alex@example.ca") -> str:
    """A Canadian customer's implied consent after a purchase (CASL: two years), stored as the API would."""
    subscriber = store.create_subscriber(CENTER, email=address, locale="en")
    since = clock()
    desired = Preferences(subscriptions={("offers", "email"): OPTED_IN}, country="CA",
                          bases={("offers", "email"): Basis("soft_opt_in", since, since + timedelta(days=days),
                                                            "purchase")})
    store.save(CENTER, subscriber, desired, base_version=0, context=EventContext(source="api", actor="key:test"))
    stored = store.get(CENTER, subscriber).preferences
    assert stored.basis("offers", "email").until == since + timedelta(days=days)
    return subscriber


def test_a_basis_whose_lifetime_ends_expires_with_its_evidence(app_client, store, clock) -> None:
    subscriber = implied_consent(store, clock)
    until = store.get(CENTER, subscriber).preferences.basis("offers", "email").until
    clock.advance(days=731)
    asyncio.run(worker_of(app_client, store, clock).run_once())
    assert store.get(CENTER, subscriber).preferences.state("offers", "email") == EXPIRED
    event = store.events(subscriber)[-1]
    assert event["source"] == "system" and event["evidence"] == {
        "reason": "basis_expired", "legal_basis": "soft_opt_in", "until": until.isoformat(timespec="seconds")}


def test_a_reminder_once_before_the_end_and_its_click_renews(app_client, store, clock, settings) -> None:
    subscriber = implied_consent(store, clock)
    worker = worker_of(app_client, store, clock)
    clock.advance(days=699)  # 31 days before the end: the rule reminds 30 days ahead
    asyncio.run(worker.run_once())
    with store.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(repermission_reminders)) == 0
    clock.advance(days=2)
    asyncio.run(worker.run_once())
    asyncio.run(worker.run_once())  # once per subscription and expiry
    with store.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(repermission_reminders)) == 1
        assert connection.scalar(select(func.count()).select_from(mail_outbox)
                                 .where(mail_outbox.c.kind == "repermission")) == 1
    [message] = mails_in(Path(settings.mail_dir), 1)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    link = re.search(r"(http://\S+/confirm\?t=\S+)", text).group(1)
    path = link.split("127.0.0.1:8000", 1)[1]
    events = len(store.events(subscriber))
    page = app_client.get(path)
    assert page.status_code == 200 and "Keep me subscribed" in page.text
    assert len(store.events(subscriber)) == events  # the GET changes nothing
    done = app_client.post(f"/c/{CENTER}/confirm", data={"t": path.partition("?t=")[2]},
                           headers=same_origin(app_client))
    assert done.status_code == 200
    prefs = store.get(CENTER, subscriber).preferences
    basis = prefs.basis("offers", "email")
    assert prefs.state("offers", "email") == OPTED_IN and basis.legal_basis == "consent" and basis.since == clock()
    assert basis.until is None  # express consent lasts until withdrawn in Canada
    event = store.events(subscriber)[-1]
    assert (event["source"], event["evidence"]["method"]) == ("email_link", "repermission")
    replay = app_client.post(f"/c/{CENTER}/confirm", data={"t": path.partition("?t=")[2]},
                             headers=same_origin(app_client))
    assert replay.status_code == 410 and store.events(subscriber)[-1]["id"] == event["id"]
    tampered = path.partition("?t=")[2][:-4] + "AAAA"
    assert app_client.post(f"/c/{CENTER}/confirm", data={"t": tampered},
                           headers=same_origin(app_client)).status_code == 403
    assert store.events(subscriber)[-1]["id"] == event["id"]
    clock.advance(days=60)  # past the old end: nothing expires any more
    asyncio.run(worker.run_once())
    assert store.get(CENTER, subscriber).preferences.state("offers", "email") == OPTED_IN


def test_two_workers_at_once_record_each_expiry_once(app_client, store, clock) -> None:
    subscribers = [implied_consent(store, clock, days=10, address=f"alex{n}@example.ca") for n in range(6)]
    clock.advance(days=11)
    first, second = worker_of(app_client, store, clock), worker_of(app_client, store, clock)

    async def both() -> None:
        await asyncio.gather(first.run_once(), second.run_once())

    asyncio.run(both())
    for subscriber in subscribers:
        expiries = [e for e in store.events(subscriber) if e["source"] == "system"]
        assert len(expiries) == 1 and store.verify_chain(subscriber).intact


def test_reminders_are_read_page_by_page_until_the_horizon(app_client, store, clock) -> None:
    subscribers = [implied_consent(store, clock, address=f"kim{n}@example.ca") for n in range(5)]
    state = app_client.app.state
    worker = LifecycleWorker(store, clock, state.changes, state.centers, batch=2)
    clock.advance(days=701)
    asyncio.run(worker.remind_due())
    with store.engine.connect() as connection:
        reminded = {row[0] for row in connection.execute(select(repermission_reminders.c.subscriber_id))}
    assert reminded == set(subscribers)


def one_click(app_client, message) -> int:
    """The mail client's unsubscribe button (RFC 8058): a POST of the List-Unsubscribe URL."""
    url = message["List-Unsubscribe"].strip("<>")
    return app_client.post(url.split("127.0.0.1:8000", 1)[1], data={"List-Unsubscribe": "One-Click"}).status_code


def test_a_text_message_reminders_unsubscribe_button_stops_text_messages_only(app_client, store, clock,
                                                                             settings) -> None:
    """Its List-Unsubscribe names the subscription it is about: an e-mail consent stays."""
    subscriber = store.create_subscriber(CENTER, email="sam@example.ca", locale="en")
    since = clock()
    store.save(CENTER, subscriber, Preferences(
        subscriptions={("offers", "email"): OPTED_IN, ("offers", "sms"): OPTED_IN}, country="CA",
        bases={("offers", "email"): Basis("consent", since, None),
               ("offers", "sms"): Basis("soft_opt_in", since, since + timedelta(days=183), "inquiry")}),
        base_version=0, context=EventContext(source="api", actor="key:test"))
    clock.advance(days=160)
    asyncio.run(worker_of(app_client, store, clock).run_once())
    [message] = mails_in(Path(settings.mail_dir), 1)
    assert "Text message (SMS)" in message.get_body(("plain",)).get_content()
    assert one_click(app_client, message) == 200
    prefs = store.get(CENTER, subscriber).preferences
    assert prefs.state("offers", "sms") == "opted_out" and prefs.state("offers", "email") == OPTED_IN


def test_a_topic_no_longer_offered_gets_no_reminder_but_still_expires(client_for, centers, store, clock,
                                                                      settings) -> None:
    """The center file dropped the topic: nothing to renew (a mail would name a bare id), and its
    consent still ends on time, as a system event."""
    from dataclasses import replace

    subscriber = implied_consent(store, clock)
    center = centers[CENTER]
    without = {**centers, CENTER: replace(center, topics=tuple(t for t in center.topics if t.id != "offers"))}
    app = client_for(centers=without, options={"run_lifecycle": False})
    worker = worker_of(app, store, clock)
    clock.advance(days=701)  # inside the 30 days' reminder window
    asyncio.run(worker.run_once())
    with store.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(mail_outbox)
                                 .where(mail_outbox.c.kind == "repermission")) == 0
    clock.advance(days=30)
    asyncio.run(worker.run_once())
    assert store.get(CENTER, subscriber).preferences.state("offers", "email") == EXPIRED
