"""Each sink for real: SQLite files through SQLAlchemy, files on disk, a CRM over HTTP.

The properties every sink must have, checked the same way for each: a run interrupted
anywhere and resumed ends exactly like a clean run (no duplicate row or line), and a
replay of the whole feed from 0 changes nothing. The HTTP CRM is a small local server
that behaves like a CRM (it stands in for the third party, not for our code).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from preference_sdk._models import Event
from preference_sdk._sync import FileCursorStore, MemoryCursorStore, SinkError, sync
from preference_sdk.sinks import (
    CSV_COLUMNS,
    HUBSPOT_STYLE,
    PROPERTIES,
    SALESFORCE_STYLE,
    CsvSink,
    HttpMapping,
    HttpSink,
    JsonLinesSink,
    SqlSink,
    _sql,
    event_json,
)

from .test_sync import CENTER, CenterFeed, Feed, ListFeed, make_feed


@pytest.fixture(scope="module")
def feed() -> Feed:
    return make_feed()


def event(id: int, subscriber: str, version: int, changes: list[tuple[str, Any, Any]], *,
          external_id: str | None = "crm-1") -> Event:
    return Event.from_json({
        "id": id, "subscriber_id": subscriber, "external_id": external_id, "center": CENTER, "version": version,
        "occurred_at": "2026-11-23T14:03:11.201Z", "source": "api", "actor": "api_key:k1",
        "changes": [{"path": p, "from": f, "to": t} for p, f, t in changes],
    })


class FailAfter:
    """Wraps a sink: stores page ``n`` for real, then raises (a crash before the checkpoint)."""

    def __init__(self, sink: Any, n: int) -> None:
        self.sink, self.n, self.pages = sink, n, 0

    def write(self, events):
        self.sink.write(events)
        self.pages += 1
        if self.pages == self.n:
            raise SinkError("killed after the write, before the checkpoint")


# The SQL sink.

def dump(url: str, table: str = "crm_contacts", key: str = "subscriber_id") -> dict[str, dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            reflected = sa.Table(table, sa.MetaData(), autoload_with=connection)  # typed: datetimes, booleans
            rows = connection.execute(sa.select(reflected)).mappings().all()
    finally:
        engine.dispose()
    return {row[key]: {k: _naive(v) if isinstance(v, datetime) else v for k, v in row.items()} for row in rows}


def expected_rows(feed: Feed) -> dict[str, dict[str, Any]]:
    """What the default mapping must hold: the last value of every path, per live subscriber."""
    last_event = {e.subscriber_id: e for e in feed.events}
    rows = {}
    for sid, paths in feed.last.items():
        if sid in feed.erased:
            continue
        e = last_event[sid]
        row = {"subscriber_id": sid, "external_id": feed.external_ids[sid], "center": CENTER, "version": e.version,
               "last_event_id": e.id, "updated_at": _naive(e.occurred_at)}
        for path, to in paths.items():
            if path == "interests":
                row["interests"] = ",".join(to)
            elif path == "pause":
                row["paused_until"] = _naive(datetime.fromisoformat(to)) if to else None
            elif path == "suppression":
                row["suppressed"] = to
            else:
                row[path.replace(".", "__")] = to
        rows[sid] = row
    return rows


def _naive(moment: datetime) -> datetime:
    """UTC without a zone: SQLite gives back naive UTC, PostgreSQL an aware instant."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def assert_matches(table: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]) -> None:
    assert set(table) == set(expected)
    for sid, row in expected.items():
        got = table[sid]
        assert {k: got[k] for k in row} == row, sid
        assert all(v is None for k, v in got.items() if k not in row), sid  # nothing else was ever set


def run_sql(url: str, events: list[Event], *, batch: int = 50, **options: Any) -> SqlSink:
    sink = SqlSink(url, **options)
    sync(ListFeed(events), sink, sink.cursor_store(), batch=batch)
    sink.close()
    return sink


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """A SQLite file; or, when ``SYNC_TEST_POSTGRES`` names a server
    (``postgresql+psycopg://postgres@127.0.0.1:5432``), a fresh database on it."""
    server = os.environ.get("SYNC_TEST_POSTGRES")
    if not server:
        yield f"sqlite:///{tmp_path / 'crm.db'}"
        return
    name = f"sync_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()


def test_sql_sink_builds_the_default_table_from_the_feed(url: str, feed: Feed) -> None:
    sink = run_sql(url, feed.events)
    table = dump(url)
    assert_matches(table, expected_rows(feed))
    columns = set(next(iter(table.values())))
    assert {"offers__email", "offers__sms", "inspirations__post", "frequency__offers", "interests", "paused_until",
            "suppressed"} <= columns
    assert sink.erased == len(feed.erased) and not set(table) & feed.erased
    assert SqlSink(url).cursor_store().load() == feed.events[-1].id


