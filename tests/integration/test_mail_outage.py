"""Mail that is never lost: real ``widget-server serve`` processes on a SQLite file, a real SMTP
server (aiosmtpd) that is down for a while. Mails owed while it is down (double opt-in
confirmations queued with their writes, new links) are retried with backoff; the server
process is killed with SIGKILL in the middle of the outage and started again; once the SMTP
server is back every mail arrives, each exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from tests.helpers import EXAMPLE_CENTERS, Inbox, form_of, free_port
from widget_server.settings import Settings
from widget_server.store.engine import make_engine
from widget_server.store.store import Store
from widget_server.store.tables import mail_outbox
from widget_server.tokens import lookup_key, make_signer

CLI = [sys.executable, "-m", "widget_server"]
CENTER = "maison-lumiere"
SECRET = "outage-secret"


def start_server(tmp_path: Path, port: int, smtp_port: int) -> subprocess.Popen:
    env = {**os.environ, "WIDGET_CONFIG": str(EXAMPLE_CENTERS), "WIDGET_DATABASE": f"sqlite:///{tmp_path / 'w.db'}",
           "WIDGET_PORT": str(port), "WIDGET_SECRET_KEYS": SECRET, "WIDGET_SMTP_HOST": "127.0.0.1",
           "WIDGET_SMTP_PORT": str(smtp_port), "WIDGET_MAIL_FROM": "prefs@maison.example",
           "WIDGET_MAIL_FIRST_RETRY_MS": "400"}
    process = subprocess.Popen([*CLI, "serve"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stdout.read() if process.stdout else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not become ready")


def outbox(store: Store) -> list[tuple[str, str, int]]:
    with store.engine.connect() as connection:
        return [tuple(r) for r in connection.execute(
            select(mail_outbox.c.kind, mail_outbox.c.status, mail_outbox.c.attempts).order_by(mail_outbox.c.id))]


def test_every_mail_owed_through_an_outage_and_a_kill_arrives_exactly_once(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    port, smtp_port = free_port(), free_port()  # nothing listens on smtp_port yet: the outage
    first = start_server(tmp_path, port, smtp_port)
    url = f"http://127.0.0.1:{port}"
    settings = Settings(secret_keys=(SECRET,))
    store = Store(make_engine(f"sqlite:///{tmp_path / 'w.db'}"), lookup_key=lookup_key(settings))
    signer = make_signer(settings)
    second = None
    inbox = Inbox()
    smtp = None
    try:
        addresses = [f"person{n}@example.org" for n in range(3)]
        for address in addresses:  # three double opt-ins, each queuing its confirmation with its write
            subscriber = store.create_subscriber(CENTER, email=address)
            token = signer.mint("manage", CENTER, subscriber)
            fields = form_of(httpx.get(f"{url}/c/{CENTER}/preferences", params={"t": token}).text)
            fields["s.inspirations.email"] = ["on"]
            saved = httpx.post(f"{url}/c/{CENTER}/preferences", data=fields, headers={"Sec-Fetch-Site": "same-origin"})
            assert saved.status_code == 303
        for address in addresses[:2]:  # and two new links
            asked = httpx.post(f"{url}/c/{CENTER}/link", data={"email": address},
                               headers={"Sec-Fetch-Site": "same-origin"})
            assert asked.status_code == 200
        deadline = time.monotonic() + 30
        while not all(attempts >= 2 for _, _, attempts in outbox(store)) and time.monotonic() < deadline:
            time.sleep(0.05)
        rows = outbox(store)
        assert len(rows) == 5 and all(status == "pending" and attempts >= 2 for _, status, attempts in rows), rows

        first.send_signal(signal.SIGKILL)  # mid-outage, with every mail still owed
        first.wait(timeout=10)
        second = start_server(tmp_path, port, smtp_port)
        smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port, ready_timeout=30)
        smtp.start()  # the SMTP server is back

        deadline = time.monotonic() + 90  # a claim the kill left behind waits out its lease (60 s)
        while len(inbox.messages) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # time for a duplicate to show up, if any were to
        received = sorted((m["To"], "/confirm?" in m.get_body(("plain",)).get_content()) for m in inbox.messages)
        assert received == sorted([(a, True) for a in addresses] + [(a, False) for a in addresses[:2]])
        assert {status for _, status, _ in outbox(store)} == {"done"}
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        if smtp is not None:
            smtp.stop()
        store.engine.dispose()
