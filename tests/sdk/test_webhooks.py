"""Standard Webhooks signatures: the published vector, verification, replay, rotation."""

from __future__ import annotations

import base64
import json
import re
import time

import httpx
import pytest
from preference_sdk._webhooks import (
    WebhookVerificationError,
    new_webhook_secret,
    sign_webhook,
    verify_webhook,
    webhook_headers,
)

# The Standard Webhooks specification's test vector: any of its libraries verifies what we sign.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIME = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = 1_800_000_000
BODY = json.dumps({"type": "preferences.changed", "event": {"id": 1841, "changes": []}}).encode()


@pytest.fixture
def secret() -> str:
    return new_webhook_secret()


def signed(secret: str | list[str], body: bytes = BODY, timestamp: int = NOW) -> dict[str, str]:
    return webhook_headers(secret, "msg_1841_wh_1", body, timestamp=timestamp)


def test_new_secrets_are_32_random_bytes_behind_whsec() -> None:
    first, second = new_webhook_secret(), new_webhook_secret()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", first)
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second


def test_the_standard_webhooks_vector() -> None:
    assert sign_webhook(VECTOR_SECRET, VECTOR_ID, VECTOR_TIME, VECTOR_BODY) == VECTOR_SIGNATURE
    headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIME), "webhook-signature": VECTOR_SIGNATURE}
    assert verify_webhook(headers, VECTOR_BODY, VECTOR_SECRET, now=VECTOR_TIME) == {"test": 2432232314}


def test_a_secret_without_its_prefix_signs_the_same() -> None:
    assert sign_webhook(VECTOR_SECRET.removeprefix("whsec_"), VECTOR_ID, VECTOR_TIME, VECTOR_BODY) == VECTOR_SIGNATURE


def test_headers_name_the_delivery_and_the_attempt(secret: str) -> None:
    headers = signed(secret)
    assert headers == {
        "webhook-id": "msg_1841_wh_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": sign_webhook(secret, "msg_1841_wh_1", NOW, BODY),
    }


def test_headers_default_to_now(secret: str) -> None:
    before = int(time.time())
    stamp = int(webhook_headers(secret, "msg_1", BODY)["webhook-timestamp"])
    assert before <= stamp <= int(time.time())


def test_a_fresh_delivery_is_accepted_and_parsed(secret: str) -> None:
    assert verify_webhook(signed(secret), BODY, secret, now=NOW + 5) == json.loads(BODY)


def test_a_text_body_is_its_utf8_bytes(secret: str) -> None:
    body = '{"label": "Offres spéciales"}'
    assert verify_webhook(signed(secret, body.encode()), body, secret, now=NOW) == {"label": "Offres spéciales"}


@pytest.mark.parametrize("kind", [dict, httpx.Headers])
def test_header_names_are_matched_without_case(secret: str, kind: type) -> None:
    headers = kind({name.title(): value for name, value in signed(secret).items()})
    assert verify_webhook(headers, BODY, secret, now=NOW)["type"] == "preferences.changed"


def test_a_tampered_body_is_refused(secret: str) -> None:
    tampered = BODY.replace(b"1841", b"1842")
    with pytest.raises(WebhookVerificationError, match="no webhook-signature matches"):
        verify_webhook(signed(secret), tampered, secret, now=NOW)


def test_another_delivery_id_is_refused(secret: str) -> None:
    headers = {**signed(secret), "webhook-id": "msg_1842_wh_1"}
    with pytest.raises(WebhookVerificationError, match="no webhook-signature matches"):
        verify_webhook(headers, BODY, secret, now=NOW)


def test_a_moved_timestamp_is_refused(secret: str) -> None:
    headers = {**signed(secret), "webhook-timestamp": str(NOW + 1)}
    with pytest.raises(WebhookVerificationError, match="no webhook-signature matches"):
        verify_webhook(headers, BODY, secret, now=NOW)


def test_the_wrong_secret_is_refused(secret: str) -> None:
    with pytest.raises(WebhookVerificationError, match="secret"):
        verify_webhook(signed(new_webhook_secret()), BODY, secret, now=NOW)


