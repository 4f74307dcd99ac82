"""Webhooks end to end: a real local receiver, a failing phase, retries, order, signatures, replay."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from preference_sdk._webhooks import verify_webhook

from tests.conftest import free_port, serve
from widget_server.ledger import EventContext
from widget_server.preferences import Preferences
from widget_server.store.subscribers import utcnow

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"


class Receiver:
    """A CRM's webhook endpoint: answers ``fail_first`` requests with 500, then 200."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[dict, bytes]] = []
        self.accepted: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver.lock:
                    receiver.received.append((dict(self.headers), body))
                    ok = len(receiver.received) > receiver.fail_first
                    if ok:
                        receiver.accepted.append(json.loads(body))
                self.send_response(200 if ok else 500)
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self) -> None:
        self.server.shutdown()


def wait_for(condition, timeout: float = 20.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.fixture
def webhook_server(app_factory, make_key):
    port = free_port()
    server = serve(app_factory(port=port, options={"webhook_first_retry_ms": 100, "webhook_max_attempts": 4,
                                             "webhook_allow_private": True},
                                    clock=utcnow), port)  # retries wait on real time
    client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"})
    yield server, client
    client.close()
    server.stop()


def change(store, subscriber: str, topic_state: str) -> None:
    current = store.get(CENTER, subscriber).preferences
    wanted = Preferences(subscriptions={("offers", "email"): topic_state}, version=current.version)
    store.save(CENTER, subscriber, wanted, base_version=current.version,
               context=EventContext(source="web", actor="subject"))


def test_deliveries_are_signed_retried_and_in_order_per_subscriber(webhook_server, store) -> None:
    server, api = webhook_server
    receiver = Receiver(fail_first=3)
    try:
        made = api.post(f"{BASE}/webhooks", json={"url": receiver.url, "description": "crm"})
        assert made.status_code == 201
        endpoint = made.json()
        secret = endpoint["secret"]
        assert secret.startswith("whsec_")
        assert "secret" not in api.get(f"{BASE}/webhooks").json()["webhooks"][0]
        alice, bob = store.create_subscriber(CENTER), store.create_subscriber(CENTER)
        for state in ("opted_in", "opted_out", "opted_in"):
            change(store, alice, state)
            change(store, bob, state)
        url = f"{BASE}/webhooks/{endpoint['id']}/deliveries"
        wait_for(lambda: len(receiver.accepted) >= 6)
        # The receiver answers before the worker records the outcome: wait for the record too.
        wait_for(lambda: not api.get(url, params={"status": "pending"}).json()["deliveries"])
        for headers, body in receiver.received:
            verify_webhook(headers, body, secret)  # raises if a signature does not verify
        for who in (alice, bob):
            versions = [p["event"]["version"] for p in receiver.accepted if p["event"]["subscriber_id"] == who]
            assert versions == sorted(versions) and set(versions) == {1, 2, 3}
        deliveries = api.get(url).json()["deliveries"]
        assert {d["status"] for d in deliveries} == {"delivered"} and len(deliveries) == 6
        assert max(d["attempts"] for d in deliveries) > 1  # the failing phase was retried
        counts = api.get(f"{BASE}/webhooks").json()["webhooks"][0]["counts"]
        assert counts == {"pending": 0, "delivered": 6, "failed": 0}
        # Replay: everything after a cursor, and one delivery.
        queued = api.post(f"{BASE}/webhooks/{endpoint['id']}/replay", json={"after": 0})
        assert queued.status_code == 202 and queued.json() == {"queued": 6}
        wait_for(lambda: len(receiver.accepted) >= 12)
        again = api.post(f"{BASE}/webhooks/{endpoint['id']}/deliveries/{deliveries[0]['id']}/replay")
        assert again.status_code == 202 and again.json()["status"] == "pending"
        wait_for(lambda: len(receiver.accepted) >= 13)
        ids = [h["webhook-id"] for h, _ in receiver.received]
        # Retries of a delivery keep its id; a replay is a new delivery with a new id, so a
        # receiver de-duplicating on the id still processes it.
        assert len(ids) > 13 and len(set(ids)) == 13
    finally:
        receiver.stop()


def test_a_delivery_that_keeps_failing_is_marked_failed_then_replayed(webhook_server, store) -> None:
    server, api = webhook_server
    receiver = Receiver(fail_first=4)  # exactly webhook_max_attempts
    try:
        endpoint = api.post(f"{BASE}/webhooks", json={"url": receiver.url}).json()
        change(store, store.create_subscriber(CENTER), "opted_in")
        url = f"{BASE}/webhooks/{endpoint['id']}/deliveries"
        wait_for(lambda: api.get(url, params={"status": "failed"}).json()["deliveries"])
        [failed] = api.get(url, params={"status": "failed"}).json()["deliveries"]
        assert failed["attempts"] == 4 and failed["last_error"] == "HTTP 500" and not receiver.accepted
        api.post(f"{url}/{failed['id']}/replay")
        wait_for(lambda: len(receiver.accepted) == 1)
        problem = api.post(f"{url}/dlv_999999/replay")
        assert problem.status_code == 404
    finally:
        receiver.stop()


def test_endpoints_must_be_https_and_public_unless_allowed(app_factory, make_key) -> None:
    port = free_port()
    server = serve(app_factory(port=port), port)
    try:
        api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"})
        for private in ("http://127.0.0.1:9/x", "https://10.0.0.5/hooks", "https://169.254.169.254/latest",
                        "https://localhost:8443/", "https://[::1]/x"):
            answer = api.post(f"{BASE}/webhooks", json={"url": private})
            assert answer.status_code == 422 and answer.json()["errors"][0]["path"] == "url", private
        assert api.post(f"{BASE}/webhooks", json={"url": "https://crm.example.com/hooks"}).status_code == 201
    finally:
        server.stop()


def test_endpoint_urls_are_checked_and_can_be_removed(webhook_server) -> None:
    _, api = webhook_server
    for bad in ("http://crm.example.com/hooks", "ftp://127.0.0.1/x", "https://user:pw@crm.example.com/",
                "https://[abc/", "https://ex\tample.com/", "not a url"):
        answer = api.post(f"{BASE}/webhooks", json={"url": bad})
        assert answer.status_code == 422 and answer.json()["errors"][0]["path"] == "url"
    made = api.post(f"{BASE}/webhooks", json={"url": "https://crm.example.com/hooks"}).json()
    assert api.delete(f"{BASE}/webhooks/{made['id']}").status_code == 204
    assert api.get(f"{BASE}/webhooks").json() == {"webhooks": []}
    assert api.delete(f"{BASE}/webhooks/{made['id']}").status_code == 404


def test_the_outbox_survives_a_server_that_stops_before_sending(app_factory, make_key, store) -> None:
    """The delivery row commits with the event: a process that dies before sending loses nothing."""
    receiver = Receiver()
    port = free_port()
    quiet = serve(app_factory(port=port, options={"deliver_webhooks": False, "webhook_allow_private": True}),
                  port)
    try:
        api = httpx.Client(base_url=quiet.url, headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"})
        api.post(f"{BASE}/webhooks", json={"url": receiver.url})
        change(store, store.create_subscriber(CENTER), "opted_in")
        time.sleep(0.5)
        assert receiver.received == []
        quiet.stop()  # "crash": nothing was sent
        port = free_port()
        worker = serve(app_factory(port=port, options={"webhook_first_retry_ms": 100, "webhook_allow_private": True},
                                     clock=utcnow), port)
        try:
            wait_for(lambda: len(receiver.accepted) == 1)
            assert receiver.accepted[0]["event"]["changes"][0]["path"] == "offers.email"
        finally:
            worker.stop()
    finally:
        receiver.stop()


def test_a_bad_destination_fails_alone_and_private_ones_are_refused_when_sending(app_factory, make_key,
                                                                                store) -> None:
    """An endpoint whose URL cannot be used records its own failure; it never stalls the batch.

    The URLs are changed in the database behind the API's back, as a DNS change or an
    older server version could leave them: the worker checks again at each attempt.
    """
    from sqlalchemy import update

    from widget_server.store.schema import webhook_endpoints

    receiver = Receiver()
    port = free_port()
    server = serve(app_factory(port=port, options={"webhook_first_retry_ms": 100, "webhook_max_attempts": 2},
                               clock=utcnow), port)
    try:
        api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"})
        good = api.post(f"{BASE}/webhooks", json={"url": "https://good.example/hooks"}).json()
        broken = api.post(f"{BASE}/webhooks", json={"url": "https://broken.example/hooks"}).json()
        private = api.post(f"{BASE}/webhooks", json={"url": "https://private.example/hooks"}).json()
        with store.engine.begin() as connection:
            for endpoint, url in ((good, receiver.url), (broken, "https://ex\tample.com/"), (private, receiver.url)):
                connection.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint["id"])
                                   .values(url=url))
        # "good" now points at a loopback receiver too: with private destinations refused it
        # must fail like "private"; nothing reaches the receiver, and every row settles.
        change(store, store.create_subscriber(CENTER), "opted_in")
        for endpoint in (good, broken, private):
            url = f"{BASE}/webhooks/{endpoint['id']}/deliveries"
            wait_for(lambda url=url: api.get(url, params={"status": "failed"}).json()["deliveries"])
        errors = {e["id"]: api.get(f"{BASE}/webhooks/{e['id']}/deliveries").json()["deliveries"][0]["last_error"]
                  for e in (good, broken, private)}
        assert errors[good["id"]] == errors[private["id"]] == "PrivateDestination"
        assert errors[broken["id"]] == "InvalidURL"
        assert receiver.received == []
    finally:
        receiver.stop()
        server.stop()
