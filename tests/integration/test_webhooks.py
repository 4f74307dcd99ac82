"""Webhooks end to end: a real server and a real local receiver, a failing phase, retries, order,
signatures, replay. The endpoint checks run in-process; the worker's own tests (the address a
delivery connects to) run on both engines."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time
from datetime import timedelta

import httpx
import pytest
from preference_sdk._webhooks import new_webhook_secret, verify_webhook
from sqlalchemy import select

from tests.helpers import ENGINES, Receiver, serve_app, wait_for
from widget_server.ledger import EventContext
from widget_server.preferences import Preferences
from widget_server.store import webhooks as outbox
from widget_server.store.store import utcnow
from widget_server.workers.delivery import DeliveryWorker

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"
#: These tests write through the store, which wakes no worker: the worker finds each delivery,
#: and each retry that falls due, at its next poll; a tenth of a second keeps them quick.
POLL_MS = 100
SERVER_OPTIONS = {"webhook_first_retry_ms": 100, "webhook_max_attempts": 4, "webhook_allow_private": True,
                  "webhook_poll_ms": POLL_MS}
BOTH_ENGINES = pytest.mark.parametrize("engine", ENGINES)  # the worker's queries, on each engine


@pytest.fixture
def webhook_server(app_factory, make_key):
    server = serve_app(lambda port: app_factory(port=port, options=SERVER_OPTIONS, clock=utcnow))  # retries: real time
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


def test_endpoints_must_be_https_and_public_unless_allowed(client_for, make_key) -> None:
    client = client_for(resolve=Resolver([PUBLIC]))  # every name resolves to a public address
    api = client.another(headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"})
    for private in ("http://127.0.0.1:9/x", "https://10.0.0.5/hooks", "https://169.254.169.254/latest",
                    "https://localhost:8443/", "https://[::1]/x"):
        answer = api.post(f"{BASE}/webhooks", json={"url": private})
        assert answer.status_code == 422 and answer.json()["errors"][0]["path"] == "url", private
    assert api.post(f"{BASE}/webhooks", json={"url": "https://crm.example.com/hooks"}).status_code == 201


def test_endpoint_urls_are_checked_and_can_be_removed(client_for, make_key) -> None:
    server = client_for(options=SERVER_OPTIONS, clock=utcnow, resolve=Resolver([PUBLIC]))  # as webhook_server's app
    api = server.another(headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"})
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
    silent = {"deliver_webhooks": False, "webhook_allow_private": True}
    quiet = serve_app(lambda port: app_factory(port=port, options=silent))
    try:
        api = httpx.Client(base_url=quiet.url, headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"})
        api.post(f"{BASE}/webhooks", json={"url": receiver.url})
        change(store, store.create_subscriber(CENTER), "opted_in")
        time.sleep(0.5)
        assert receiver.received == []
        quiet.stop()  # "crash": nothing was sent
        sending = {"webhook_first_retry_ms": 100, "webhook_allow_private": True, "webhook_poll_ms": POLL_MS}
        worker = serve_app(lambda port: app_factory(port=port, options=sending, clock=utcnow))
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

    from widget_server.store.tables import webhook_endpoints

    receiver = Receiver()
    options = {"webhook_first_retry_ms": 100, "webhook_max_attempts": 2, "webhook_poll_ms": POLL_MS}
    # Registration resolves each name (to a public address here); the worker never needs to.
    server = serve_app(lambda port: app_factory(port=port, options=options, clock=utcnow, resolve=Resolver([PUBLIC])))
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


# -- the address a delivery connects to ----------------------------------------------------------
#
# These drive the worker itself, with a resolver the test controls (the worker's seam for
# DNS). Addresses that look public are only ever handed to httpx.MockTransport: no packet
# leaves this machine.

PUBLIC = "93.184.215.14"  # looks public: passes the check


class Resolver:
    """Answers each question with the next of ``answers`` (the last one repeats), and notes it."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers, self.asked = list(answers), []

    async def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        return self.answers[min(len(self.asked), len(self.answers)) - 1]


def add_endpoint(store, clock, url: str) -> str:
    with store.engine.begin() as connection:
        return outbox.create_endpoint(connection, CENTER, url, None, new_webhook_secret(), clock())["id"]


def worker_pass(store, clock, *between, **options) -> dict:
    """Passes of one worker built with ``options``: one, then one after each of ``between``.

    Answers the last delivery's status and error, by endpoint.
    """
    worker = DeliveryWorker(store, clock, first_retry=timedelta(seconds=5), max_attempts=3, **options)

    async def run() -> None:
        try:
            await worker.deliver_due()
            for step in between:
                step()
                await worker.deliver_due()
        finally:
            await worker.aclose()

    asyncio.run(run())
    with store.engine.connect() as connection:
        rows = connection.execute(select(outbox.D).order_by(outbox.D.c.id)).mappings().all()
    return {r["endpoint_id"]: (r["status"], r["last_error"]) for r in rows}


@BOTH_ENGINES
def test_a_delivery_connects_to_the_address_checked_with_its_name_as_host(store, clock) -> None:
    """Resolved once: the answer checked is the address connected to, never a second answer."""
    checked = Receiver(host="127.0.0.1")
    elsewhere = Receiver(host="127.0.0.2", port=checked.port)  # where a second answer would lead
    resolver = Resolver(["127.0.0.1"], ["127.0.0.2"])
    try:
        endpoint = add_endpoint(store, clock, f"http://hooks.example.test:{checked.port}/hooks")
        change(store, store.create_subscriber(CENTER), "opted_in")
        assert worker_pass(store, clock, allow_private=True, resolve=resolver) == {endpoint: ("delivered", None)}
        assert resolver.asked == ["hooks.example.test"]
        [(headers, _)] = checked.received
        assert headers["Host"] == f"hooks.example.test:{checked.port}"
        assert elsewhere.received == []
    finally:
        checked.stop()
        elsewhere.stop()


