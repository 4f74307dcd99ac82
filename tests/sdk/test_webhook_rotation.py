"""``rotate_webhook_secret`` through Client and AsyncClient (the harness of test_client.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from preference_sdk._models import WebhookEndpoint

from tests.sdk.test_client import ENDPOINT, PREFIX, Harness, Server, answer

ROTATED = {key: value for key, value in ENDPOINT.items() if key != "counts"} | {
    "secret": "whsec_new", "previous_secret_expires_at": "2026-11-24T14:03:11.201Z"}


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest) -> Harness:
    return Harness(request.param)


def test_rotate_webhook_secret(call: Harness) -> None:
    server = Server(answer(200, ROTATED))
    rotated = call(server, "rotate_webhook_secret", "wh_1", expire_previous_in=3600)
    assert isinstance(rotated, WebhookEndpoint) and rotated.secret == "whsec_new"
    assert rotated.previous_secret_expires_at == datetime(2026, 11, 24, 14, 3, 11, 201000, tzinfo=timezone.utc)
    request = server.request
    assert (request.method, request.url.path) == ("POST", f"{PREFIX}/webhooks/wh_1/rotate-secret")
    assert server.body() == {"expire_previous_in": 3600}
    assert "idempotency-key" in request.headers  # a retry replays the answer: one rotation, one secret

    server = Server(answer(200, ROTATED))
    call(server, "rotate_webhook_secret", "wh/1")
    assert server.body() == {"expire_previous_in": 86_400}
    assert server.request.url.raw_path.decode() == f"{PREFIX}/webhooks/wh%2F1/rotate-secret"


def test_an_endpoint_listed_has_no_rotation_time() -> None:
    assert WebhookEndpoint.from_json(ENDPOINT).previous_secret_expires_at is None
