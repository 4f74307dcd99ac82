"""The proof in the API, on SQLite and PostgreSQL: a subscriber's chain verification
(``GET .../verification``, read scope; the SDK's ``verify_chain``)."""

from __future__ import annotations

import pytest
from preference_sdk import ChainVerification, Client
from preference_sdk import NotFound as SdkNotFound
from sqlalchemy import update

from tests.helpers import ENGINES
from widget_server.store.tables import events, subscribers

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def reader(client, make_key):
    with client.another(headers={"Authorization": f"Bearer {make_key(CENTER, 'read')}"}) as api:
        yield api


@pytest.fixture
def subscriber(client, make_key) -> str:
    """A subscriber made through the API with two changes: two events."""
    headers = {"Authorization": f"Bearer {make_key(CENTER, 'write')}"}
    made = client.post(f"{BASE}/subscribers", headers=headers, json={
        "external_id": "crm-9", "preferences": {"subscriptions": {"offers": {"sms": "opted_in"}}}})
    assert made.status_code == 201, made.text
    sid = made.json()["subscriber_id"]
    changed = client.patch(f"{BASE}/subscribers/{sid}/preferences", headers={**headers, "If-Match": '"1"'},
                           json={"subscriptions": {"offers": {"sms": "opted_out"}}})
    assert changed.status_code == 200, changed.text
    return sid


def test_an_intact_chain_says_so(reader, subscriber: str) -> None:
    answer = reader.get(f"{BASE}/subscribers/{subscriber}/verification")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"subscriber_id": subscriber, "intact": True, "events": 2, "legacy": 0,
                             "anchored": True, "broken": []}


def test_a_tampered_chain_names_the_event(reader, store, subscriber: str) -> None:
    first = store.events(subscriber)[0]
    with store.engine.begin() as connection:
        connection.execute(update(events).where(events.c.id == first["id"]).values(actor="agent:7"))
    body = reader.get(f"{BASE}/subscribers/{subscriber}/verification").json()
    assert body["intact"] is False and body["anchored"] is True
    assert body["broken"] == [{"event_id": first["id"], "version": 1, "reason": "its hash does not match its content"}]


def test_a_subscriber_whose_events_were_deleted_is_not_intact(reader, store, subscriber: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(events.delete().where(events.c.subscriber_id == subscriber))
        connection.execute(update(subscribers).where(subscribers.c.id == subscriber).values(version=0))
    body = reader.get(f"{BASE}/subscribers/{subscriber}/verification").json()
    assert body["intact"] is False and body["events"] == 0 and body["anchored"] is False
    assert any("the anchor says 2 events, 0 found" in b["reason"] for b in body["broken"])


def test_another_centers_subscriber_or_nobody_is_a_404(reader, client, make_key, subscriber: str) -> None:
    assert reader.get(f"{BASE}/subscribers/sub_nobody/verification").status_code == 404
    other = {"Authorization": f"Bearer {make_key('voyago', 'read')}"}
    assert client.get(f"/api/v1/centers/voyago/subscribers/{subscriber}/verification",
                      headers=other).status_code == 404


def test_the_sdk_verifies(client, make_key, store, subscriber: str) -> None:
    with Client(client.url, make_key(CENTER, "read"), CENTER, transport=client.transport) as sdk:
        verified = sdk.verify_chain(subscriber)
        assert isinstance(verified, ChainVerification)
        assert verified.intact and verified.events == 2 and verified.anchored and verified.broken == ()
        with store.engine.begin() as connection:
            connection.execute(update(events).where(events.c.subscriber_id == subscriber, events.c.version == 2)
                               .values(locale="en"))
        broken = sdk.verify_chain(subscriber)
        assert not broken.intact and [(b.version, b.reason) for b in broken.broken] == [
            (2, "its hash does not match its content")]
        with pytest.raises(SdkNotFound):
            sdk.verify_chain("sub_nobody")


def test_the_verification_is_in_the_openapi_document(client) -> None:
    document = client.get("/schema/openapi.json").json()
    operation = document["paths"]["/api/v1/centers/{center_id}/subscribers/{subscriber_id}/verification"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Verification"}
    assert set(document["components"]["schemas"]["Verification"]["properties"]) == {
        "subscriber_id", "intact", "events", "legacy", "anchored", "broken"}
