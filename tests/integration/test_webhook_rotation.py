"""Rotating a webhook secret: both secrets sign during the overlap, then only the new one.

A real server on 127.0.0.1 with the test's clock, a real local receiver, and the SDK.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from preference_sdk import Client, WebhookEndpoint, WebhookVerificationError, sign_webhook, verify_webhook

from tests.helpers import ENGINES, Receiver, serve_app, wait_for
from tests.integration.test_webhooks import CENTER, PUBLIC, Resolver, change
from widget_server.store import webhooks as outbox

BASE = f"/api/v1/centers/{CENTER}"


@pytest.fixture
def server(app_factory):
    # Changes are written through the store, which wakes no worker: it polls for them, quickly.
    options = {"webhook_allow_private": True, "webhook_poll_ms": 100}
    # Every name resolves to a public address (registration resolves it): no DNS question leaves.
    server = serve_app(lambda port: app_factory(port=port, options=options, resolve=Resolver([PUBLIC])))
    yield server
    server.stop()


@pytest.fixture
def admin_key(make_key) -> str:
    return make_key(CENTER, "admin")


@pytest.fixture
def api(server, admin_key):
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin_key}"}) as client:
        yield client


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


class Deliveries:
    """Makes a change and returns the delivery it caused, as the receiver got it."""

    def __init__(self, store, receiver: Receiver) -> None:
        self.store, self.receiver = store, receiver
        self.subscriber = store.create_subscriber(CENTER)
        self.states = iter(["opted_in", "opted_out"] * 10)

    def next(self) -> tuple[dict[str, str], bytes]:
        seen = len(self.receiver.received)
        change(self.store, self.subscriber, next(self.states))
        wait_for(lambda: len(self.receiver.received) > seen)
        headers, body = self.receiver.received[-1]
        return {k.lower(): v for k, v in headers.items()}, body


def signed_by(headers: dict[str, str], body: bytes, *secrets: str) -> list[str]:
    """The signatures ``secrets`` give this delivery, in order."""
    return [sign_webhook(s, headers["webhook-id"], int(headers["webhook-timestamp"]), body) for s in secrets]


def test_both_secrets_sign_during_the_overlap_then_only_the_new_one(server, admin_key, api, receiver, store,
                                                                   clock) -> None:
    made = api.post(f"{BASE}/webhooks", json={"url": receiver.url}).json()
    first = made["secret"]
    deliveries = Deliveries(store, receiver)
    headers, body = deliveries.next()
    assert headers["webhook-signature"].split() == signed_by(headers, body, first)

    with Client(server.url, admin_key, CENTER) as client:
        rotated = client.rotate_webhook_secret(made["id"])  # the default overlap: a day
    assert isinstance(rotated, WebhookEndpoint) and rotated.id == made["id"] and rotated.url == receiver.url
    assert rotated.secret.startswith("whsec_") and rotated.secret != first
    assert abs(rotated.previous_secret_expires_at - (clock() + timedelta(days=1))) < timedelta(milliseconds=1)

    headers, body = deliveries.next()
    assert headers["webhook-signature"].split() == signed_by(headers, body, rotated.secret, first)
    now = clock().timestamp()
    for holding in (first, rotated.secret, [rotated.secret, first]):  # a receiver not yet updated, or updated
        verify_webhook(headers, body, holding, now=now)

    listed = api.get(f"{BASE}/webhooks").json()["webhooks"]
    assert not any("secret" in key for key in listed[0])

    clock.advance(days=1, seconds=1)
    headers, body = deliveries.next()
    assert headers["webhook-signature"].split() == signed_by(headers, body, rotated.secret)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, body, first, now=clock().timestamp())


def test_rotating_again_keeps_only_the_newest_previous_secret(api, receiver, store) -> None:
    endpoint = api.post(f"{BASE}/webhooks", json={"url": receiver.url}).json()
    rotate = f"{BASE}/webhooks/{endpoint['id']}/rotate-secret"
    # No body at all, even one labelled as a form (curl -d ''): the default overlap, not a 415.
    as_a_form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert api.post(rotate, content=b"", headers=as_a_form).status_code == 200
    second = api.post(rotate, json={"expire_previous_in": 3600}).json()["secret"]
    third = api.post(rotate, json={"expire_previous_in": 3600}).json()["secret"]
    deliveries = Deliveries(store, receiver)
    headers, body = deliveries.next()
    assert headers["webhook-signature"].split() == signed_by(headers, body, third, second)

    answer = api.post(rotate, json={"expire_previous_in": 0})  # the previous secret ends now
    assert answer.status_code == 200
    fourth = answer.json()
    assert fourth["previous_secret_expires_at"] == fourth["created_at"]  # the test's clock stands still
    headers, body = deliveries.next()
    assert headers["webhook-signature"].split() == signed_by(headers, body, fourth["secret"])


def test_a_rotation_answered_twice_for_one_idempotency_key_rotates_once(api, receiver, store) -> None:
    endpoint = api.post(f"{BASE}/webhooks", json={"url": receiver.url}).json()
    rotate = f"{BASE}/webhooks/{endpoint['id']}/rotate-secret"
    first = api.post(rotate, headers={"Idempotency-Key": "rotate-1"})  # no body: the defaults
    again = api.post(rotate, headers={"Idempotency-Key": "rotate-1"})
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    headers, body = Deliveries(store, receiver).next()
    assert headers["webhook-signature"].split() == signed_by(headers, body, first.json()["secret"],
                                                             endpoint["secret"])


def test_rotation_refuses_what_it_cannot_do(api, make_key, server) -> None:
    endpoint = api.post(f"{BASE}/webhooks", json={"url": "https://crm.example.com/hooks"}).json()
    rotate = f"{BASE}/webhooks/{endpoint['id']}/rotate-secret"
    for seconds in (-1, 604_801, 10**30):
        answer = api.post(rotate, json={"expire_previous_in": seconds})
        assert answer.status_code == 422, seconds
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["errors"] == [{"path": "expire_previous_in",
                                            "message": "a number of seconds from 0 to 604800"}]
    assert api.post(rotate, json={"expire_previous_in": 604_800}).status_code == 200
    assert api.post(rotate, json={"expire_previous_in": "a day"}).status_code == 400
    assert api.post(rotate, json={"keep": 1}).status_code == 400
    assert api.post(f"{BASE}/webhooks/whe_0000000000000000/rotate-secret").status_code == 404
    writer = httpx.post(f"{server.url}{rotate}", headers={"Authorization": f"Bearer {make_key(CENTER, 'write')}"})
    assert writer.status_code == 403
    assert api.delete(f"{BASE}/webhooks/{endpoint['id']}").status_code == 204
    gone = api.post(rotate)
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"


@pytest.mark.parametrize("engine", ENGINES)
def test_the_store_swaps_secrets_in_one_statement(store, clock) -> None:
    """``previous_secret`` takes the value ``secret`` had before the same UPDATE, on both engines."""
    with store.engine.begin() as connection:
        endpoint = outbox.create_endpoint(connection, CENTER, "https://crm.example.com/hooks", None, "whsec_QQ==",
                                          clock())["id"]
        until = outbox.rotate_secret(connection, endpoint, "whsec_Qg==", clock(), timedelta(hours=1))
    assert until == clock() + timedelta(hours=1)
    with store.engine.connect() as connection:
        assert outbox.target(connection, endpoint, clock())["secrets"] == ("whsec_Qg==", "whsec_QQ==")
        assert outbox.target(connection, endpoint, until)["secrets"] == ("whsec_Qg==",)
    with store.engine.begin() as connection:
        outbox.rotate_secret(connection, endpoint, "whsec_Qw==", clock(), timedelta(0))
        assert outbox.target(connection, endpoint, clock())["secrets"] == ("whsec_Qw==",)
