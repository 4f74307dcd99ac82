"""The one write path: a change made on any surface is on its way to every webhook
endpoint within moments of its commit, not at the worker's next poll.

The worker here polls once a minute, so a surface that forgot to wake it would leave
its delivery waiting far past these tests' ten-second deadline. Real server, real
receiver, no sleep.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.helpers import Receiver, form_of, same_origin, serve_app, wait_for
from widget_server.preferences import OPTED_IN, OPTED_OUT, Preferences
from widget_server.store.store import utcnow

CENTER = "maison-lumiere"
POLL_MS = 60_000  # much longer than any deadline below
DEADLINE = 10.0


@pytest.fixture
def lazy_worker(app_factory, make_key):
    """A server whose webhook worker only polls once a minute, a receiver registered with it,
    and a subscriber with offers by e-mail."""
    options = {"webhook_poll_ms": POLL_MS, "webhook_allow_private": True}
    server = serve_app(lambda port: app_factory(port=port, options=options, clock=utcnow))
    receiver = Receiver()
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"})
    assert api.post(f"/api/v1/centers/{CENTER}/webhooks", json={"url": receiver.url}).status_code == 201
    yield server, receiver, api
    api.close()
    receiver.stop()
    server.stop()


def subscriber_of(store) -> str:
    return store.create_subscriber(CENTER, preferences=Preferences(subscriptions={("offers", "email"): OPTED_IN}))


def delivered_versions(receiver: Receiver, who: str) -> set[int]:
    """The versions of ``who`` the receiver has accepted (version 1, the subscriber's
    creation, goes out with the first change that wakes the worker)."""
    return {p["event"]["version"] for p in receiver.accepted if p["event"]["subscriber_id"] == who}


def untick_offers_by_email(server, who: str, *, version: str | None = None, htmx: bool = False) -> httpx.Response:
    """Open the widget as ``who`` and save it with offers by e-mail unticked (from
    ``version`` when given, to make the form stale)."""
    token = server.app.state.signer.mint("manage", CENTER, who)
    with httpx.Client(base_url=server.url) as browser:
        fields = form_of(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
        fields.pop("s.offers.email")
        if version is not None:
            fields["version"] = [version]
        headers = {**same_origin(server), **({"HX-Request": "true"} if htmx else {})}
        return browser.post(f"/c/{CENTER}/preferences", data=fields, headers=headers)


def test_a_save_from_the_widget_form_wakes_the_worker(lazy_worker, store) -> None:
    server, receiver, _ = lazy_worker
    who = subscriber_of(store)
    assert untick_offers_by_email(server, who, htmx=True).status_code == 200
    wait_for(lambda: 2 in delivered_versions(receiver, who), timeout=DEADLINE)
    [payload] = [p for p in receiver.accepted if p["event"]["subscriber_id"] == who and p["event"]["version"] == 2]
    assert payload["event"]["source"] == "web"


def test_a_one_click_unsubscribe_wakes_the_worker(lazy_worker, store) -> None:
    server, receiver, _ = lazy_worker
    who = subscriber_of(store)
    token = server.app.state.signer.mint("unsubscribe", CENTER, who, tp="offers")
    answer = httpx.post(f"{server.url}/c/{CENTER}/unsubscribe", params={"t": token},
                        data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    wait_for(lambda: 2 in delivered_versions(receiver, who), timeout=DEADLINE)
    assert store.get(CENTER, who).preferences.state("offers", "email") == OPTED_OUT


def test_the_unsubscribe_page_and_its_undo_wake_the_worker(lazy_worker, store) -> None:
    server, receiver, _ = lazy_worker
    who = subscriber_of(store)
    token = server.app.state.signer.mint("unsubscribe", CENTER, who, tp="offers")
    url = f"{server.url}/c/{CENTER}/unsubscribe"
    confirmed = httpx.post(url, data={"t": token, "action": "confirm"}, headers=same_origin(server))
    assert confirmed.status_code == 303
    wait_for(lambda: 2 in delivered_versions(receiver, who), timeout=DEADLINE)
    done = httpx.get(f"{server.url}{confirmed.headers['location']}")
    version = re.search(r'name="event" value="(\d+)"', done.text).group(1)
    undone = httpx.post(url, data={"t": token, "action": "undo", "event": version}, headers=same_origin(server))
    assert undone.status_code == 303
    wait_for(lambda: 3 in delivered_versions(receiver, who), timeout=DEADLINE)
    assert store.get(CENTER, who).preferences.opted_in("offers", "email")


def test_an_api_write_and_an_import_wake_the_worker(lazy_worker, store) -> None:
    _, receiver, api = lazy_worker
    who = subscriber_of(store)
    base = f"/api/v1/centers/{CENTER}"
    patched = api.patch(f"{base}/subscribers/{who}/preferences", headers={"If-Match": '"1"'},
                        json={"subscriptions": {"offers": {"email": "opted_out"}}})
    assert patched.status_code == 200, patched.text
    wait_for(lambda: 2 in delivered_versions(receiver, who), timeout=DEADLINE)
    row = b'{"row": 2, "external_id": "crm-9", "subscriptions": {"offers": {"email": "opted_in"}}}\n'
    imported = api.post(f"{base}/imports", params={"dry_run": "false"}, content=row,
                        headers={"Content-Type": "application/x-ndjson"})
    assert imported.status_code == 200, imported.text
    wait_for(lambda: any(p["event"]["source"] == "import" for p in receiver.accepted), timeout=DEADLINE)


def test_a_refused_save_queues_nothing(lazy_worker, store) -> None:
    """A stale form is refused whole: no event, no delivery."""
    server, _, _ = lazy_worker
    who = subscriber_of(store)
    assert untick_offers_by_email(server, who, version="0").status_code == 409
    assert [e["version"] for e in store.events(who)] == [1]
    with store.engine.connect() as connection:
        from sqlalchemy import func, select

        from widget_server.store.tables import webhook_deliveries

        # Only the creation's delivery (version 1): the refused save queued none.
        assert connection.scalar(select(func.count()).select_from(webhook_deliveries)) == 1
