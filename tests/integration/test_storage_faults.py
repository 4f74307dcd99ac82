"""Storage faults: a write the database cannot store is a 503 with Retry-After on every
write surface, nothing stored changes, and ``/readyz`` says why until a write succeeds.

The faults are real ones, not mocks: the SQLite file lives on a tmpfs of its own that a
file fills up (ENOSPC, which SQLite reports as SQLITE_FULL); a read-only database is the
file opened with ``mode=ro`` (the tests run as root, whom ``chmod 0444`` does not stop;
a file SQLite cannot open for writing is opened read-only, as ``mode=ro`` does, and says
SQLITE_READONLY); on PostgreSQL the database is switched to read-only transactions.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tests.helpers import form_of, same_origin
from widget_server.preferences import OPTED_IN, Preferences
from widget_server.store.engine import make_engine

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
EMAIL = "camille@example.org"


class SmallDisk:
    """A filesystem of the test's own (tmpfs), for the database, that :meth:`fill` fills up."""

    def __init__(self, path: Path, size: str = "2m") -> None:
        path.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.fail(f"a full disk needs a filesystem of its own (run as root: mount -t tmpfs): "
                        f"{mounted.stderr.strip()}", pytrace=False)
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        """Write a file until the filesystem has no block left."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as full:
            assert full.errno == errno.ENOSPC
        finally:
            os.close(fd)
        assert shutil.disk_usage(self.path).free == 0

    def free(self) -> None:
        self.filler.unlink()

    def unmount(self) -> None:
        subprocess.run(["umount", "--lazy", str(self.path)], check=True)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    disk = SmallDisk(tmp_path / "disk")
    yield disk
    disk.unmount()


@pytest.fixture
def db_url(engine: str, request: pytest.FixtureRequest) -> str:
    """On SQLite, this test's database on a small disk of its own (conftest's would share /tmp)."""
    if engine == "postgresql":
        return request.getfixturevalue("pg_url")
    path = request.getfixturevalue("disk").path / "widget.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def subscriber(store) -> str:
    return store.create_subscriber(CENTER, email=EMAIL, preferences=Preferences(
        subscriptions={("offers", "email"): OPTED_IN, ("offers", "sms"): OPTED_IN}))


@pytest.fixture
def api(client, make_key) -> Iterator[httpx.Client]:
    with client.another(headers={"Authorization": f"Bearer {make_key(CENTER, 'write')}"}) as api:
        yield api


@pytest.fixture
def visitor(client) -> Iterator[httpx.Client]:
    """A French browser."""
    with client.another(headers={"Accept-Language": "fr-FR,fr;q=0.9"}) as visitor:
        yield visitor


def hidden_fields(html: str, form_id: str) -> dict[str, str]:
    form = re.search(rf'<form id="{form_id}".*?</form>', html, re.S).group(0)
    return {name: unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}


def held(store, subscriber: str) -> tuple:
    """Everything a write could change: the subscriber, its events, how many subscribers, the outbox."""
    with store.engine.connect() as connection:
        counts = tuple(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                       for table in ("subscribers", "events", "webhook_deliveries", "idempotency_keys"))
    return store.get(CENTER, subscriber), store.events(subscriber), counts


def assert_unavailable_page(response: httpx.Response, *, fragment: bool = False) -> None:
    """A 503 page (or htmx fragment) in French that says nothing was saved, with Retry-After."""
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["content-type"].startswith("text/html")
    assert "Impossible d'enregistrer pour le moment" in response.text.replace("&#39;", "'")
    assert "rien n'a été modifié" in response.text.replace("&#39;", "'")
    assert "Traceback" not in response.text and "référence" not in response.text  # not an unexpected error
    if fragment:
        assert 'role="alert"' in response.text and '"status": 503' in response.headers["hx-trigger"]
    else:
        assert '<html lang="fr"' in response.text


def assert_unavailable_problem(response: httpx.Response) -> dict:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "storage_unavailable" and body["status"] == 503
    assert body["title"] == "Cannot save right now" and "nothing was changed" in body["detail"]
    assert int(response.headers["retry-after"]) == body["retry_after"] > 0
    return body


def assert_not_ready(client, reason: str) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 503, answer.text
    assert answer.json()["status"] == "not ready"
    assert answer.json()["database"] == f"writes failing: {reason}"


def assert_ready(client) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ready" and answer.json()["database"] == "ok"


def assert_logged_without_personal_data(caplog, reason: str, *secrets: str) -> None:
    named = [r for r in caplog.records if r.levelno >= logging.WARNING and reason in r.getMessage()]
    assert named, [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if "unexpected error" in r.getMessage()]
    for record in (r for r in caplog.records if r.name.startswith("widget_server")):  # not the client's own
        message = record.getMessage()
        assert EMAIL not in message and "?" not in message and not any(s in message for s in secrets)


def test_a_full_disk_is_a_503_on_every_write_surface_until_space_is_freed(
        client, store, subscriber, api, visitor, disk, caplog) -> None:
    signer = client.app.state.signer
    manage = signer.mint("manage", CENTER, subscriber)
    unsubscribe = signer.mint("unsubscribe", CENTER, subscriber, tp="offers", ch="sms")
    form = form_of(visitor.get(f"/c/{CENTER}/preferences", params={"t": manage}).text)
    form["s.loyalty.push"] = ["on"]
    page = visitor.get(f"/c/{CENTER}/unsubscribe", params={"t": unsubscribe})
    assert page.status_code == 200
    confirm = {**hidden_fields(page.text, "unsubscribe"), "action": "confirm"}
    before = held(store, subscriber)
    assert_ready(client)

    disk.fill()
    caplog.set_level(logging.INFO)
    url = f"/c/{CENTER}/preferences"
    htmx = {**same_origin(client), "HX-Request": "true"}
    assert_unavailable_page(visitor.post(url, data=form, headers=htmx), fragment=True)
    assert_unavailable_page(visitor.post(url, data=form, headers=same_origin(client)))
    one_click = client.post(f"/c/{CENTER}/unsubscribe", params={"t": unsubscribe}, data=ONE_CLICK)
    assert one_click.status_code == 503 and int(one_click.headers["retry-after"]) > 0
    assert_unavailable_page(visitor.post(f"/c/{CENTER}/unsubscribe", data=confirm, headers=same_origin(client)))
    preferences = f"{BASE}/subscribers/{subscriber}/preferences"
    assert_unavailable_problem(api.post(f"{BASE}/subscribers", json={"external_id": "crm-9"}))
    assert_unavailable_problem(api.patch(preferences, json={"subscriptions": {"offers": {"sms": "opted_out"}}},
                                         headers={"Idempotency-Key": "k-1"}))
    assert_unavailable_problem(api.post(f"{BASE}/imports", params={"dry_run": "false"},
                                        content=b'{"row": 2, "external_id": "crm-8"}\n',
                                        headers={"Content-Type": "application/x-ndjson"}))
    assert held(store, subscriber) == before  # state, history, outbox and idempotency records unchanged
    assert_not_ready(client, "database or disk is full")
    assert_not_ready(client, "database or disk is full")  # readyz's own attempt fails as well
    assert_logged_without_personal_data(caplog, "database or disk is full", manage, unsubscribe)

    disk.free()
    saved = visitor.post(url, data=form, headers=htmx)
    assert saved.status_code == 200 and store.get(CENTER, subscriber).preferences.opted_in("loyalty", "push")
    assert_ready(client)
    patched = api.patch(preferences, json={"subscriptions": {"offers": {"sms": "opted_out"}}},
                        headers={"Idempotency-Key": "k-1"})  # the key stored nothing: it is free
    assert patched.status_code == 200 and "idempotent-replayed" not in patched.headers
    assert len(store.events(subscriber)) == len(before[1]) + 2 and store.verify_chain(subscriber).intact
    assert [r for r in caplog.records if "writes succeed again" in r.getMessage()]


def test_a_read_only_database_file_is_a_503_and_readyz_recovers_by_itself(
        client, store, subscriber, api, visitor, db_url, caplog) -> None:
    manage = client.app.state.signer.mint("manage", CENTER, subscriber)
    form = form_of(visitor.get(f"/c/{CENTER}/preferences", params={"t": manage}).text)
    form["s.loyalty.push"] = ["on"]
    before = held(store, subscriber)
    writable = store.engine
    writable.dispose()
    # The same file, opened read-only: what SQLite does with a file it may not write.
    store.engine = make_engine(db_url.replace("sqlite:///", "sqlite:///file:") + "?mode=ro&uri=true")
    try:
        caplog.set_level(logging.INFO)
        saved = visitor.post(f"/c/{CENTER}/preferences", data=form,
                             headers={**same_origin(client), "HX-Request": "true"})
        assert_unavailable_page(saved, fragment=True)
        assert_unavailable_problem(api.patch(f"{BASE}/subscribers/{subscriber}/preferences",
                                             json={"suppressed": True}))
        assert held(store, subscriber) == before
        assert_not_ready(client, "attempt to write a readonly database")
        assert_logged_without_personal_data(caplog, "attempt to write a readonly database", manage)
    finally:
        store.engine.dispose()
        store.engine = writable
    assert_ready(client)  # its own write succeeds: no visitor has to try first
    saved = visitor.post(f"/c/{CENTER}/preferences", data=form, headers=same_origin(client))
    assert saved.status_code == 303 and store.get(CENTER, subscriber).preferences.opted_in("loyalty", "push")


@pytest.mark.parametrize("engine", ["postgresql"])
def test_a_read_only_postgresql_database_is_a_503(client, store, subscriber, api, pg_admin, db_url,
                                                  engine) -> None:
    database = db_url.rsplit("/", 1)[1]
    before = held(store, subscriber)
    with pg_admin.connect() as admin:
        admin.execute(text(f"ALTER DATABASE {database} SET default_transaction_read_only = on"))
    store.engine.dispose()  # the setting holds for new connections
    preferences = f"{BASE}/subscribers/{subscriber}/preferences"
    assert_unavailable_problem(api.patch(preferences, json={"suppressed": True}))
    assert_unavailable_problem(api.post(f"{BASE}/subscribers", json={}))
    assert_not_ready(client, "cannot execute in a read-only transaction")
    assert held(store, subscriber) == before

    with pg_admin.connect() as admin:
        admin.execute(text(f"ALTER DATABASE {database} RESET default_transaction_read_only"))
    store.engine.dispose()
    assert_ready(client)
    assert api.patch(preferences, json={"suppressed": True}).status_code == 200


@pytest.mark.parametrize("engine", ["postgresql"])
def test_a_backend_terminated_during_a_write_is_a_503_and_the_next_write_is_stored(store, subscriber, pg_admin,
                                                                                   engine) -> None:
    from widget_server.errors import StorageUnavailable

    before = held(store, subscriber)
    with pytest.raises(StorageUnavailable) as refused, store.writing() as connection:
        connection.execute(text("UPDATE subscribers SET locale = 'en' WHERE id = :id"), {"id": subscriber})
        with pg_admin.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"),
                          {"pid": connection.execute(text("SELECT pg_backend_pid()")).scalar()})
        connection.execute(text("SELECT 1"))
    assert refused.value.reason in ("the server is shutting down", "connection failed")
    assert store.write_health.failing.reason == refused.value.reason
    assert held(store, subscriber) == before
    # A passing fault: readiness tries a write of its own, on a new connection, which is stored.
    assert store.ready() == (True, "ok") and store.write_health.failing is None
    assert store.create_subscriber(CENTER)

    # Lost at the COMMIT itself, the write may have been stored: never answered "nothing was changed".
    with pytest.raises(OperationalError), store.writing() as connection:
        connection.execute(text("UPDATE subscribers SET locale = 'en' WHERE id = :id"), {"id": subscriber})
        with pg_admin.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"),
                          {"pid": connection.execute(text("SELECT pg_backend_pid()")).scalar()})
    assert store.write_health.failing is not None  # still, writes are failing: readiness checks again
    assert store.ready() == (True, "ok")


def test_only_the_engines_cannot_write_errors_are_storage_faults() -> None:
    import sqlite3

    import psycopg
    from sqlalchemy.exc import IntegrityError

    from widget_server.store.engine import outcome_unknown, storage_fault

    def wrapped(error: Exception) -> Exception:
        kind = IntegrityError if isinstance(error, (sqlite3.IntegrityError, psycopg.IntegrityError)) else \
            OperationalError
        return kind("UPDATE ...", {}, error)

    def sqlite_error(sql: str) -> sqlite3.Error:
        with sqlite3.connect(":memory:") as connection, pytest.raises(sqlite3.Error) as raised:
            connection.executescript(sql)
        return raised.value

    unique = sqlite_error("CREATE TABLE t (x UNIQUE); INSERT INTO t VALUES (1); INSERT INTO t VALUES (1);")
    assert storage_fault(wrapped(unique)) is None
    assert storage_fault(wrapped(sqlite_error("PRAGMA query_only = 1; CREATE TABLE t (x);"))) == \
        "attempt to write a readonly database"
    for sqlstate, reason in [("53100", "disk full"), ("25006", "cannot execute in a read-only transaction"),
                             ("08006", "connection failed"), ("57P01", "the server is shutting down"),
                             ("53300", "insufficient resources"), ("23505", None), ("40P01", None),
                             ("42P01", None)]:
        assert storage_fault(wrapped(psycopg.errors.lookup(sqlstate)())) == reason, sqlstate
    assert storage_fault(wrapped(psycopg.OperationalError("connection refused"))) == "connection failed"
    assert storage_fault(wrapped(sqlite3.ProgrammingError("Cannot operate on a closed database."))) is None
    assert storage_fault(ValueError("not a database's")) is None
    # Whether a failed COMMIT may have committed: only when the link broke before an answer.
    assert outcome_unknown(wrapped(psycopg.OperationalError("server closed the connection unexpectedly")))
    assert outcome_unknown(wrapped(psycopg.errors.lookup("57P01")()))
    assert not outcome_unknown(wrapped(psycopg.errors.lookup("53100")()))
    assert not outcome_unknown(wrapped(sqlite_error("PRAGMA query_only = 1; CREATE TABLE t (x);")))
