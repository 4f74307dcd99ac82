""""Send me a new link" under a flood: limits per address and per client, each per center,
counted in the database; the 429 page; the same work for a known and an unknown address;
the mail outbox's worker (within a second, retries, never twice). SMTP is a real aiosmtpd
server on 127.0.0.1; a real uvicorn trusts ``X-Forwarded-For`` from 127.0.0.1, which is how
these tests come from many client addresses."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time

import httpx
import pytest
from sqlalchemy import event, select

from tests.helpers import ENGINES, serve_app, start_smtp, wait_for
from widget_server.mailer import SMTPMailer
from widget_server.store.engine import make_engine
from widget_server.store.store import Store, utcnow

CENTER, OTHER = "maison-lumiere", "voyago"
#: The defaults these tests rely on (settings.py): mails per address and requests per client, an hour.
PER_ADDRESS, PER_CLIENT = 3, 20
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


class Inbox:
    """An SMTP server's mailbox; the first ``refuse`` messages get a temporary failure (451)."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.attempts = 0
        self.refuse = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.attempts += 1
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def settled(self, count: int, quiet: float = 1.0, timeout: float = 20.0) -> list:
        """The messages once ``count`` arrived and nothing more came for ``quiet`` seconds."""
        wait_for(lambda: len(self.messages) >= count, timeout)
        time.sleep(quiet)
        return self.messages


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = start_smtp(inbox)
    inbox.options = {"smtp_host": "127.0.0.1", "smtp_port": controller.port, "mail_from": "prefs@maison.example"}
    yield inbox
    controller.stop()


@pytest.fixture
def serve(app_factory, smtp):
    """``serve(**overrides)``: the app on a real uvicorn, mailing through ``smtp``; stopped after."""
    servers = []

    def start(options: dict | None = None, **overrides):
        server = serve_app(lambda port: app_factory(port=port, options={**smtp.options, **(options or {})},
                                                    **overrides))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def ask(server, center: str = CENTER, client: str = "198.51.100.7", **form: str) -> httpx.Response:
    headers = {**SAME_ORIGIN, "X-Forwarded-For": client}
    return httpx.post(f"{server.url}/c/{center}/link", data={"lang": "en", **form}, headers=headers)


def outbox_rows(store) -> list[dict]:
    from widget_server.store.tables import mail_outbox

    with store.engine.connect() as connection:
        return [dict(r) for r in connection.execute(select(mail_outbox).order_by(mail_outbox.c.id)).mappings()]


def test_forty_requests_for_one_address_from_forty_clients_send_at_most_the_limit(serve, smtp, store, settings,
                                                                                    clock) -> None:
    """Two server processes on one database: the count is the database's, not a process's."""
    store.create_subscriber(CENTER, email="camille@example.org")
    second = Store(make_engine(settings.database), lookup_key=b"test-lookup-key", clock=clock)
    servers = [serve(), serve(store=second)]
    try:
        answers = [ask(servers[i % 2], client=f"203.0.113.{i + 1}", email="Camille@example.org ")
                   for i in range(40)]
        assert len(smtp.settled(PER_ADDRESS)) == PER_ADDRESS  # not 40
        assert [a.status_code for a in answers] == [200] * PER_ADDRESS + [429] * (40 - PER_ADDRESS)
        assert all(m["To"] == "camille@example.org" for m in smtp.messages)
        assert 0 < int(answers[-1].headers["Retry-After"]) <= 3600
    finally:
        second.engine.dispose()


def test_an_expired_link_counts_against_its_address_as_typing_it_does(serve, smtp, store, clock) -> None:
    server = serve()
    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    old = server.app.state.signer.mint("manage", CENTER, subscriber)
    clock.advance(days=200)
    statuses = [ask(server, client=f"203.0.113.{i}", **({"t": old} if i % 2 else {"email": "camille@example.org"}))
                .status_code for i in range(PER_ADDRESS + 1)]
    assert statuses == [200] * PER_ADDRESS + [429]
    assert len(smtp.settled(PER_ADDRESS)) == PER_ADDRESS


