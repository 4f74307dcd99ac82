"""The kiosk's SMS senders: the host's gateway (a real HTTP receiver on 127.0.0.1, the
request signed like a webhook) and the demo's folder; and a phone identification end
to end through the gateway."""

from __future__ import annotations

import json
import logging
import re

import anyio
import httpx
import pytest
from markupsafe import escape
from preference_sdk import new_webhook_secret, verify_webhook

from tests.helpers import Receiver, same_origin
from widget_server.settings import Settings
from widget_server.sms import TIMEOUT, FolderSmsSender, HttpSmsSender, SmsNotSent, check_gateway_url, make_sms_sender
from widget_server.store import devices

CENTER = "maison-lumiere"
NUMBER = "+33612345678"


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def secret() -> str:
    return new_webhook_secret()


def test_a_message_is_posted_as_json_and_signed_like_a_webhook(receiver, secret) -> None:
    anyio.run(HttpSmsSender(receiver.url, secret).send, NUMBER, "Maison Lumière: 123456")
    (headers, body), = receiver.received
    assert {k.lower(): v for k, v in headers.items()}["content-type"] == "application/json"
    assert verify_webhook(headers, body, secret) == {"to": NUMBER, "text": "Maison Lumière: 123456"}
    with pytest.raises(Exception, match="signature"):
        verify_webhook(headers, body, new_webhook_secret())


@pytest.mark.parametrize("url", ["https://sms.example.com/send", "http://127.0.0.1:9000/sms",
                                 "http://localhost/sms", "http://[::1]:8080/sms", "http://127.0.0.2/x"])
def test_https_or_this_machine_only_may_receive_codes(url) -> None:
    assert check_gateway_url(url) == url


@pytest.mark.parametrize("url", ["http://sms.example.com/send", "http://10.0.0.1/sms", "ftp://127.0.0.1/x",
                                 "https:///nohost", "sms.example.com", ""])
def test_a_gateway_that_could_be_read_on_the_way_is_refused(url, secret) -> None:
    with pytest.raises(ValueError, match="SMS_URL must be an https"):
        HttpSmsSender(url, secret)


def test_a_gateway_needs_a_secret_that_can_sign(receiver) -> None:
    with pytest.raises(ValueError, match="SMS_SECRET"):
        HttpSmsSender(receiver.url, "")
    with pytest.raises(ValueError, match="whsec_"):
        HttpSmsSender(receiver.url, "whsec_not base64!")


def test_a_refusal_or_no_answer_is_sms_not_sent_and_logs_neither_number_nor_text(secret, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    failing = Receiver(fail_first=1)
    try:
        with pytest.raises(SmsNotSent, match="500"):
            anyio.run(HttpSmsSender(failing.url, secret).send, NUMBER, "code 654321")
    finally:
        failing.stop()

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(SmsNotSent, match="ConnectError"):
        anyio.run(HttpSmsSender("https://sms.example.com/", secret, transport=httpx.MockTransport(unreachable)).send,
                  NUMBER, "code 654321")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "SMS gateway" in logged and NUMBER not in logged and "654321" not in logged


def test_the_gateway_has_ten_seconds_and_no_redirect(secret) -> None:
    seen: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "http://elsewhere.example/"})

    sender = HttpSmsSender("https://sms.example.com/", secret, transport=httpx.MockTransport(gateway))
    with pytest.raises(SmsNotSent, match="302"):
        anyio.run(sender.send, NUMBER, "x")
    assert len(seen) == 1 and seen[0].extensions["timeout"]["read"] == TIMEOUT == 10.0


def test_the_folder_sender_writes_whole_files(tmp_path) -> None:
    folder = tmp_path / "sms"
    sender = FolderSmsSender(folder)
    anyio.run(sender.send, NUMBER, "Voyago: 111111")
    anyio.run(sender.send, "+4915112345678", "Voyago: 222222")
    written = sorted(folder.iterdir())
    assert len(written) == 2 and all(path.suffix == ".json" for path in written)
    messages = sorted((json.loads(path.read_text("utf-8")) for path in written), key=lambda m: m["text"])
    assert messages == [{"to": NUMBER, "text": "Voyago: 111111"}, {"to": "+4915112345678", "text": "Voyago: 222222"}]


def test_the_settings_pick_the_sender(tmp_path, secret) -> None:
    assert isinstance(make_sms_sender(Settings(sms_dir=str(tmp_path))), FolderSmsSender)
    gateway = make_sms_sender(Settings(sms_url="https://sms.example.com/", sms_secret=secret))
    assert isinstance(gateway, HttpSmsSender) and gateway.url == "https://sms.example.com/"
    with pytest.raises(ValueError, match="SMS_URL must be"):
        make_sms_sender(Settings(sms_url="http://sms.example.com/", sms_secret=secret))


def test_a_phone_identification_through_the_gateway(client_for, store, clock, receiver, secret) -> None:
    client = client_for(options={"sms_url": receiver.url, "sms_secret": secret})
    with store.writing() as connection:
        device = devices.create(connection, CENTER, "paris-opera", "Tablet", clock())
    token = client.app.state.signer.mint("kiosk", CENTER, device.id, lc=device.location)
    posted = client.post(f"/c/{CENTER}/kiosk/identify", headers=same_origin(client), data={
        "t": token, "lang": "fr", "kind": "phone", "phone": "06 12 34 56 78", "proof": "code"})
    assert posted.status_code == 200
    (headers, body), = receiver.received
    message = verify_webhook(headers, body, secret)
    assert message["to"] == NUMBER
    code = re.search(r"\b(\d{6})\b", message["text"]).group(1)
    assert "Maison Lumière" in message["text"]
    session = re.search(r'name="session" value="([^"]+)"', posted.text).group(1)
    verified = client.post(f"/c/{CENTER}/kiosk/verify", headers=same_origin(client),
                           data={"t": token, "lang": "fr", "session": session, "code": code})
    assert verified.status_code == 200 and 'id="preferences"' in verified.text


def test_a_gateway_that_fails_is_a_503_in_the_visitor_s_language(client_for, store, clock, secret) -> None:
    failing = Receiver(fail_first=10)
    try:
        client = client_for(options={"sms_url": failing.url, "sms_secret": secret})
        with store.writing() as connection:
            device = devices.create(connection, CENTER, "paris-opera", "Tablet", clock())
        token = client.app.state.signer.mint("kiosk", CENTER, device.id, lc=device.location)
        posted = client.post(f"/c/{CENTER}/kiosk/identify", headers=same_origin(client), data={
            "t": token, "lang": "fr", "kind": "phone", "phone": "06 12 34 56 78", "proof": "code"})
    finally:
        failing.stop()
    assert posted.status_code == 503 and '<html lang="fr"' in posted.text
    assert escape(client.app.state.translator.gettext("fr", "We could not send the code")) in posted.text