@pytest.mark.parametrize("signature", ["", "v1,", "v2," + VECTOR_SIGNATURE[3:], "garbage", "v1,bm90IGl0"])
def test_a_malformed_signature_is_refused(secret: str, signature: str) -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook({**signed(secret), "webhook-signature": signature}, BODY, secret, now=NOW)


def test_a_signature_with_another_version_prefix_is_not_taken_for_v1(secret: str) -> None:
    good = signed(secret)["webhook-signature"]
    with pytest.raises(WebhookVerificationError):
        verify_webhook({**signed(secret), "webhook-signature": "v1a," + good[3:]}, BODY, secret, now=NOW)


@pytest.mark.parametrize("offset, words", [(-301, "old"), (301, "future")])
def test_a_timestamp_beyond_the_tolerance_is_refused(secret: str, offset: int, words: str) -> None:
    with pytest.raises(WebhookVerificationError, match=words):
        verify_webhook(signed(secret, timestamp=NOW + offset), BODY, secret, now=NOW)


@pytest.mark.parametrize("offset", [-300, 300])
def test_a_timestamp_at_the_tolerance_is_accepted(secret: str, offset: int) -> None:
    assert verify_webhook(signed(secret, timestamp=NOW + offset), BODY, secret, now=NOW)


def test_the_tolerance_can_be_narrowed(secret: str) -> None:
    with pytest.raises(WebhookVerificationError, match="old"):
        verify_webhook(signed(secret, timestamp=NOW - 31), BODY, secret, tolerance=30, now=NOW)


def test_now_defaults_to_the_clock(secret: str) -> None:
    with pytest.raises(WebhookVerificationError, match="old"):
        verify_webhook(signed(secret, timestamp=1_000_000_000), BODY, secret)
    assert verify_webhook(webhook_headers(secret, "msg_1", BODY), BODY, secret)


@pytest.mark.parametrize("stamp", ["", "-1", "1.8e9", "soon", "１８００"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(secret: str, stamp: str) -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook({**signed(secret), "webhook-timestamp": stamp}, BODY, secret, now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused_by_name(secret: str, missing: str) -> None:
    headers = {name: value for name, value in signed(secret).items() if name != missing}
    with pytest.raises(WebhookVerificationError, match=missing):
        verify_webhook(headers, BODY, secret, now=NOW)


@pytest.mark.parametrize("body", [b"not json", b"", b"[1, 2]", b"\xff\xfe"])
def test_a_signed_body_that_is_not_a_json_object_is_refused(secret: str, body: bytes) -> None:
    with pytest.raises(WebhookVerificationError, match="JSON"):
        verify_webhook(signed(secret, body), body, secret, now=NOW)


def test_during_a_rotation_each_secret_signs_and_either_verifies() -> None:
    old, new = new_webhook_secret(), new_webhook_secret()
    headers = signed([new, old])
    assert headers["webhook-signature"] == f"{sign_webhook(new, 'msg_1841_wh_1', NOW, BODY)} " \
                                           f"{sign_webhook(old, 'msg_1841_wh_1', NOW, BODY)}"
    assert verify_webhook(headers, BODY, old, now=NOW)
    assert verify_webhook(headers, BODY, new, now=NOW)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, BODY, new_webhook_secret(), now=NOW)


def test_a_receiver_may_hold_two_secrets() -> None:
    old, new = new_webhook_secret(), new_webhook_secret()
    assert verify_webhook(signed(old), BODY, [new, old], now=NOW)
    assert verify_webhook(signed(new), BODY, [new, old], now=NOW)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(signed(new_webhook_secret()), BODY, [new, old], now=NOW)


def test_unknown_signature_versions_beside_v1_are_ignored(secret: str) -> None:
    headers = signed(secret)
    headers["webhook-signature"] = "v1a,c29tZSBlZDI1NTE5 " + headers["webhook-signature"]
    assert verify_webhook(headers, BODY, secret, now=NOW)


@pytest.mark.parametrize("bad", ["whsec_not base64!", "whsec_", [], "whsec_@@@@"])
def test_a_malformed_secret_is_a_programming_error(bad) -> None:
    with pytest.raises(ValueError, match="secret"):
        verify_webhook(signed(new_webhook_secret()), BODY, bad, now=NOW)