def test_one_centers_limits_do_not_block_another(serve, smtp, store) -> None:
    server = serve()
    statuses = [ask(server, email=f"p{i}@example.org").status_code for i in range(PER_CLIENT + 1)]
    assert statuses == [200] * PER_CLIENT + [429]  # this client, this center: used up
    assert ask(server, OTHER, email="p0@example.org").status_code == 200  # the same client, another center
    for i in range(PER_ADDRESS):
        assert ask(server, client=f"203.0.113.{i}", email="camille@example.org").status_code == 200
    assert ask(server, client="203.0.113.99", email="camille@example.org").status_code == 429
    assert ask(server, OTHER, client="203.0.113.99", email="camille@example.org").status_code == 200


@pytest.mark.parametrize("limit", ["address", "client"])
def test_the_429_is_the_sites_page_in_the_visitors_language_with_retry_after(serve, smtp, limit: str) -> None:
    server = serve()
    french = {**SAME_ORIGIN, "Accept-Language": "fr-FR,fr;q=0.9"}
    for i in range(PER_ADDRESS if limit == "address" else PER_CLIENT):
        client = f"203.0.113.{i}" if limit == "address" else "198.51.100.7"
        address = "camille@example.org" if limit == "address" else f"p{i}@example.org"
        assert ask(server, client=client, email=address, lang="fr").status_code == 200
    answer = httpx.post(f"{server.url}/c/{CENTER}/link", data={"email": "camille@example.org", "lang": "fr"},
                        headers={**french, "X-Forwarded-For": "198.51.100.7" if limit == "client" else "192.0.2.1"})
    assert answer.status_code == 429
    assert 0 < int(answer.headers["Retry-After"]) <= 3600  # the window: an hour
    assert answer.headers["content-type"].startswith("text/html")
    assert '<html lang="fr"' in answer.text and "Trop de demandes" in answer.text
    assert "plusieurs liens en peu de temps" in answer.text  # not "a minute": the window is an hour
    assert "frame-ancestors" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"
    assert "Traceback" not in answer.text


def test_a_known_and_an_unknown_address_take_the_same_path(client_for, store, smtp, clock) -> None:
    """The same statements, the same row; the worker (run here by hand) sends to the known one only."""
    from widget_server.workers.mail import MailWorker

    client = client_for(options={"send_mail": False, "deliver_webhooks": False, "run_lifecycle": False})  # no worker
    store.create_subscriber(CENTER, email="camille@example.org")
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def statements_of(address: str) -> list[str]:
        statements.clear()
        answer = client.post(f"/c/{CENTER}/link", data={"email": address, "lang": "en"}, headers=SAME_ORIGIN)
        assert answer.status_code == 200 and "Check your inbox" in answer.text
        return list(statements)

    known, unknown = statements_of("camille@example.org"), statements_of("nobody@example.org")
    assert known == unknown and any("INSERT INTO mail_outbox" in s for s in known)

    def trace() -> list[dict]:
        rows = outbox_rows(store)
        assert len(rows) == 2
        assert not any("example.org" in str(value) for row in rows for value in row.values())
        return [{k: v for k, v in row.items() if k not in ("id", "address_hash")} for row in rows]

    before = trace()
    assert before[0] == before[1] and before[0]["subscriber_id"] is None and before[0]["status"] == "pending"
    state = client.app.state
    worker = MailWorker.for_app(state, SMTPMailer(state.settings.with_options(**smtp.options)))
    assert asyncio.run(worker.send_due()) == 2
    after = trace()
    assert after[0] == after[1] and after[0]["status"] == "done"
    [message] = smtp.settled(1, quiet=0.3)
    assert message["To"] == "camille@example.org"


def test_a_queued_mail_goes_out_within_a_second_and_its_row_keeps_no_address(serve, smtp, store) -> None:
    server = serve()
    subscriber = store.create_subscriber(CENTER, email="camille@example.org")
    answer = ask(server, email="camille@example.org", lang="fr")
    committed = time.monotonic()  # the answer comes after the commit
    assert answer.status_code == 200
    wait_for(lambda: smtp.messages, timeout=1.0)
    assert time.monotonic() - committed < 1.0
    [message] = smtp.messages
    link = re.search(r"(http://\S+/preferences\?t=\S+)", message.get_body(("plain",)).get_content()).group(1)
    claims = server.app.state.signer.read(link.split("t=")[1], "login", center=CENTER)
    assert claims.subscriber == subscriber and claims.locale == "fr"
    assert httpx.get(link).status_code == 200
    wait_for(lambda: outbox_rows(store)[0]["status"] == "done")
    [row] = outbox_rows(store)
    assert row["subscriber_id"] is None and row["locale"] is None  # blanked once sent
    assert not any("camille" in str(value) for value in row.values())


