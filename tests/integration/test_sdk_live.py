"""The SDK's clients against a real server: the same calls, typed results and typed errors."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from preference_sdk._client import AsyncClient, Client
from preference_sdk._exceptions import (
    AuthenticationError,
    Conflict,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationError,
)
from preference_sdk._links import LinkMinter
from preference_sdk._models import Preferences

from widget_server.ledger import EventContext
from widget_server.preferences import Preferences as StoredPreferences

CENTER = "maison-lumiere"


@pytest.fixture
def client(live_server, make_key):
    with Client(live_server.url, make_key(CENTER, "admin"), CENTER, retries=0) as sdk:
        yield sdk


def test_a_subscriber_round_trip_with_typed_results(client) -> None:
    # In Canada an e-mail opt-in needs no confirmation (in the EU, and by default, it waits: pending).
    made = client.create_subscriber(external_id="crm-42", email="ines@example.org", locale="fr", country="CA",
                                    preferences={"subscriptions": {"offers": {"email": "opted_in"}}})
    assert isinstance(made, Preferences) and made.state("offers", "email") == "opted_in"
    assert made.country == "CA" and made.basis("offers", "email").legal_basis == "consent"
    assert client.find_by_external_id("crm-42") == made
    assert client.find_by_external_id("crm-nobody") is None
    changed = client.set_preferences(made.subscriber_id, version=made.version,
                                     subscriptions={"offers": {"email": "opted_out", "sms": "opted_in"}})
    assert changed.version == 2 and changed.state("offers", "sms") == "opted_in"
    with pytest.raises(StaleVersion) as stale:
        client.set_preferences(made.subscriber_id, version=1, subscriptions={})
    assert stale.value.current_version == 2
    paused = client.update_preferences(made.subscriber_id,
                                       paused_until=datetime.now(timezone.utc) + timedelta(days=30))
    assert paused.paused_until is not None
    assert client.update_preferences(made.subscriber_id, paused_until=None).paused_until is None
    decision = client.can_contact(made.subscriber_id, "offers", "sms", digest=True)
    assert decision.allowed and decision.reason == "opted_in"
    assert not client.can_contact(made.subscriber_id, "offers", "sms")  # the default frequency is a digest
    assert not client.can_contact(made.subscriber_id, "offers", "email", digest=True)
    assert client.center().topic("offers").kind == "marketing"


def test_bases_and_regions_answer_the_same_online_and_offline(client) -> None:
    """A Canadian soft opt-in after an inquiry lasts 6 months: past them, the server's decision and
    the SDK's own (from the center's rules and the document) both say expired; a US subscriber
    never asked may get e-mail (CAN-SPAM), on legitimate interest."""
    from preference_sdk import can_contact

    center = client.center()
    assert center.rule_for("CA", "email").lifetime_days["soft_opt_in.inquiry"] == 183
    canadian = client.create_subscriber(external_id="crm-ca", country="CA")
    since = (datetime.now(timezone.utc) - timedelta(days=200)).isoformat()
    old = client.update_preferences(canadian.subscriber_id, subscriptions={"offers": {"email": {
        "state": "opted_in", "legal_basis": "soft_opt_in", "reason": "inquiry", "since": since}}})
    assert old.basis("offers", "email").reason == "inquiry"
    online = client.can_contact(canadian.subscriber_id, "offers", "email", digest=True)
    assert (online.allowed, online.reason) == (False, "expired")
    assert can_contact(old, center, "offers", "email", digest=True) == online
    moved = client.update_preferences(canadian.subscriber_id, country="US",
                                      subscriptions={"offers": {"email": "unknown"}})
    assert moved.country == "US"
    online = client.can_contact(moved.subscriber_id, "offers", "email", digest=True)
    assert (online.allowed, online.reason, online.legal_basis) == (True, "opt_out_region", "legitimate_interest")
    assert can_contact(moved, center, "offers", "email", digest=True) == online


def test_typed_errors(live_server, make_key, client) -> None:
    with Client(live_server.url, "pck_nothing_here", CENTER, retries=0) as anonymous:
        with pytest.raises(AuthenticationError):
            anonymous.center()
    with Client(live_server.url, make_key(CENTER, "read"), CENTER, retries=0) as reader:
        with pytest.raises(PermissionDenied):
            reader.create_subscriber()
    with pytest.raises(NotFound):
        client.get_preferences("sub_nobody")
    with pytest.raises(ValidationError) as invalid:
        client.create_subscriber(preferences={"subscriptions": {"offers": {"fax": "opted_in"}}})
    assert invalid.value.errors[0]["path"] == "subscriptions.offers.fax"
    client.create_subscriber(external_id="dup")
    with pytest.raises(Conflict):
        client.create_subscriber(external_id="dup")


def test_links_minted_offline_open_the_widget(live_server, settings, client, clock) -> None:
    sid = client.create_subscriber().subscriber_id
    # The server runs on the test's clock; a link signed "in its future" would be refused.
    minter = LinkMinter(live_server.url, settings.secret_keys, clock=lambda: clock().timestamp())
    assert httpx.get(minter.manage_url(CENTER, sid, locale="en")).status_code == 200
    headers = minter.list_unsubscribe_headers(CENTER, sid, topic="offers")
    url = headers["List-Unsubscribe"].strip("<>")
    one_click = httpx.post(url, content=headers["List-Unsubscribe-Post"],
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200
    assert client.get_preferences(sid).state("offers", "email") == "opted_out"


def test_export_erase_and_the_feed(client) -> None:
    sid = client.create_subscriber(email="zoe@example.org",
                                   preferences={"subscriptions": {"offers": {"email": "opted_in"}}}).subscriber_id
    assert client.export(sid)["contact_points"][0]["value"] == "zoe@example.org"
    assert client.erase(sid)["already_erased"] is False
    events = list(client.iter_events(after=0, limit=1))
    assert [e.version for e in events if e.subscriber_id == sid] == [1, 2]
    assert events[-1].erased


def test_revoking_a_subscribers_links_from_the_sdk(live_server, settings, client, clock) -> None:
    sid = client.create_subscriber().subscriber_id
    minter = LinkMinter(live_server.url, settings.secret_keys, clock=lambda: clock().timestamp())
    link = minter.manage_url(CENTER, sid, locale="en")
    assert httpx.get(link).status_code == 200
    after = client.revoke_links(sid)
    assert after.tzinfo is not None and after > clock()
    assert httpx.get(link).status_code == 401  # answered as an expired link: "send me a new one"
    with pytest.raises(NotFound):
        client.revoke_links("sub_nobody")


def test_the_async_client_makes_the_same_calls(live_server, make_key) -> None:
    key = make_key(CENTER, "write")

    async def run() -> None:
        async with AsyncClient(live_server.url, key, CENTER, retries=0) as sdk:
            made = await sdk.create_subscriber(external_id="crm-async")
            assert (await sdk.get_preferences(made.subscriber_id)) == made
            page = await sdk.events(after=0)
            assert page.next_cursor >= 0
            assert (await sdk.revoke_links(made.subscriber_id)).tzinfo is not None

    asyncio.run(run())


def test_the_feed_has_no_gap_and_no_duplicate_under_concurrent_writers(live_server, make_key, store) -> None:
    """Writers commit while a reader follows the feed; the reader ends with every event once, in order."""
    subscribers = [store.create_subscriber(CENTER) for _ in range(8)]
    done = threading.Event()

    def writer(sid: str) -> None:
        for i in range(25):
            current = store.get(CENTER, sid).preferences
            state = "opted_in" if i % 2 == 0 else "opted_out"
            store.save(CENTER, sid, StoredPreferences(subscriptions={("offers", "email"): state},
                                                      version=current.version),
                       base_version=current.version, context=EventContext(source="api", actor="system"))

    threads = [threading.Thread(target=writer, args=(s,)) for s in subscribers]
    seen: list[int] = []
    with Client(live_server.url, make_key(CENTER, "read"), CENTER, retries=0) as reader:
        for t in threads:
            t.start()

        def watch() -> None:
            cursor = 0
            while True:
                finished = done.is_set()
                page = reader.events(after=cursor, limit=7)
                seen.extend(e.id for e in page.events)
                cursor = page.next_cursor
                if finished and not page.has_more and not page.events:
                    return

        watcher = threading.Thread(target=watch)
        watcher.start()
        for t in threads:
            t.join()
        done.set()
        watcher.join(timeout=60)
    every = [e["id"] for s in subscribers for e in store.events(s)]
    assert len(every) == 200
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert sorted(seen) == sorted(every)
