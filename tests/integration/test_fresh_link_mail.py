""""Send me a new link" through a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import re
import time

import httpx
import pytest

from tests.helpers import Inbox, serve_app, start_smtp

CENTER = "maison-lumiere"


@pytest.fixture
def inbox():
    handler = Inbox()
    controller = start_smtp(handler)
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def mail_server(app_factory, inbox):
    handler, smtp_port = inbox
    options = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "mail_from": "prefs@maison.example"}
    server = serve_app(lambda port: app_factory(port=port, options=options))  # the real SMTP mailer
    yield server, handler
    server.stop()


def link_in(message: email.message.Message) -> str:
    body = message.get_body(("plain",)).get_content()
    return re.search(r"(http://\S+/preferences\?t=\S+)", body).group(1)


def test_an_expired_link_gets_a_working_new_one_by_mail(mail_server, store, clock) -> None:
    server, inbox = mail_server
    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    old = server.app.state.signer.mint("manage", CENTER, subscriber)
    clock.advance(days=200)
    page = httpx.get(f"{server.url}/c/{CENTER}/preferences", params={"t": old}, headers={"Accept-Language": "fr"})
    assert page.status_code == 401
    sent = httpx.post(f"{server.url}/c/{CENTER}/link", data={"t": old, "lang": "fr"},
                      headers={"Sec-Fetch-Site": "same-origin"})
    assert sent.status_code == 200 and "Consultez votre boîte de réception" in sent.text
    [message] = inbox.wait(1)
    assert message["To"] == "camille@example.org" and message["From"] == "prefs@maison.example"
    assert "Maison Lumière" in message["Subject"]
    link = link_in(message)
    assert link.startswith(f"{server.url}/c/{CENTER}/preferences?t=")
    claims = server.app.state.signer.read(link.split("t=")[1], "login", center=CENTER)
    assert claims.subscriber == subscriber and claims.locale == "fr"
    assert httpx.get(link).status_code == 200


def test_a_known_address_gets_a_link_and_an_unknown_one_the_same_answer(mail_server, store) -> None:
    server, inbox = mail_server
    store.create_subscriber(CENTER, email="Camille@Example.org")
    answers = [
        httpx.post(f"{server.url}/c/{CENTER}/link", data={"email": address, "lang": "en"},
                   headers={"Sec-Fetch-Site": "same-origin"})
        for address in ("camille@example.org ", "nobody@example.org")
    ]
    assert [a.status_code for a in answers] == [200, 200]
    # Nothing tells who is a subscriber: the pages differ only by the address typed, shown back.
    assert "camille@example.org" in answers[0].text and "nobody@example.org" in answers[1].text
    assert answers[0].text.replace("camille@example.org", "X") == answers[1].text.replace("nobody@example.org", "X")
    assert len(inbox.wait(1)) == 1
    time.sleep(0.3)
    assert len(inbox.messages) == 1


def test_asking_for_links_is_rate_limited(mail_server) -> None:
    """20 an hour per client, each request for another address (one address: 3 an hour,
    test_link_flood.py)."""
    server, _ = mail_server
    statuses = []
    while 429 not in statuses and len(statuses) < 25:
        statuses.append(httpx.post(f"{server.url}/c/{CENTER}/link", data={"email": f"x{len(statuses)}@example.org"},
                                   headers={"Sec-Fetch-Site": "same-origin"}).status_code)
    assert statuses[:10] == [200] * 10 and statuses[-1] == 429


def test_an_expired_unsubscribe_link_also_gets_a_new_link(mail_server, store, clock) -> None:
    server, inbox = mail_server
    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    old = server.app.state.signer.mint("unsubscribe", CENTER, subscriber, tp="offers")
    clock.advance(days=400)
    assert httpx.get(f"{server.url}/c/{CENTER}/unsubscribe", params={"t": old}).status_code == 401
    sent = httpx.post(f"{server.url}/c/{CENTER}/link", data={"t": old, "lang": "en"},
                      headers={"Sec-Fetch-Site": "same-origin"})
    assert sent.status_code == 200
    [message] = inbox.wait(1)
    assert message["To"] == "camille@example.org" and httpx.get(link_in(message)).status_code == 200