def test_an_smtp_failure_is_retried_with_backoff(serve, smtp, store) -> None:
    smtp.refuse = 1
    server = serve(options={"mail_first_retry_ms": 300}, clock=utcnow)  # retries: real time
    store.create_subscriber(CENTER, email="camille@example.org")
    assert ask(server, email="camille@example.org").status_code == 200
    wait_for(lambda: smtp.attempts >= 1, timeout=5)
    failed_at = time.monotonic()
    wait_for(lambda: smtp.messages, timeout=10)
    assert time.monotonic() - failed_at >= 0.25  # waited for the retry, did not hammer
    wait_for(lambda: outbox_rows(store)[0]["status"] == "done")
    [row] = outbox_rows(store)
    assert row["attempts"] == 2 and smtp.attempts == 2 and len(smtp.messages) == 1


def test_the_worker_forgets_rows_once_the_window_has_passed(client_for, store, clock) -> None:
    from widget_server.workers.mail import MailWorker

    client = client_for(options={"send_mail": False, "deliver_webhooks": False})
    for i in range(3):
        assert client.post(f"/c/{CENTER}/link", data={"email": f"p{i}@example.org"},
                           headers=SAME_ORIGIN).status_code == 200
    worker = MailWorker.for_app(client.app.state)
    asyncio.run(worker.send_due())
    assert len(outbox_rows(store)) == 3  # still counted: the window is an hour
    clock.advance(minutes=61)
    asyncio.run(worker.send_due())
    assert outbox_rows(store) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_two_workers_never_send_a_mail_twice(client_for, store, smtp, settings, clock) -> None:
    """Two processes' workers on one database, both awake, over the same rows."""
    from widget_server.workers.mail import MailWorker

    client = client_for(options={"send_mail": False, "deliver_webhooks": False, "link_limit_per_client": 100})
    addresses = [f"p{i}@example.org" for i in range(30)]
    for address in addresses:
        store.create_subscriber(CENTER, email=address)
        assert client.post(f"/c/{CENTER}/link", data={"email": address}, headers=SAME_ORIGIN).status_code == 200
    state = client.app.state
    mailer = SMTPMailer(state.settings.with_options(**smtp.options))
    stores = [store, Store(make_engine(settings.database), lookup_key=b"test-lookup-key", clock=clock)]
    workers = [MailWorker.for_app(state, mailer, store=s, poll_interval=0.01) for s in stores]

    async def both() -> None:
        tasks = [asyncio.create_task(w.run()) for w in workers]
        deadline = time.monotonic() + 20
        while len(smtp.messages) < len(addresses) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # time for a second copy to arrive, if one were coming
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run(both())
    finally:
        stores[1].engine.dispose()
    assert sorted(m["To"] for m in smtp.messages) == sorted(addresses)
    assert smtp.attempts == len(addresses)
    assert {row["status"] for row in outbox_rows(store)} == {"done"}


def test_a_mail_owed_to_someone_erased_meanwhile_is_never_sent(client_for, store, smtp, make_key) -> None:
    """Erasure settles the person's pending mails: the worker then has nothing to send them."""
    from widget_server.workers.mail import MailWorker

    client = client_for(options={"send_mail": False, "deliver_webhooks": False, "run_lifecycle": False})  # no worker
    camille = store.create_subscriber(CENTER, email="camille@example.org")
    asked = client.post(f"/c/{CENTER}/link", data={"email": "camille@example.org", "lang": "en"}, headers=SAME_ORIGIN)
    assert asked.status_code == 200
    erased = client.delete(f"/api/v1/centers/{CENTER}/subscribers/{camille}",
                           headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"})
    assert erased.status_code == 200 and "pending_mails" in erased.json()["deleted"]
    [row] = outbox_rows(store)
    assert row["status"] == "done" and row["subscriber_id"] is None and row["locale"] is None
    state = client.app.state
    worker = MailWorker.for_app(state, SMTPMailer(state.settings.with_options(**smtp.options)))
    assert asyncio.run(worker.send_due()) == 0
    time.sleep(0.3)
    assert smtp.messages == []