def test_sql_replay_from_zero_changes_nothing_and_never_resurrects_the_erased(url: str, feed: Feed) -> None:
    run_sql(url, feed.events)
    before = dump(url)
    sink = SqlSink(url)
    seen: list[int] = []

    class Watch:
        def write(self, events):
            sink.write(events)
            seen.append(events[-1].id)
            assert not set(dump(url)) & feed.erased  # not even between two pages

    sync(ListFeed(feed.events), Watch(), MemoryCursorStore(0), batch=7)
    assert dump(url) == before
    assert sink.skipped == len(feed.events) and sink.applied == 0 and len(seen) == -(-len(feed.events) // 7)


def test_sql_failure_inside_a_write_rolls_it_back_and_a_rerun_equals_a_clean_run(tmp_path: Path, feed: Feed) -> None:
    clean = f"sqlite:///{tmp_path / 'clean.db'}"
    run_sql(clean, feed.events)
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = sa.create_engine(url)
    checkpoints = {"n": 0}

    def fail_in_the_third_page(conn, cursor, statement, *args):
        if statement.startswith("UPDATE preference_sync_cursors"):
            checkpoints["n"] += 1
            if checkpoints["n"] == 3:  # the last statement of page 3: its rows are already written
                raise RuntimeError("the database went away")

    sa.event.listen(engine, "before_cursor_execute", fail_in_the_third_page)
    sink = SqlSink(engine)
    with pytest.raises(RuntimeError, match="went away"):
        sync(ListFeed(feed.events), sink, sink.cursor_store(), batch=50)
    cursor = SqlSink(url).cursor_store().load()
    assert 0 < cursor < feed.events[-1].id
    partial = f"sqlite:///{tmp_path / 'partial.db'}"  # what a clean run up to that cursor holds
    run_sql(partial, [e for e in feed.events if e.id <= cursor])
    assert dump(url) == dump(partial)  # nothing of the failed page is left

    sa.event.remove(engine, "before_cursor_execute", fail_in_the_third_page)
    sync(ListFeed(feed.events), sink, sink.cursor_store(), batch=50)
    assert dump(url) == dump(clean)
    assert sink.cursor_store().load() == feed.events[-1].id
    engine.dispose()


def test_sql_crash_between_write_and_checkpoint_is_harmless(url: str, feed: Feed, tmp_path: Path) -> None:
    store = FileCursorStore(tmp_path / "cursor")
    with pytest.raises(SinkError):
        sync(ListFeed(feed.events), FailAfter(SqlSink(url), 3), store, batch=60)
    assert store.load() == feed.events[119].id  # page 3 written, not checkpointed
    sink = SqlSink(url)
    sync(ListFeed(feed.events), sink, store, batch=60)
    assert sink.skipped == 60  # page 3 again, each event recognised
    assert_matches(dump(url), expected_rows(feed))


def test_sql_cursor_store_commits_with_the_rows(url: str, feed: Feed) -> None:
    sink = SqlSink(url)
    sink.cursor_store()
    sink.write(feed.events[:80])  # and the process dies before sync's save()
    assert SqlSink(url).cursor_store().load() == feed.events[79].id
    erased = {e.subscriber_id for e in feed.events[:80] if e.erased}
    assert len(dump(url)) == len({e.subscriber_id for e in feed.events[:80]} - erased)


@pytest.mark.parametrize("says_its_center", [True, False])
def test_sql_cursor_of_one_center_is_not_resumed_by_another(url: str, feed: Feed, says_its_center: bool) -> None:
    """Ids are global: voyago resuming maison-lumiere's cursor would skip every voyago event below it."""
    lumiere, voyago = of_center(feed.events, CENTER, shift=1), of_center(feed.events, "voyago", shift=2)

    def source(events: list[Event], center: str) -> ListFeed:
        return CenterFeed(events, center) if says_its_center else ListFeed(events)

    sink = SqlSink(url)
    sync(source(lumiere, CENTER), sink, sink.cursor_store(), batch=100)
    before = dump(url)
    other = SqlSink(url)
    with pytest.raises(SinkError) as refused:
        sync(source(voyago, "voyago"), other, other.cursor_store(), batch=100)
    assert "belongs to center 'maison-lumiere', not 'voyago'" in str(refused.value)
    assert dump(url) == before and SqlSink(url).cursor_store().load() == lumiere[-1].id
    report = sync(source(voyago, "voyago"), other, other.cursor_store("crm_contacts@voyago"), batch=100)
    assert report.events == len(voyago)  # every one of them, from 0
    assert {row["center"] for row in dump(url).values()} == {CENTER, "voyago"}
    with sa.create_engine(url).connect() as connection:
        assert dict(connection.exec_driver_sql("SELECT name, center FROM preference_sync_cursors").all()) == {
            "crm_contacts": CENTER, "crm_contacts@voyago": "voyago"}


def test_sql_write_of_another_centers_events_does_not_move_its_cursor(url: str, feed: Feed) -> None:
    sink = SqlSink(url)
    sync(ListFeed(feed.events[:50]), sink, sink.cursor_store())
    voyago = of_center(feed.events[50:60], "voyago", shift=2)
    with pytest.raises(SinkError, match="belongs to center 'maison-lumiere', not 'voyago'"):
        sink.write(voyago)  # straight to the sink, with its cursor kept alongside
    with pytest.raises(SinkError, match="several centers"):
        sink.write([feed.events[60], voyago[-1]])
    assert SqlSink(url).cursor_store().load() == feed.events[49].id


def test_sql_cursor_table_of_an_older_sdk_gains_its_center_column(url: str, feed: Feed) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE preference_sync_cursors (name VARCHAR(128) PRIMARY KEY, "
                                   "cursor BIGINT NOT NULL)")
        connection.exec_driver_sql(f"INSERT INTO preference_sync_cursors VALUES ('crm_contacts', {feed.events[99].id})")
    sink = SqlSink(url)
    report = sync(CenterFeed(feed.events, CENTER), sink, sink.cursor_store())
    assert report.events == len(feed.events) - 100  # the old cursor is resumed, and adopted
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT cursor, center FROM preference_sync_cursors").one() == (
            feed.events[-1].id, CENTER)
    engine.dispose()


