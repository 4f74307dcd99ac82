"""``widget-server verify-chain`` on a real database, as an operator runs it (a process), on
SQLite and on PostgreSQL: each tampering of issue 12 is found, with the subscriber
named and a non-zero exit; an intact database exits 0.

The database is made by the real write paths (saves, an erasure, a bulk import), then
tampered with in SQL, as someone who can write the database but holds no key would:
edit an event, delete the middle one, delete the newest (and roll the anchor back to the
event before, as a careful forger would), delete all of a subscriber's events, swap two
events' ids, edit one and recompute the chain with plain SHA-256, delete a subscriber's
row and keep their events. Also: events written before migration 0006 (legacy,
plain SHA-256) verify as legacy once the migration sealed their anchors, and a legacy
chain rewritten after it does not.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from alembic import command
from sqlalchemy import MetaData, create_engine, select, text, update

from tests.helpers import ENGINES, ROOT
from widget_server.chain_keys import ChainKeys
from widget_server.ledger import EventContext, event_hash
from widget_server.preferences import OPTED_IN, OPTED_OUT, Preferences
from widget_server.store import migrate
from widget_server.store.tables import events, subscribers

CENTER = "maison-lumiere"
CLI = [sys.executable, "-m", "widget_server"]
WEB = EventContext(source="web", actor="subject", locale="fr", notice_version="2026-11-01")
#: The conftest store's lookup key: the CLI derives the same chain key from it.
LOOKUP_KEY = "test-lookup-key"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def verify(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WIDGET_SECRET_KEYS": "a-test-secret", "WIDGET_LOOKUP_KEY": LOOKUP_KEY,
           "WIDGET_CHAIN_KEYS": ""}
    return subprocess.run([*CLI, "verify-chain", "--database", db_url, *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=ROOT)


def state(*pairs: tuple[str, str, str], version: int = 0) -> Preferences:
    return Preferences(version=version, subscriptions={(t, c): s for t, c, s in pairs})


@pytest.fixture
def ledger(store, centers):
    """Subscribers made by the real write paths: A with three events, B with two, C with one,
    an erased one, and two from a bulk import (one imported twice: two events)."""
    from widget_server.store.imports import import_rows
    from widget_server.web.routes.api.import_rows import read_batch

    made = {}
    made["A"] = store.create_subscriber(CENTER, preferences=state(("offers", "email", OPTED_IN)), context=WEB)
    for version, choice in ((1, OPTED_OUT), (2, OPTED_IN)):
        store.save(CENTER, made["A"], state(("offers", "email", choice), version=version), base_version=version,
                   context=WEB)
    made["B"] = store.create_subscriber(CENTER, preferences=state(("offers", "sms", OPTED_IN)), context=WEB)
    store.save(CENTER, made["B"], state(("offers", "sms", OPTED_OUT), version=1), base_version=1, context=WEB)
    made["C"] = store.create_subscriber(CENTER, preferences=state(("offers", "email", OPTED_IN)), context=WEB)
    made["never"] = store.create_subscriber(CENTER)  # no event at all: its anchor says 0
    center = centers[CENTER]
    rows = [
        {"row": 2, "external_id": "crm-1", "email": "ana@example.org", "locale": "fr",
         "subscriptions": {"offers": {"email": "opted_in"}}, "legacy_source": "old-esp", "legacy_date": "2019-04-02"},
        {"row": 3, "external_id": "crm-2", "subscriptions": {"offers": {"email": "opted_in"}}},
    ]
    for second in (False, True):
        body = b"".join(json.dumps(r).encode() + b"\n" for r in (rows if not second else [
            {**rows[0], "subscriptions": {"offers": {"sms": "opted_in"}}}]))
        batch = read_batch(body, center, store.clock())
        with store.writing() as connection:
            import_rows(connection, center, batch.rows, patch=batch.patch, actor="api_key:test",
                        lookup_key=store.lookup_key, now=store.clock(), dry_run=False, chain_keys=store.chain_keys)
    with store.engine.connect() as connection:
        made["imported"] = connection.scalar(select(subscribers.c.id).where(subscribers.c.external_id == "crm-1"))
    return made


def rows_of(store, sid: str) -> list[dict]:
    return store.events(sid)


def run_sql(store, *statements) -> None:
    with store.engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)


def broken_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("BROKEN ")]


def assert_caught(result: subprocess.CompletedProcess, sid: str, *, others: tuple[str, ...] = ()) -> list[str]:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = broken_lines(result)
    assert lines and all(line.split()[1] in (sid, *others) for line in lines), result.stdout
    assert any(line.split()[1] == sid for line in lines)
    assert "chains broken" in result.stdout.splitlines()[-1]
    return lines


def test_an_intact_database_exits_0(store, ledger, db_url: str) -> None:
    assert len(rows_of(store, ledger["imported"])) == 2  # imported twice: a chain of two import events
    assert all(e["key_id"] == store.chain_keys.current for e in rows_of(store, ledger["imported"]))
    result = verify(db_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert broken_lines(result) == []
    assert result.stdout.splitlines()[-1].startswith("checked 6 subscribers")
    assert "all intact" in result.stdout
    assert verify(db_url, "--center", CENTER).returncode == 0


def test_an_edited_event_is_found(store, ledger, db_url: str) -> None:
    target = rows_of(store, ledger["A"])[1]
    run_sql(store, update(events).where(events.c.id == target["id"]).values(actor="agent:7"))
    lines = assert_caught(verify(db_url), ledger["A"])
    assert any(f"event {target['id']} (version 2): its hash does not match" in line for line in lines)


def test_an_edited_imported_event_is_found(store, ledger, db_url: str) -> None:
    target = rows_of(store, ledger["imported"])[0]
    run_sql(store, update(events).where(events.c.id == target["id"]).values(locale="en"))
    assert_caught(verify(db_url), ledger["imported"])


def test_the_middle_event_deleted_is_found(store, ledger, db_url: str) -> None:
    middle = rows_of(store, ledger["A"])[1]
    run_sql(store, events.delete().where(events.c.id == middle["id"]))
    lines = assert_caught(verify(db_url), ledger["A"])
    assert any("version 3 where 2 was expected" in line for line in lines)
    assert any("anchor: the anchor says 3 events, 2 found" in line for line in lines)


def test_the_newest_event_deleted_is_found_even_with_the_anchor_rolled_back(store, ledger, db_url: str) -> None:
    chain = rows_of(store, ledger["A"])
    run_sql(store, events.delete().where(events.c.id == chain[2]["id"]))
    lines = assert_caught(verify(db_url), ledger["A"])
    assert any("the anchor says 3 events, 2 found" in line for line in lines)
    # The careful forger also rolls the subscriber back to the event before: count, hash and version.
    run_sql(store, update(subscribers).where(subscribers.c.id == ledger["A"]).values(
        version=2, chain_count=2, chain_hash=chain[1]["hash"]))
    lines = assert_caught(verify(db_url), ledger["A"])
    assert lines == [f"BROKEN {ledger['A']} anchor: the anchor's seal does not match it (rewritten without the key)"]


def test_all_of_a_subscribers_events_deleted_is_found(store, ledger, db_url: str) -> None:
    run_sql(store, events.delete().where(events.c.subscriber_id == ledger["B"]))
    lines = assert_caught(verify(db_url), ledger["B"])
    assert any("the anchor says 2 events, 0 found" in line for line in lines)
    run_sql(store, update(subscribers).where(subscribers.c.id == ledger["B"]).values(
        version=0, chain_count=0, chain_hash=None))  # made to look like a subscriber never asked
    lines = assert_caught(verify(db_url), ledger["B"])
    assert "seal does not match" in lines[0]


def test_two_events_ids_swapped_are_found(store, ledger, db_url: str) -> None:
    first, second = rows_of(store, ledger["A"])[:2]
    run_sql(store,
            update(events).where(events.c.id == first["id"]).values(id=-1),
            update(events).where(events.c.id == second["id"]).values(id=first["id"]),
            update(events).where(events.c.id == -1).values(id=second["id"]))
    lines = assert_caught(verify(db_url), ledger["A"])
    assert any(f"event {second['id']} (version 1): its hash does not match" in line for line in lines)
    assert any(f"event {first['id']} (version 2): its hash does not match" in line for line in lines)


def test_ids_swapped_between_two_subscribers_are_found(store, ledger, db_url: str) -> None:
    mine, theirs = rows_of(store, ledger["C"])[0], rows_of(store, ledger["B"])[1]
    run_sql(store,
            update(events).where(events.c.id == mine["id"]).values(id=-1),
            update(events).where(events.c.id == theirs["id"]).values(id=mine["id"]),
            update(events).where(events.c.id == -1).values(id=theirs["id"]))
    lines = assert_caught(verify(db_url), ledger["C"], others=(ledger["B"],))
    assert {line.split()[1] for line in lines} == {ledger["B"], ledger["C"]}


def rehash_plain(store, sid: str, start: int) -> None:
    """What a forger without the key can do: recompute the chain from ``start`` with plain
    SHA-256 (the legacy format), and point the anchor at the new last hash."""
    chain = rows_of(store, sid)
    previous = chain[start - 2]["hash"] if start > 1 else None
    statements = []
    for record in chain[start - 1:]:
        record = {**record, "prev_hash": previous, "key_id": None}
        record["hash"] = previous = event_hash(record)
        statements.append(update(events).where(events.c.id == record["id"]).values(
            prev_hash=record["prev_hash"], hash=record["hash"], key_id=None))
    statements.append(update(subscribers).where(subscribers.c.id == sid).values(chain_hash=previous))
    run_sql(store, *statements)


def test_an_edit_rehashed_with_plain_sha256_is_found(store, ledger, db_url: str) -> None:
    target = rows_of(store, ledger["A"])[1]
    run_sql(store, update(events).where(events.c.id == target["id"]).values(actor="agent:7"))
    rehash_plain(store, ledger["A"], start=2)
    lines = assert_caught(verify(db_url), ledger["A"])
    assert any("legacy (unkeyed) hash after a keyed event" in line for line in lines)


def test_a_whole_chain_rewritten_as_legacy_is_found(store, ledger, db_url: str) -> None:
    run_sql(store, update(events).where(events.c.subscriber_id == ledger["A"], events.c.version == 1)
            .values(actor="agent:7"))
    rehash_plain(store, ledger["A"], start=1)  # every link matches, every hash is "legacy"-valid...
    lines = assert_caught(verify(db_url), ledger["A"])
    assert lines == [f"BROKEN {ledger['A']} anchor: the anchor's seal does not match it (rewritten without the key)"]


def test_a_subscriber_row_deleted_with_its_events_kept_is_found(store, ledger, db_url: str) -> None:
    sid = ledger["C"]
    wipe = [f"DELETE FROM {table} WHERE subscriber_id = '{sid}'"
            for table in ("subscriptions", "contact_points", "topic_settings", "subscriber_interests")]
    wipe.append(f"DELETE FROM subscribers WHERE id = '{sid}'")
    if db_url.startswith("sqlite"):  # the forger turns off what stood in the way
        store.engine.dispose()
        plain = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        plain.execute("PRAGMA foreign_keys = OFF")
        with plain:
            for statement in wipe:
                plain.execute(statement)
        plain.close()
    else:
        run_sql(store, text("ALTER TABLE events DROP CONSTRAINT fk_events_subscriber_id_subscribers"),
                *map(text, wipe))
    lines = assert_caught(verify(db_url), sid)
    assert any("no subscriber row holds its 1 event(s)" in line for line in lines)


def test_a_key_the_server_does_not_hold_is_reported(store, ledger, db_url: str) -> None:
    result = subprocess.run([*CLI, "verify-chain", "--database", db_url], capture_output=True, text=True, timeout=120,
                            cwd=ROOT, env={**os.environ, "WIDGET_SECRET_KEYS": "a-test-secret",
                                           "WIDGET_LOOKUP_KEY": "another-key", "WIDGET_CHAIN_KEYS": ""})
    assert result.returncode == 1
    assert "which this server does not hold" in result.stdout


# -- signed checkpoints: what no anchor can see ------------------------------------------------


def delete_subscriber_entirely(store, db_url: str, sid: str) -> None:
    """The forger's last resort: the subscriber's row, their events and every row naming them."""
    wipe = [f"DELETE FROM {table} WHERE subscriber_id = '{sid}'"
            for table in ("events", "subscriptions", "contact_points", "topic_settings", "subscriber_interests")]
    wipe.append(f"DELETE FROM subscribers WHERE id = '{sid}'")
    run_sql(store, *map(text, wipe))


def test_a_subscriber_deleted_with_all_their_events_is_found_against_a_checkpoint(
        store, ledger, db_url: str, tmp_path) -> None:
    saved = tmp_path / "checkpoint.json"
    made = verify(db_url, "--checkpoint", str(saved))
    assert made.returncode == 0, made.stdout + made.stderr
    checkpoint = json.loads(saved.read_text())
    assert checkpoint["checkpoint"]["events"] == 9 and checkpoint["jws"].count(".") == 2
    # New changes after the checkpoint are fine: only what it held is checked.
    store.save(CENTER, ledger["C"], state(("offers", "email", OPTED_OUT), version=1), base_version=1, context=WEB)
    assert verify(db_url, "--against", str(saved)).returncode == 0
    delete_subscriber_entirely(store, db_url, ledger["B"])
    alone = verify(db_url)
    assert alone.returncode == 0  # every chain left is intact: nothing in the database says B existed
    result = verify(db_url, "--against", str(saved))
    assert result.returncode == 1, result.stdout
    assert broken_lines(result) == [line for line in result.stdout.splitlines() if line.startswith("BROKEN ledger:")]
    assert "some were deleted" in result.stdout and "does not hold all" in result.stdout.splitlines()[-1]


def test_a_forged_checkpoint_is_refused(store, ledger, db_url: str, tmp_path) -> None:
    saved = tmp_path / "checkpoint.json"
    assert verify(db_url, "--checkpoint", str(saved)).returncode == 0
    forged = json.loads(saved.read_text())
    header, payload, signature = forged["jws"].split(".")
    forged["jws"] = f"{header}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    saved.write_text(json.dumps(forged))
    result = verify(db_url, "--against", str(saved))
    assert result.returncode == 1 and "signature does not verify" in result.stdout
    saved.write_text("not json")
    unreadable = verify(db_url, "--against", str(saved))
    assert unreadable.returncode == 1 and "cannot read the checkpoint" in unreadable.stderr
    assert "Traceback" not in unreadable.stderr


# -- legacy events: written before migration 0006 ----------------------------------------------


def legacy_database(db_url: str, keys: ChainKeys | None) -> str:
    """A database at revision 0005 with one subscriber and two events as the code before 0006
    wrote them (plain SHA-256, no id bound), then migrated to the head with ``keys``."""
    engine = create_engine(db_url)
    emptied = MetaData()
    emptied.reflect(engine)
    emptied.drop_all(engine)  # every table, whichever revisions made them
    with engine.begin() as connection:
        command.upgrade(migrate._config(connection), "0005")
        now = datetime(2025, 3, 1, tzinfo=timezone.utc)
        connection.execute(text(
            "INSERT INTO subscribers (id, center, version, suppressed, created_at, updated_at) "
            "VALUES ('sub_legacy', :center, 2, false, :now, :now)"), {"center": CENTER, "now": now})
        previous = None
        for version, choice in ((1, OPTED_IN), (2, OPTED_OUT)):
            record = {"subscriber_id": "sub_legacy", "center": CENTER, "version": version, "occurred_at": now,
                      "source": "web", "actor": "subject", "notice_version": "2025-01",
                      "changes": [{"path": "offers.email", "from": None, "to": choice}],
                      "locale": "fr", "evidence": None, "context": None, "submission_id": None,
                      "prev_hash": previous}
            record["hash"] = previous = event_hash(record)
            connection.execute(events.insert().values(
                {k: v for k, v in record.items() if k in events.c and k not in ("key_id", "notice_text")}))
    with engine.begin() as connection:
        command.upgrade(migrate._config(connection, keys), "head")
    engine.dispose()
    return "sub_legacy"


def test_legacy_events_verify_once_their_anchor_is_sealed(store, db_url: str) -> None:
    store.engine.dispose()
    sid = legacy_database(db_url, store.chain_keys)
    result = verify(db_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 events (2 legacy, unkeyed): all intact" in result.stdout
    # A keyed save after them fixes them for good: it names the last legacy hash.
    store.save(CENTER, sid, state(("offers", "email", OPTED_IN), version=2), base_version=2, context=WEB)
    assert verify(db_url).returncode == 0 and store.verify_chain(sid).intact


def test_a_legacy_chain_rewritten_after_the_migration_is_found(store, db_url: str) -> None:
    store.engine.dispose()
    sid = legacy_database(db_url, store.chain_keys)
    run_sql(store, update(events).where(events.c.subscriber_id == sid, events.c.version == 2)
            .values(actor="agent:7"))
    rehash_plain(store, sid, start=2)
    assert_caught(verify(db_url), sid)


def test_a_legacy_database_migrated_without_keys_says_its_anchors_are_unsealed(store, db_url: str) -> None:
    store.engine.dispose()
    sid = legacy_database(db_url, None)
    lines = assert_caught(verify(db_url), sid)
    assert lines == [f"BROKEN {sid} anchor: the anchor is not sealed"]
