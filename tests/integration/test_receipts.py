"""Consent receipts (ISO/IEC TS 27560), on SQLite and PostgreSQL: a subscriber's history or one
event, signed with Ed25519; the signature verifies with the key published at
``/.well-known/jwks.json`` (by the SDK's ``verify_receipt``, which holds no secret), and a
receipt changed by one byte does not."""

from __future__ import annotations

import base64
import json

import pytest
from preference_sdk import Client, ReceiptVerificationError, SignedReceipt, verify_receipt

from tests.helpers import ENGINES
from widget_server.ledger import EventContext
from widget_server.preferences import OPTED_IN, OPTED_OUT, Preferences
from widget_server.receipt_signing import ReceiptInvalid
from widget_server.receipt_signing import verify as server_verify

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"
WEB = EventContext(source="web", actor="subject", locale="fr", notice_version="2026-11-01",
                   evidence={"method": "signed_link"})


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def reader(client, make_key):
    with client.another(headers={"Authorization": f"Bearer {make_key(CENTER, 'read')}"}) as api:
        yield api


@pytest.fixture
def subscriber(client, store) -> str:
    """Opted in to offers by e-mail on the widget, then out: two events, each naming the text shown."""
    sid = store.create_subscriber(CENTER, email="camille@example.org", locale="fr", context=WEB,
                                  preferences=Preferences(subscriptions={("offers", "email"): OPTED_IN}))
    store.save(CENTER, sid, Preferences(version=1, subscriptions={("offers", "email"): OPTED_OUT}), base_version=1,
               context=WEB)
    return sid


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_history_receipt_verifies_with_the_published_key(client, reader, store, subscriber: str) -> None:
    answer = reader.get(f"{BASE}/subscribers/{subscriber}/receipt")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    keys = client.get("/.well-known/jwks.json")
    assert keys.status_code == 200 and keys.headers["content-type"].startswith("application/jwk-set+json")
    jwks = keys.json()
    assert [k["kid"] for k in jwks["keys"]][0] == body["kid"] and "d" not in jwks["keys"][0]  # public only
    assert verify_receipt(body["jws"], jwks) == body["receipt"] == server_verify(body["jws"], jwks)
    receipt = body["receipt"]
    assert receipt["record"]["schema_version"] == "ISO/IEC TS 27560:2023"
    assert receipt["record"]["pii_principal_id"] == subscriber
    assert receipt["party_identification"][0]["party_role"] == "PII Controller"
    email = next(p for p in receipt["pii_processing"]["purposes"] if p["purpose_id"] == "offers.email")
    assert (email["consent_state"], email["lawful_basis"], email["purpose"]) == ("withdrawn", "consent",
                                                                                 "Offres et promotions")
    given, withdrawn = receipt["event"]
    assert [s["state"] for s in given["states"]] == ["given"] and [s["state"] for s in withdrawn["states"]] == [
        "withdrawn"]
    assert given["entity_id"] == "subject" and given["type"] == "expressed" and given["method"] == "signed_link"
    assert given["notice_text"] and receipt["notice_texts"][given["notice_text"]]["locale"] == "fr"
    assert [e["hash"] for e in receipt["event"]] == [e["hash"] for e in store.events(subscriber)]
    assert receipt["proof"]["chain_intact"] is True and receipt["proof"]["anchored"] is True
    assert "camille@example.org" not in answer.text  # a pseudonymous record: no contact point


def test_a_receipt_changed_by_one_byte_does_not_verify(client, reader, subscriber: str) -> None:
    token = reader.get(f"{BASE}/subscribers/{subscriber}/receipt").json()["jws"]
    jwks = client.get("/.well-known/jwks.json").json()
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    at = raw.index(b'"withdrawn"') + 1
    raw[at] ^= 0x01  # "withdrawn" -> "vithdrawn"
    for forged in (f"{header}.{b64(bytes(raw))}.{signature}",
                   f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"):
        with pytest.raises(ReceiptVerificationError):
            verify_receipt(forged, jwks)
        with pytest.raises(ReceiptInvalid):
            server_verify(forged, jwks)
    other_key = {"keys": [{**jwks["keys"][0], "x": b64(bytes(32))}]}
    with pytest.raises(ReceiptVerificationError):
        verify_receipt(token, other_key)


def test_one_events_receipt(reader, store, subscriber: str) -> None:
    first, second = store.events(subscriber)
    body = reader.get(f"{BASE}/subscribers/{subscriber}/receipt", params={"event": second["id"]}).json()
    assert [e["event_id"] for e in body["receipt"]["event"]] == [second["id"]]
    assert body["receipt"]["record"]["record_id"].endswith(f"/{second['id']}")
    assert reader.get(f"{BASE}/subscribers/{subscriber}/receipt", params={"event": 999999}).status_code == 404
    assert reader.get(f"{BASE}/subscribers/sub_nobody/receipt").status_code == 404


def test_the_sdk_fetches_and_verifies_a_receipt(client, make_key, subscriber: str) -> None:
    jwks = client.get("/.well-known/jwks.json").json()
    with Client(client.url, make_key(CENTER, "read"), CENTER, transport=client.transport) as sdk:
        signed = sdk.receipt(subscriber)
        assert isinstance(signed, SignedReceipt)
        assert verify_receipt(signed.jws, jwks) == dict(signed.receipt)
        one = sdk.receipt(subscriber, event=signed.receipt["event"][0]["event_id"])
        assert len(one.receipt["event"]) == 1 and verify_receipt(one.jws, jwks) == dict(one.receipt)


def test_the_receipt_payload_is_canonical_json(reader, subscriber: str) -> None:
    body = reader.get(f"{BASE}/subscribers/{subscriber}/receipt").json()
    payload = body["jws"].split(".")[1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert raw == json.dumps(body["receipt"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