@BOTH_ENGINES
def test_dns_rebinding_cannot_lead_a_delivery_into_the_private_network(store, clock) -> None:
    """A resolver answering a public address, then 127.0.0.1: the request goes to the public one
    (sent nowhere: MockTransport), with the name for Host and SNI; the next attempt is refused."""
    sent: list[httpx.Request] = []

    def network(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)  # so the delivery is attempted again

    resolver = Resolver([PUBLIC], ["127.0.0.1"])
    endpoint = add_endpoint(store, clock, "https://hooks.example.test/hooks")
    change(store, store.create_subscriber(CENTER), "opted_in")
    options = {"resolve": resolver, "transport": httpx.MockTransport(network)}
    assert worker_pass(store, clock, **options) == {endpoint: ("pending", "HTTP 500")}
    [request] = sent
    assert (request.url.host, request.url.port, request.headers["Host"]) == (PUBLIC, None, "hooks.example.test")
    assert request.extensions["sni_hostname"] == "hooks.example.test"
    clock.advance(seconds=6)
    assert worker_pass(store, clock, **options) == {endpoint: ("pending", "PrivateDestination")}
    assert len(sent) == 1 and resolver.asked == ["hooks.example.test"] * 2


@BOTH_ENGINES
def test_an_address_that_drops_connections_gives_way_to_the_next(store, clock) -> None:
    """A name's first address swallows the connection (a dead route); the next one gets the delivery."""
    live = Receiver(host="127.0.0.1")
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.3", live.port))
    black_hole.listen(0)
    filler = socket.create_connection(("127.0.0.3", live.port))  # the queue is full: later connects hang
    try:
        endpoint = add_endpoint(store, clock, f"http://hooks.example.test:{live.port}/hooks")
        change(store, store.create_subscriber(CENTER), "opted_in")
        resolver = Resolver(["127.0.0.3", "127.0.0.1"])
        assert worker_pass(store, clock, allow_private=True, resolve=resolver) == {endpoint: ("delivered", None)}
        assert len(live.received) == 1
    finally:
        filler.close()
        black_hole.close()
        live.stop()


@BOTH_ENGINES
def test_every_address_of_a_name_is_checked(store, clock) -> None:
    sent: list[httpx.Request] = []
    endpoint = add_endpoint(store, clock, "https://hooks.example.test/hooks")
    change(store, store.create_subscriber(CENTER), "opted_in")
    options = {"resolve": Resolver([PUBLIC, "127.0.0.1"]),
               "transport": httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200))}
    assert worker_pass(store, clock, **options) == {endpoint: ("pending", "PrivateDestination")}
    assert sent == []


@BOTH_ENGINES
def test_https_checks_the_certificate_against_the_name_at_the_checked_address(store, clock, tmp_path,
                                                                             monkeypatch) -> None:
    """The connection goes to the address, SNI and the certificate check use the URL's name,
    and a connection opened for one name is not reused for another at the same address."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=hooks.example.test", "-addext",
                    "subjectAltName=DNS:hooks.example.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the worker trusts it, as an operator's own CA
    names: list[str] = []
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    tls.sni_callback = lambda _socket, name, _context: names.append(name)
    receiver = Receiver(tls=tls)
    endpoints: dict[str, str] = {}

    def then_another_name() -> None:
        # Same address, a name the certificate does not name, in the same worker: no connection
        # the first pass opened to that address may carry this name's delivery.
        assert names == ["hooks.example.test"] and len(receiver.received) == 1
        endpoints["other"] = add_endpoint(store, clock, f"https://other.example.test:{receiver.port}/hooks")
        with store.engine.begin() as connection:
            outbox.disable(connection, endpoints["good"], clock())
        change(store, store.create_subscriber(CENTER), "opted_in")

    try:
        endpoints["good"] = add_endpoint(store, clock, f"https://hooks.example.test:{receiver.port}/hooks")
        change(store, store.create_subscriber(CENTER), "opted_in")
        outcomes = worker_pass(store, clock, then_another_name, allow_private=True, resolve=Resolver(["127.0.0.1"]))
        assert outcomes[endpoints["good"]] == ("delivered", None)
        assert receiver.received[0][0]["Host"] == f"hooks.example.test:{receiver.port}"
        assert outcomes[endpoints["other"]] == ("pending", "ConnectError")  # the certificate does not match
        assert names == ["hooks.example.test", "other.example.test"] and len(receiver.received) == 1
    finally:
        receiver.stop()


@BOTH_ENGINES
def test_an_environment_proxy_still_carries_deliveries(store, clock, monkeypatch) -> None:
    """With HTTP(S)_PROXY set, the proxy connects (the name is checked here first)."""
    proxy = Receiver()  # a plain HTTP proxy gets the absolute URL and answers itself here
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        endpoint = add_endpoint(store, clock, "http://hooks.example.test/hooks")
        change(store, store.create_subscriber(CENTER), "opted_in")
        resolver = Resolver([PUBLIC])
        assert worker_pass(store, clock, resolve=resolver) == {endpoint: ("delivered", None)}
        assert resolver.asked == ["hooks.example.test"]
        [(headers, _)] = proxy.received
        assert headers["Host"] == "hooks.example.test"
    finally:
        proxy.stop()