def test_sql_database_errors_are_sink_errors_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(SinkError, match="not a SQLAlchemy database URL") as unreadable:
        SqlSink("nonsense-with-s3cret")
    assert "s3cret" not in str(unreadable.value)
    sink = SqlSink(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    with pytest.raises(SinkError, match="unable to open database file"):
        sink.cursor_store().load()
    with pytest.raises(SinkError, match="unable to open database file"):
        sink.write([event(1, "s1", 1, [("offers.email", "unknown", "opted_in")])])
    closed = SqlSink("postgresql+psycopg://crm:s3cret-pw@127.0.0.1:1/crm")
    with pytest.raises(SinkError) as refused:
        closed.cursor_store().load()
    assert "s3cret" not in str(refused.value) and "OperationalError" in str(refused.value)


def test_sql_adds_a_column_for_a_new_topic_or_channel(url: str) -> None:
    run_sql(url, [event(1, "s1", 1, [("offers.email", "unknown", "opted_in")])])
    assert "garden__whatsapp" not in dump(url)["s1"]
    run_sql(url, [
        event(1, "s1", 1, [("offers.email", "unknown", "opted_in")]),
        event(2, "s1", 2, [("garden.whatsapp", "unknown", "opted_in"), ("frequency.garden", None, "weekly")]),
        event(3, "s2", 1, [("garden.whatsapp", "unknown", "pending")], external_id="crm-2"),
    ])
    table = dump(url)
    assert table["s1"]["garden__whatsapp"] == "opted_in" and table["s1"]["frequency__garden"] == "weekly"
    assert table["s1"]["offers__email"] == "opted_in" and table["s2"]["garden__whatsapp"] == "pending"
    assert table["s2"]["offers__email"] is None  # never said: unknown


@pytest.fixture
def host_table(url: str) -> str:
    """The host's own contacts table, with a column the sync must never touch."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE contacts (crm_id VARCHAR(64) PRIMARY KEY, name TEXT NOT NULL DEFAULT '',"
            " email_marketing BOOLEAN, sms_marketing BOOLEAN)"
        )
        connection.exec_driver_sql("INSERT INTO contacts (crm_id, name) VALUES ('crm-1', 'Ada')")
    engine.dispose()
    return url


HOST_MAPPING = {
    "key": "crm_id",
    "columns": {"offers.email": "email_marketing", "offers.sms": "sms_marketing"},
    "values": {"opted_in": True, "opted_out": False, "unknown": None},
}


def test_sql_mapping_writes_the_hosts_columns_by_crm_id(host_table: str) -> None:
    events = [
        event(1, "s1", 1, [("offers.email", "unknown", "opted_in"), ("offers.push", "unknown", "opted_in")]),
        event(2, "s2", 1, [("offers.sms", "unknown", "opted_out")], external_id="crm-2"),
        event(3, "s1", 2, [("offers.sms", "unknown", "pending")]),
        event(4, "s3", 1, [("offers.email", "unknown", "opted_in")], external_id=None),  # no CRM id: nowhere to go
    ]
    sink = run_sql(host_table, events, table="contacts", mapping=HOST_MAPPING, create=False)
    table = dump(host_table, "contacts", "crm_id")
    assert table == {
        # offers.sms is "pending", which the mapping leaves out: NULL
        "crm-1": {"crm_id": "crm-1", "name": "Ada", "email_marketing": True, "sms_marketing": None},
        "crm-2": {"crm_id": "crm-2", "name": "", "email_marketing": None, "sms_marketing": False},
    }
    assert sink.unplaced == 1
    run_sql(host_table, events, table="contacts", mapping=HOST_MAPPING, create=False)  # replay
    assert dump(host_table, "contacts", "crm_id") == table


def test_sql_erasure_deletes_the_row_even_when_the_feed_no_longer_names_it(host_table: str) -> None:
    events = [event(1, "s1", 1, [("offers.email", "unknown", "opted_in")]),
              event(2, "s2", 1, [("offers.email", "unknown", "opted_in")], external_id="crm-2")]
    run_sql(host_table, events, table="contacts", mapping=HOST_MAPPING)
    erasure = event(3, "s1", 2, [("offers.email", "opted_in", "opted_out"), ("suppression", False, True),
                                 ("erasure", False, True)], external_id=None)  # the server deleted the CRM id
    run_sql(host_table, [*events, erasure], table="contacts", mapping=HOST_MAPPING)
    assert set(dump(host_table, "contacts", "crm_id")) == {"crm-2"}


def test_sql_erasure_can_clear_instead_of_delete(host_table: str) -> None:
    mapping = {**HOST_MAPPING, "on_erasure": "clear"}
    events = [event(1, "s1", 1, [("offers.email", "unknown", "opted_in"), ("offers.sms", "unknown", "opted_in")]),
              event(2, "s1", 2, [("erasure", False, True)], external_id=None)]
    run_sql(host_table, events, table="contacts", mapping=mapping)
    assert dump(host_table, "contacts", "crm_id")["crm-1"] == {
        "crm_id": "crm-1", "name": "Ada", "email_marketing": None, "sms_marketing": None}


def test_sql_without_create_refuses_a_missing_column_and_writes_nothing(host_table: str) -> None:
    mapping = {**HOST_MAPPING, "columns": {**HOST_MAPPING["columns"], "frequency.offers": "offers_frequency"}}
    sink = SqlSink(host_table, table="contacts", mapping=mapping, create=False)
    store = MemoryCursorStore()
    with pytest.raises(SinkError, match="no column 'offers_frequency'"):
        sync(ListFeed([event(1, "s1", 1, [("frequency.offers", None, "weekly")])]), sink, store)
    assert store.cursor == 0
    assert dump(host_table, "contacts", "crm_id")["crm-1"]["email_marketing"] is None


def test_sql_mapping_is_checked_and_sqlalchemy_is_optional(url: str, monkeypatch) -> None:
    with pytest.raises(ValueError, match="unknown mapping keys"):
        SqlSink(url, mapping={"key": "crm_id", "colums": {}})
    with pytest.raises(ValueError, match="on_erasure"):
        SqlSink(url, mapping={"on_erasure": "shred"})
    monkeypatch.setattr(_sql, "sa", None)
    with pytest.raises(ImportError, match=r"pip install 'preference-sdk\[sql\]'"):
        SqlSink(url)


# The file sinks.

FILE_SINKS = {"jsonl": JsonLinesSink, "csv": CsvSink}


@pytest.fixture(params=sorted(FILE_SINKS))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def run_file(path: Path, events: list[Event], kind: str, store: Any = None, batch: int = 64) -> None:
    with FILE_SINKS[kind](path) as sink:
        sync(ListFeed(events), sink, store or MemoryCursorStore(), batch=batch)


def test_jsonl_holds_each_event_in_the_wire_format(tmp_path: Path, feed: Feed) -> None:
    run_file(tmp_path / "feed.jsonl", feed.events, "jsonl")
    lines = (tmp_path / "feed.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == feed.wire  # exactly what the API sent
    assert event_json(feed.events[0]) == feed.wire[0]


def test_csv_holds_one_row_per_change(tmp_path: Path, feed: Feed) -> None:
    run_file(tmp_path / "feed.csv", feed.events, "csv")
    rows = list(csv.DictReader((tmp_path / "feed.csv").open(newline="")))
    assert len(rows) == sum(len(e.changes) for e in feed.events)
    assert tuple(rows[0]) == CSV_COLUMNS
    first = feed.wire[0]
    assert rows[0] == {"id": str(first["id"]), "part": f"1/{len(first['changes'])}", "center": CENTER,
                       "occurred_at": first["occurred_at"],
                       "subscriber_id": first["subscriber_id"], "external_id": first["external_id"],
                       "source": first["source"], "actor": "subject", "path": first["changes"][0]["path"],
                       "from": first["changes"][0]["from"], "to": first["changes"][0]["to"],
                       "legal_basis": "", "since": "", "until": ""}  # a change without its basis: empty cells
    interests = next(r for r in rows if r["path"] == "interests" and r["to"].count(",") >= 1)
    assert interests["to"].split(",") == sorted(interests["to"].split(","))
    assert {r["to"] for r in rows if r["path"] == "suppression"} <= {"true", "false"}


BASIS = {"legal_basis": "soft_opt_in", "since": "2026-03-01T10:00:00.000Z", "until": "2028-02-29T10:00:00.000Z",
         "reason": "purchase"}


def based(id: int, subscriber: str, version: int, path: str, before: str, after: str, basis: dict | None) -> Event:
    """An event whose one change carries the basis it reached (servers from 0.3 on)."""
    made = event(id, subscriber, version, [(path, before, after)])
    wire = {**event_json(made), "changes": [{"path": path, "from": before, "to": after, "basis": basis}]}
    return Event.from_json(wire)


def test_every_sink_carries_a_subscription_s_basis(tmp_path: Path, url: str) -> None:
    events = [based(1, "s1", 1, "offers.email", "unknown", "opted_in", BASIS),
              based(2, "s2", 1, "offers.email", "unknown", "pending",
                    {**BASIS, "legal_basis": "consent", "reason": None})]
    assert event_json(events[0])["changes"][0]["basis"] == BASIS  # the wire format, as the API sent it
    run_file(tmp_path / "feed.csv", events, "csv")
    rows = list(csv.DictReader((tmp_path / "feed.csv").open(newline="")))
    assert (rows[0]["legal_basis"], rows[0]["since"], rows[0]["until"]) == (
        "soft_opt_in", BASIS["since"], BASIS["until"])
    run_sql(url, events)
    table = dump(url)
    assert table["s1"]["offers__email__legal_basis"] == "soft_opt_in"
    assert _naive(table["s1"]["offers__email__until"]) == datetime(2028, 2, 29, 10, 0)
    assert table["s2"]["offers__email"] == "pending" and table["s2"]["offers__email__legal_basis"] == "consent"
    hub = dataclasses.replace(HUBSPOT_STYLE, properties={"offers.email": "email_ok", "offers.email.until": "until"})
    assert hub.properties_for(events[0])["until"] == BASIS["until"]


def test_a_csv_begun_by_an_older_sdk_goes_on_with_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text(",".join(CSV_COLUMNS[:11]) + "\n", encoding="utf-8")
    run_file(path, [based(1, "s1", 1, "offers.email", "unknown", "opted_in", BASIS)], "csv")
    rows = list(csv.DictReader(path.open(newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS[:11] and rows[0]["to"] == "opted_in"


def test_a_table_made_without_basis_columns_is_not_refused(host_table: str) -> None:
    run_sql(host_table, [based(1, "s1", 1, "offers.email", "unknown", "opted_in", BASIS)], table="contacts",
            mapping=HOST_MAPPING, create=False)
    assert dump(host_table, "contacts", "crm_id")["crm-1"]["email_marketing"] is True


def test_file_replay_from_zero_changes_nothing(tmp_path: Path, feed: Feed, kind: str) -> None:
    path = tmp_path / f"feed.{kind}"
    run_file(path, feed.events, kind)
    before = path.read_bytes()
    run_file(path, feed.events, kind, batch=9)
    assert path.read_bytes() == before


def test_file_crash_before_the_checkpoint_leaves_no_duplicate(tmp_path: Path, feed: Feed, kind: str) -> None:
    run_file(tmp_path / f"clean.{kind}", feed.events, kind)
    path, store = tmp_path / f"feed.{kind}", FileCursorStore(tmp_path / "cursor")
    with FILE_SINKS[kind](path) as sink, pytest.raises(SinkError):
        sync(ListFeed(feed.events), FailAfter(sink, 2), store, batch=64)
    assert store.load() == feed.events[63].id
    run_file(path, feed.events, kind, store=store)
    assert path.read_bytes() == (tmp_path / f"clean.{kind}").read_bytes()


def test_file_torn_last_line_is_cut_and_written_again(tmp_path: Path, feed: Feed, kind: str) -> None:
    run_file(tmp_path / f"clean.{kind}", feed.events, kind)
    path, store = tmp_path / f"feed.{kind}", FileCursorStore(tmp_path / "cursor")
    run_file(path, feed.events[:100], kind, store=store)
    with path.open("a") as handle:  # the process died in the middle of the next write
        handle.write('101,"2026-11-23T14:0' if kind == "csv" else '{"id": 9999, "subscriber_id": "sub_')
    run_file(path, feed.events, kind, store=store)
    assert path.read_bytes() == (tmp_path / f"clean.{kind}").read_bytes()


def test_csv_refuses_other_columns_and_keeps_events_without_changes(tmp_path: Path) -> None:
    for columns in (("subscriber_id", "path"), ("id", "path", "to"), ("id", "part", "center", "id")):
        with pytest.raises(ValueError, match="must include id, part, center"):
            CsvSink(tmp_path / "a.csv", columns=columns)
    mine = ("id", "part", "center", "path", "to")
    with CsvSink(tmp_path / "a.csv", columns=mine) as sink:
        sink.write([event(5, "s1", 1, []), event(6, "s1", 2, [("interests", [], ["lighting", "tableware"]),
                                                              ("offers.email", "unknown", "opted_in")])])
    assert (tmp_path / "a.csv").read_text() == (
        "id,part,center,path,to\n5,1/1,maison-lumiere,,\n6,1/2,maison-lumiere,interests,\"lighting,tableware\"\n"
        "6,2/2,maison-lumiere,offers.email,opted_in\n")
    with pytest.raises(ValueError, match="has the columns"):
        CsvSink(tmp_path / "a.csv").write([event(7, "s1", 3, [])])
    with CsvSink(tmp_path / "a.csv", columns=mine) as sink:
        assert sink.write([event(6, "s1", 2, [])]) is None and sink.last_id == 6 and sink.center == CENTER


def of_center(events: list[Event], center: str, *, shift: int) -> list[Event]:
    """The events as ``center``'s feed would carry them: ids are global, so two centers' feeds interleave;
    subscribers are a center's own."""
    return [dataclasses.replace(e, id=2 * e.id + shift, center=center,
                                subscriber_id=e.subscriber_id.replace("sub_", f"sub_{center}_")) for e in events]


def test_a_file_holds_one_center_and_refuses_another(tmp_path: Path, feed: Feed, kind: str) -> None:
    """Ids are global: a second center's events below the file's last id would otherwise vanish unseen."""
    path = tmp_path / f"feed.{kind}"
    lumiere, voyago = of_center(feed.events, CENTER, shift=1), of_center(feed.events, "voyago", shift=2)
    run_file(path, lumiere, kind)
    before = path.read_bytes()
    for sink in (FILE_SINKS[kind](path), FILE_SINKS[kind](path)):  # the second learns the center from the file
        with sink, pytest.raises(SinkError) as refused:
            sync(ListFeed(voyago), sink, MemoryCursorStore(), batch=64)
        message = str(refused.value)
        assert str(path) in message and repr(CENTER) in message and "'voyago'" in message
    assert path.read_bytes() == before
    with FILE_SINKS[kind](tmp_path / f"mixed.{kind}") as sink, pytest.raises(SinkError, match="one center"):
        sink.write([lumiere[0], voyago[5]])
    assert (tmp_path / f"mixed.{kind}").read_text() == ("" if kind == "jsonl" else ",".join(CSV_COLUMNS) + "\n")
    run_file(tmp_path / f"voyago.{kind}", voyago, kind)  # a file of its own: every event
    assert (tmp_path / f"voyago.{kind}").read_text().count("voyago") >= len(voyago)


def test_csv_event_cut_at_a_line_boundary_is_written_again_whole(tmp_path: Path, feed: Feed) -> None:
    """Power lost before the fsync: the first rows of an event reached the disk, the others not."""
    clean = tmp_path / "clean.csv"
    run_file(clean, feed.events, "csv")
    text = clean.read_bytes()
    lines = text.splitlines(keepends=True)
    cut = next(i for i, e in enumerate(feed.events[200:], start=200) if len(e.changes) >= 3)
    rows_before = 1 + sum(len(e.changes) or 1 for e in feed.events[:cut])
    for kept in (1, 2):  # the first row, then the first two rows, of a three-row event
        path = tmp_path / f"cut{kept}.csv"
        path.write_bytes(b"".join(lines[:rows_before + kept]))
        run_file(path, feed.events, "csv", store=MemoryCursorStore(feed.events[cut - 1].id))
        assert path.read_bytes() == text


def test_csv_write_that_fails_part_way_is_cut_back(tmp_path: Path, feed: Feed) -> None:
    """A real failed write (the file size limit: EFBIG, as a full disk gives ENOSPC) in the middle of an event."""
    clean = tmp_path / "clean.csv"
    run_file(clean, feed.events, "csv")
    path = tmp_path / "feed.csv"
    run_file(path, feed.events[:100], "csv")
    size = path.stat().st_size
    target = next(e for e in feed.events[100:] if len(e.changes) >= 2)
    lines_before = 1 + sum(len(e.changes) or 1 for e in feed.events if e.id < target.id)
    limit = len(b"".join(clean.read_bytes().splitlines(keepends=True)[:lines_before + 1])) + 5  # inside row 2
    script = (
        "import resource, signal, sys\n"
        "from preference_sdk._sync import MemoryCursorStore, sync\n"
        "from tests.sdk.test_sinks import CsvSink, ListFeed, make_feed\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))\n"
        "events = make_feed().events\n"
        f"with CsvSink(sys.argv[1]) as sink:\n"
        f"    try:\n"
        f"        sync(ListFeed(events), sink, MemoryCursorStore({feed.events[99].id}), batch=500)\n"
        "    except OSError as error:\n"
        "        print('failed', error.errno)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parents[2])
    assert done.stdout.startswith("failed"), done.stderr
    assert path.stat().st_size == size  # the part written was cut off again
    run_file(path, feed.events, "csv", store=MemoryCursorStore(feed.events[99].id))
    assert path.read_bytes() == clean.read_bytes()


# The HTTP sink, against a CRM on 127.0.0.1.

class FakeCrm:
    """Contacts by id over HTTP, answering like the HubSpot-style API (PATCH upserts here)."""

    def __init__(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.fail_next: list[int] = []
        self.fail_event: tuple[int, int] | None = None  # (event id, status): always fails
        self.lock = threading.Lock()

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any] | None]:
        url = urlsplit(target)
        data = json.loads(body) if body else None
        key = headers.get("Idempotency-Key", "")
        with self.lock:
            self.requests.append({"method": method, "path": url.path, "query": parse_qs(url.query),
                                  "key": key, "json": data})
            if self.fail_next:
                return self.fail_next.pop(0), {"message": "try later"}
            if self.fail_event and key.endswith(f"-{self.fail_event[0]}"):
                return self.fail_event[1], {"message": "broken"}
            if method == "PATCH" and url.path.startswith("/crm/v3/objects/contacts/"):
                crm_id = unquote(url.path.rsplit("/", 1)[1])
                self.contacts.setdefault(crm_id, {}).update(data["properties"])
                return 200, {"id": crm_id, "properties": self.contacts[crm_id]}
            if method == "POST" and url.path == "/crm/v3/objects/contacts/gdpr-delete":
                found = [k for k, v in self.contacts.items() if v.get(data["idProperty"]) == data["objectId"]]
                for k in found:
                    del self.contacts[k]
                return (204, None) if found else (404, {"message": "not found"})
        return 400, {"message": "unexpected request"}


@pytest.fixture
def crm() -> Iterator[tuple[FakeCrm, str]]:
    state = FakeCrm()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a CRM's API would
        wbufsize = -1  # headers and body in one segment (no Nagle and delayed-ACK stall)

        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = state.handle(self.command, self.path, self.headers, body)
            payload = json.dumps(answer).encode() if answer is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_PATCH = do_POST = do_DELETE = _any  # noqa: N815 - http.server's method names

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def expected_crm(feed: Feed, mapping: HttpMapping) -> dict[str, dict[str, Any]]:
    contacts = {}
    for sid, paths in feed.last.items():
        mapped = {mapping.properties[p]: mapping._value(v) for p, v in paths.items() if p in mapping.properties}
        if sid in feed.erased or feed.external_ids[sid] is None or not mapped:
            continue
        contacts[feed.external_ids[sid]] = {**mapped, "preference_subscriber_id": sid}
    return contacts


def run_http(base_url: str, events: list[Event], store: Any = None, **options: Any) -> HttpSink:
    options = {"mapping": HUBSPOT_STYLE, "backoff": 0, **options}
    with HttpSink(base_url, headers={"Authorization": "Bearer crm-token"}, **options) as sink:
        sync(ListFeed(events), sink, store or MemoryCursorStore(), batch=50)
    return sink


def test_http_sink_keeps_a_hubspot_style_crm_in_step(crm: tuple[FakeCrm, str], feed: Feed) -> None:
    state, base_url = crm
    sink = run_http(base_url, feed.events)
    assert state.contacts == expected_crm(feed, HUBSPOT_STYLE)
    mapped = [e for e in feed.events if any(c.path in HUBSPOT_STYLE.properties for c in e.changes)]
    assert sink.skipped == sum(1 for e in mapped if e.external_id is None and not e.erased)
    erasures = [r for r in state.requests if r["path"].endswith("/gdpr-delete")]
    assert sorted(r["json"]["objectId"] for r in erasures) == sorted(feed.erased)
    assert all(r["json"]["idProperty"] == "preference_subscriber_id" for r in erasures)
    patches = [r for r in state.requests if r["method"] == "PATCH"]
    assert all(r["query"] == {"idProperty": ["crm_id"]} for r in patches)
    keys = [r["key"] for r in state.requests]
    assert len(set(keys)) == len(keys) and keys[0] == f"preference-sync-{CENTER}-{feed.events[0].id}"
    assert sink.sent == len(patches) and sink.sent + sink.unchanged + sink.skipped + len(erasures) == len(feed.events)


def test_http_failure_midway_leaves_the_cursor_and_a_rerun_equals_a_clean_run(crm: tuple[FakeCrm, str],
                                                                              feed: Feed) -> None:
    state, base_url = crm
    run_http(base_url, feed.events)
    clean = dict(state.contacts)
    state.contacts.clear()
    state.requests.clear()
    broken = next(e for e in feed.events[130:] if e.external_id and not e.erased and
                  any(c.path in HUBSPOT_STYLE.properties for c in e.changes))
    state.fail_event = (broken.id, 500)
    store = MemoryCursorStore()
    with pytest.raises(SinkError, match=f"answered 500 to PATCH for event {broken.id}"):
        run_http(base_url, feed.events, store, retries=2)
    assert store.cursor < broken.id and store.cursor == max(e.id for e in feed.events if e.id < broken.id
                                                             and feed.events.index(e) % 50 == 49)
    assert sum(1 for r in state.requests if r["key"].endswith(f"-{broken.id}")) == 3  # retried twice
    state.fail_event = None
    run_http(base_url, feed.events, store)
    assert state.contacts == clean
    run_http(base_url, feed.events)  # and a replay from 0 ends the same
    assert state.contacts == clean


def test_http_retries_throttling_with_the_same_idempotency_key(crm: tuple[FakeCrm, str]) -> None:
    state, base_url = crm
    state.fail_next = [429, 503]
    run_http(base_url, [event(41, "s1", 1, [("offers.email", "unknown", "opted_in")])])
    assert [r["key"] for r in state.requests] == [f"preference-sync-{CENTER}-41"] * 3
    assert state.contacts == {"crm-1": {"offers_email_opt_in": "true", "preference_subscriber_id": "s1"}}


def test_http_does_not_checkpoint_when_the_crm_is_unreachable(crm: tuple[FakeCrm, str]) -> None:
    _, base_url = crm
    store = MemoryCursorStore(3)
    with pytest.raises(SinkError, match="did not answer for event 4 after 2 attempts"):
        run_http("http://127.0.0.1:9", [event(4, "s1", 1, [("offers.email", "unknown", "opted_in")])], store,
                 retries=1)
    assert store.cursor == 3


def mock_crm(answers: dict[str, int] | None = None) -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = (answers or {}).get(request.method, 204)
        return httpx.Response(status, headers={"Retry-After": "0"}, json={"message": "x"} if status >= 400 else None)

    return seen, httpx.MockTransport(handler)


def test_http_salesforce_style_upserts_by_external_id_and_deletes_by_subscriber_id() -> None:
    seen, transport = mock_crm()
    events = [
        event(1, "s1", 1, [("offers.email", "unknown", "opted_in"), ("suppression", False, True),
                           ("interests", [], ["lighting", "tableware"])], external_id="crm/0 1"),
        event(2, "s1", 2, [("offers.push", "unknown", "opted_in")], external_id="crm/0 1"),  # not mapped
        event(3, "s1", 3, [("erasure", False, True)], external_id=None),
    ]
    with HttpSink("https://crm.example", mapping=SALESFORCE_STYLE, transport=transport) as sink:
        sink.write(events)
    assert [(r.method, r.url.raw_path.decode()) for r in seen] == [
        ("PATCH", "/services/data/v60.0/sobjects/Contact/External_Id__c/crm%2F0%201"),
        ("DELETE", "/services/data/v60.0/sobjects/Contact/Preference_Subscriber_Id__c/s1"),
    ]
    assert json.loads(seen[0].content) == {"Offers_Email__c": True, "HasOptedOutOfEmail": True,
                                           "Preference_Interests__c": "lighting;tableware",
                                           "Preference_Subscriber_Id__c": "s1"}
    assert (sink.sent, sink.unchanged, sink.deleted) == (1, 1, 1)


def test_http_a_missing_contact_is_counted_or_refused() -> None:
    seen, transport = mock_crm({"PATCH": 404})
    one = [event(1, "s1", 1, [("offers.email", "unknown", "opted_in")])]
    with HttpSink("https://crm.example", mapping=HUBSPOT_STYLE, transport=transport) as sink:
        sink.write(one)
    assert sink.missing == 1 and len(seen) == 1
    with HttpSink("https://crm.example", mapping=HUBSPOT_STYLE, transport=transport, skip_missing=False) as sink:
        with pytest.raises(SinkError, match="answered 404"):
            sink.write(one)


def test_http_a_client_error_is_not_retried() -> None:
    seen, transport = mock_crm({"PATCH": 400})
    with HttpSink("https://crm.example", mapping=HUBSPOT_STYLE, transport=transport, backoff=0) as sink:
        with pytest.raises(SinkError, match="answered 400"):
            sink.write([event(1, "s1", 1, [("offers.email", "unknown", "opted_in")])])
    assert len(seen) == 1


def test_http_mapping_templates_and_values() -> None:
    mapping = dataclasses.replace(
        HUBSPOT_STYLE, body={"data": PROPERTIES, "source": "preference-center {center}"},
        erase_method="DELETE", erase_path="/contacts/{external_id}", erase_body=None,
    )
    method, path, body = mapping.request_for(event(9, "s1", 4, [("pause", None, "2027-01-01T00:00:00+00:00"),
                                                                 ("frequency.offers", "weekly", None)]))
    assert (method, path) == ("PATCH", "/crm/v3/objects/contacts/crm-1?idProperty=crm_id")
    assert body == {"data": {"preferences_paused_until": "2027-01-01T00:00:00+00:00", "offers_frequency": "",
                             "preference_subscriber_id": "s1"}, "source": "preference-center maison-lumiere"}
    assert mapping.request_for(event(10, "s1", 5, [("erasure", False, True)])) == ("DELETE", "/contacts/crm-1", None)
    assert mapping.request_for(event(11, "s1", 6, [("locale", "fr", "en")])) is None



def test_http_value_maps_apply_to_new_values_and_match_booleans_by_type() -> None:
    """``True: "true"`` once turned version 1 into "true" (``True == 1``, with one hash)."""
    mapping = dataclasses.replace(HUBSPOT_STYLE, properties={**HUBSPOT_STYLE.properties, "version": "pref_version",
                                                             "event_id": "pref_event"},
                                  values={**HUBSPOT_STYLE.values, "1": "one"})
    _, _, body = mapping.request_for(event(1, "s1", 1, [("offers.email", "unknown", "opted_in"),
                                                         ("suppression", True, False)]))
    assert body["properties"] == {"preference_subscriber_id": "s1", "pref_version": 1, "pref_event": 1,
                                  "offers_email_opt_in": "true", "unsubscribed_from_all": "false"}
    assert mapping._value(True) == "true" and mapping._value(1) == 1 and mapping._value(1.0) == 1.0
    assert mapping._value(False) == "false" and mapping._value(0) == 0
    assert mapping._value([True, 1, "1"]) == "true;1;one"
