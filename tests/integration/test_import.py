"""Bulk import (``POST /imports``), the app in-process on SQLite and on PostgreSQL, and through the SDK.

What an import must guarantee: a dry run writes nothing; a real run writes one ``import``
event per changed subscriber, with its evidence and the legacy date as ``since``, chained
like every other event; running the same rows again changes nothing; a bad row is
rejected with its reason while the others are written; webhooks hear about it.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from preference_sdk._client import Client
from preference_sdk._import import ImportMappingError, import_file, load_mapping
from sqlalchemy import func, select

from tests.helpers import ENGINES
from widget_server.chain_keys import ChainKeys
from widget_server.ledger import canonical, keyed_hash, verify_chain
from widget_server.store.contacts import lookup_hash as contacts_lookup_hash
from widget_server.store.imports import lookup_hash
from widget_server.store.imports.proof import COLUMNS, HASH, Hasher, json_text, quoted
from widget_server.store.tables import contact_points, events, subscribers, subscriptions, webhook_deliveries

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def api(client, make_key):
    """A client of the app in-process with a write key (``client`` itself sends no key)."""
    key = make_key(CENTER, "write")
    with client.another(headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        api.key = key
        yield api


def ndjson(*records: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def post(api, body: bytes, *, dry_run: bool, **headers: str) -> httpx.Response:
    return api.post(f"{BASE}/imports", params={"dry_run": "true" if dry_run else "false"}, content=body,
                    headers={"Content-Type": "application/x-ndjson", **headers})


def imported(api, body: bytes, *, dry_run: bool = False) -> dict:
    response = post(api, body, dry_run=dry_run)
    assert response.status_code == 200, response.text
    return response.json()


def count(store, table, *where) -> int:
    with store.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(table).where(*where))


def subscriber_id(store, external_id: str) -> str:
    with store.engine.connect() as connection:
        return connection.scalar(select(subscribers.c.id).where(subscribers.c.external_id == external_id))


LEGACY = [
    {"row": 2, "external_id": "crm-1", "email": "ana@example.org", "locale": "fr",
     "subscriptions": {"offers": {"email": "opted_in", "sms": "opted_out"}}, "frequencies": {"offers": "weekly"},
     "interests": ["lighting", "garden"], "legacy_source": "old-esp", "legacy_date": "2019-04-02"},
    {"row": 3, "external_id": "crm-2", "subscriptions": {"offers": {"email": "opted_in"}},
     "legacy_source": "old-esp", "legacy_date": "2020-01-15"},
    {"row": 4, "external_id": "crm-3", "email": "leo@example.org", "locale": "en",
     "subscriptions": {"inspirations": {"post": "opted_in"}, "offers": {"email": "opted_out"}},
     "legacy_source": "shop", "legacy_date": "2021-06-30T10:30:00+02:00"},
    {"row": 5, "external_id": "crm-4", "locale": "fr"},  # no choices: a subscriber, no event
]


# -- dry run and real run -------------------------------------------------------------


def test_a_dry_run_reports_and_writes_nothing(api, store) -> None:
    report = imported(api, ndjson(*LEGACY), dry_run=True)
    assert report == {
        "dry_run": True, "rows": 4, "created": 4, "updated": 0, "unchanged": 0, "rejected": [],
        "changes": {"frequency.offers": {"weekly": 1}, "inspirations.post": {"opted_in": 1},
                    "interests": {"changed": 1}, "offers.email": {"opted_in": 2, "opted_out": 1},
                    "offers.sms": {"opted_out": 1}},
    }
    assert count(store, subscribers) == 0 and count(store, events) == 0 and count(store, contact_points) == 0


def test_a_real_run_records_import_events_with_evidence_and_since(api, store) -> None:
    report = imported(api, ndjson(*LEGACY))
    assert (report["created"], report["updated"], report["unchanged"], report["rejected"]) == (4, 0, 0, [])
    sid = subscriber_id(store, "crm-1")
    [event] = store.events(sid)
    assert event["source"] == "import" and event["actor"].startswith("api_key:") and event["version"] == 1
    assert event["evidence"] == {"legacy_source": "old-esp", "legacy_date": "2019-04-02"}
    assert event["locale"] == "fr" and event["notice_version"] is None and event["prev_hash"] is None
    assert event["changes"] == [
        {"path": "offers.email", "from": "unknown", "to": "opted_in"},
        {"path": "offers.sms", "from": "unknown", "to": "opted_out"},
        {"path": "frequency.offers", "from": None, "to": "weekly"},
        {"path": "interests", "from": [], "to": ["garden", "lighting"]},
    ]
    assert event["hash"] == keyed_hash(store.chain_keys, event) and store.verify_chain(sid).intact
    with store.engine.connect() as connection:
        since = connection.execute(select(subscriptions.c.topic, subscriptions.c.channel, subscriptions.c.since,
                                          subscriptions.c.event_id).where(subscriptions.c.subscriber_id == sid)).all()
    assert {(t, c) for t, c, _, _ in since} == {("offers", "email"), ("offers", "sms")}
    assert {s for _, _, s, _ in since} == {datetime(2019, 4, 2, tzinfo=timezone.utc)}
    assert {e for _, _, _, e in since} == {event["id"]}
    document = api.get(f"{BASE}/subscribers/{sid}").json()
    assert document["subscriptions"]["offers"] == {"email": "opted_in", "sms": "opted_out", "push": "unknown"}
    assert document["frequencies"] == {"offers": "weekly"} and document["interests"] == ["garden", "lighting"]
    assert document["locale"] == "fr" and document["external_id"] == "crm-1" and document["version"] == 1
    # A time with its offset is kept in UTC, as the legacy date and as since.
    [leo] = store.events(subscriber_id(store, "crm-3"))
    assert leo["evidence"]["legacy_date"] == "2021-06-30T08:30:00Z"
    # No choices: the subscriber exists, at version 0, with no event.
    quiet = subscriber_id(store, "crm-4")
    assert store.events(quiet) == [] and api.get(f"{BASE}/subscribers/{quiet}").json()["version"] == 0
    # E-mail addresses become contact points (found through their keyed hash); no address, none.
    assert store.find_by_contact(CENTER, "email", " ANA@example.org") == sid
    assert count(store, contact_points) == 2
    assert "ana@example.org" not in json.dumps(store.events(sid), default=str)


def test_running_the_same_rows_again_changes_nothing(api, store) -> None:
    imported(api, ndjson(*LEGACY))
    before = count(store, events)
    again = imported(api, ndjson(*LEGACY))
    assert (again["created"], again["updated"], again["unchanged"], again["changes"]) == (0, 0, 4, {})
    assert count(store, events) == before and count(store, subscribers) == 4


def test_an_existing_subscriber_is_patched_and_its_chain_continues(api, store) -> None:
    created = api.post(f"{BASE}/subscribers", json={"external_id": "crm-1", "preferences": {
        "subscriptions": {"offers": {"push": "opted_in"}}, "interests": ["kids"]}})
    assert created.status_code == 201
    sid = created.json()["subscriber_id"]
    report = imported(api, ndjson(LEGACY[0]))
    assert (report["created"], report["updated"]) == (0, 1)
    assert report["changes"]["offers.email"] == {"opted_in": 1}
    history = store.events(sid)
    assert [e["version"] for e in history] == [1, 2] and history[1]["prev_hash"] == history[0]["hash"]
    assert history[1]["source"] == "import" and store.verify_chain(sid).intact
    document = api.get(f"{BASE}/subscribers/{sid}").json()
    assert document["subscriptions"]["offers"] == {"email": "opted_in", "sms": "opted_out", "push": "opted_in"}
    assert document["interests"] == ["garden", "lighting"] and document["version"] == 2  # a PATCH: push kept
    assert document["locale"] == "fr"
    assert store.find_by_contact(CENTER, "email", "ana@example.org") == sid  # the address was added


def test_an_import_never_lifts_a_suppression(api, store, make_key) -> None:
    admin = {"Authorization": f"Bearer {make_key(CENTER, 'admin')}"}
    sid = api.post(f"{BASE}/subscribers", json={"external_id": "crm-9", "email": "gone@example.org"}).json()[
        "subscriber_id"]
    assert api.delete(f"{BASE}/subscribers/{sid}", headers=admin).status_code == 200
    still = api.post(f"{BASE}/subscribers", json={"external_id": "crm-10", "preferences": {"suppressed": True}})
    rows = [{"external_id": "crm-new", "email": "GONE@example.org", "subscriptions": {"offers": {"email": "opted_in"}}},
            {"external_id": "crm-10", "subscriptions": {"offers": {"email": "opted_in"}}}]
    report = imported(api, ndjson(*rows))
    assert (report["created"], report["unchanged"]) == (1, 1)
    comeback = api.get(f"{BASE}/subscribers", params={"external_id": "crm-new"}).json()["subscribers"][0]
    assert comeback["suppressed"] and comeback["subscriptions"]["offers"]["email"] == "opted_out"
    assert api.get(f"{BASE}/subscribers/{still.json()['subscriber_id']}").json()["suppressed"]
    assert store.verify_chain(comeback["subscriber_id"]).intact


# -- rejected rows --------------------------------------------------------------------


def test_rejected_rows_are_reported_and_the_others_written(api, store) -> None:
    today = datetime.now(timezone.utc).date()
    lines = [
        b'{"row": 110, "external_id": "ok-1", "subscriptions": {"offers": {"email": "opted_in"}}}',
        b'{"row": 111, "external_id": "bad-1", "subscriptions": {"offers": {"fax": "opted_in"}}}',
        b'{"row": 112, "external_id": "bad-2", "subscriptions": {"nope": {"email": "opted_in"}}}',
        b'{"row": 113, "external_id": "bad-3", "subscriptions": {"offers": {"email": "maybe"}}}',
        b'{"row": 114, "external_id": "bad-4", "locale": "xx"}',
        b'{"row": 115, "external_id": "bad-5", "legacy_date": "02/04/2019"}',
        json.dumps({"row": 116, "external_id": "bad-6", "legacy_date": str(today + timedelta(days=2))}).encode(),
        b'{"row": 117, "external_id": "ok-1"}',
        b'{"row": 118, "email": "no-id@example.org"}',
        b'{"row": 119, "external_id": "bad-7", "surprise": 1}',
        b'{"row": 120, "external_id": "bad-8", "subscriptions": {"orders": {"email": "opted_out"}}}',
        b'{"row": 121, "external_id": "bad-9", "frequencies": {"offers": "daily"}, "interests": ["astrology"]}',
        b'this is not json',  # line 13, and no row member: row 13
        b'{"row": 123, "external_id": "ok-2", "email": "dup@example.org"}',
        b'{"row": 124, "external_id": "bad-10", "email": "DUP@example.org"}',
        b'{"row": 125, "external_id": "bad-11", "legacy_date": "2019-04-02T10:00:00"}',
        b'   ',
        b'{"external_id": "ok-3", "interests": ["garden"]}',
    ]
    report = imported(api, b"\n".join(lines))
    reasons = {r["row"]: r["reason"] for r in report["rejected"]}
    assert report["rows"] == 17 and report["created"] == 3 and len(reasons) == 14
    assert reasons[111] == "row 111: subscriptions.offers.fax: this topic is offered on email, sms, push"
    assert reasons[112] == "row 112: subscriptions.nope: no such topic in this center"
    assert reasons[113] == ("row 113: subscriptions.offers.email: 'maybe' is not a state (opted_in, opted_out, "
                            "pending, unknown)")
    assert reasons[114] == "row 114: locale: not a locale of this center (fr, en)"
    assert reasons[115].startswith("row 115: legacy_date: a date (2019-04-02)")
    assert reasons[116] == "row 116: legacy_date: in the future"
    assert reasons[117] == "row 117: external_id: already in this batch (row 110)"
    assert reasons[118] == "row 118: Object missing required field `external_id`"
    assert reasons[119] == "row 119: Object contains unknown field `surprise`"
    assert reasons[120] == "row 120: subscriptions.orders: a required topic cannot be changed"
    assert reasons[121] == ("row 121: frequencies.offers: offered: realtime, weekly, monthly; "
                            "interests.astrology: no such interest in this center")
    assert reasons[13].startswith("row 13: not a JSON object")
    assert reasons[124] == "row 124: email: already in this batch (row 123)"
    assert reasons[125].startswith("row 125: legacy_date: give a time zone")
    assert [r["row"] for r in report["rejected"]] == sorted(reasons)
    assert all(subscriber_id(store, e) for e in ("ok-1", "ok-2", "ok-3"))
    assert count(store, subscribers) == 3  # a rejected row changes nothing
    assert report["changes"] == {"interests": {"changed": 1}, "offers.email": {"opted_in": 1}}


def test_an_address_held_by_another_subscriber_is_refused(api, store) -> None:
    api.post(f"{BASE}/subscribers", json={"external_id": "crm-x", "email": "taken@example.org"})
    report = imported(api, ndjson({"row": 2, "external_id": "crm-y", "email": "Taken@Example.org"},
                                  {"row": 3, "external_id": "crm-x", "email": "taken@example.org",
                                   "subscriptions": {"loyalty": {"email": "opted_out"}}}))
    assert report["rejected"] == [{"row": 2, "reason": "row 2: email: already a contact point of another "
                                                       "subscriber of this center"}]
    assert (report["created"], report["updated"]) == (0, 1)
    assert subscriber_id(store, "crm-y") is None


def test_a_body_that_is_not_json_lines_is_400(api) -> None:
    for body in (json.dumps(LEGACY).encode(), b"external_id,email\ncrm-1,a@example.org\n", b"\n\n", b""):
        response = post(api, body, dry_run=False)
        if body.strip():
            assert response.status_code == 400, body
            assert response.json()["code"] == "bad_request"
        else:  # nothing at all: an empty batch, nothing to do
            assert response.json()["rows"] == 0
    too_many = b"".join(b'{"external_id": "x%d"}\n' % n for n in range(10_001))
    assert post(api, too_many, dry_run=True).status_code == 400
    no_flag = api.post(f"{BASE}/imports", content=ndjson(LEGACY[1]))
    assert no_flag.status_code == 400  # dry_run must be said, one way or the other
    huge = b'{"external_id": "big", "legacy_source": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    assert post(api, huge, dry_run=True).status_code == 413


def test_keys_and_scopes(client, make_key) -> None:
    url = f"{client.url}{BASE}/imports?dry_run=true"
    body = ndjson(LEGACY[1])
    assert client.post(url, content=body).status_code == 401
    for scope, center, status in (("read", CENTER, 403), ("admin", "voyago", 404), ("write", CENTER, 200)):
        headers = {"Authorization": f"Bearer {make_key(center, scope)}", "Content-Type": "application/x-ndjson"}
        assert client.post(url, content=body, headers=headers).status_code == status


def test_an_idempotency_key_replays_the_first_report(api, store) -> None:
    first = post(api, ndjson(*LEGACY), dry_run=False, **{"Idempotency-Key": "import-2026-11-23-part-1"})
    again = post(api, ndjson(*LEGACY), dry_run=False, **{"Idempotency-Key": "import-2026-11-23-part-1"})
    assert first.json()["created"] == 4 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert count(store, events) == 3


# -- the hash chain and the outbox ----------------------------------------------------


@pytest.mark.parametrize("locale, source, day, prev", [
    ("fr", "old-esp", "2019-04-02", None),
    (None, 'quo"te \\ back', "2019-04-02T08:30:00Z", "ab" * 32),
    ("en", "Ünïcødé ☃ \u2028 \x01", None, None),
    (None, None, None, "cd" * 32),
])
def test_the_batch_hasher_is_ledger_event_hash(locale, source, day, prev) -> None:
    from widget_server.ledger import Change
    from widget_server.store.imports import Row

    now = datetime(2026, 11, 23, 14, 3, 11, 201000, tzinfo=timezone.utc)
    keys = ChainKeys.of([b"a chain secret"])
    hasher = Hasher(CENTER, "api_key:abc", now, "stored-time", keys)
    changes = [Change("offers.email", "unknown", "opted_in"), Change("interests", [], ["garden", "é"]),
               Change("frequency.offers", None, "weekly")]
    evidence = {"legacy_source": source, "legacy_date": day}
    row = Row(1, "crm-1", None, locale, None, (), False, now, evidence)
    stored, hashed = hasher.changes(changes)
    made = hasher.event(41, "sub_1Xh3-_ab", 7, prev, row, stored, hashed)
    record = {"subscriber_id": "sub_1Xh3-_ab", "center": CENTER, "version": 7, "occurred_at": now,
              "source": "import", "actor": "api_key:abc", "changes": json.loads(stored), "notice_version": None,
              "locale": locale, "evidence": json.loads(made[COLUMNS.index("evidence")]), "context": None,
              "submission_id": None, "prev_hash": prev, "id": 41, "key_id": keys.current, "notice_text": None}
    assert record["evidence"] == evidence and record["changes"] == [c.as_dict() for c in changes]
    assert made[HASH] == keyed_hash(keys, record)
    assert quoted(source) == json_text(source) and canonical(record)


def test_the_quick_lookup_hash_is_the_contacts_one() -> None:
    for address in ("ana@example.org", "  ANA@Example.ORG ", "ünï@exämple.org"):
        assert lookup_hash(b"key", CENTER, address) == contacts_lookup_hash(b"key", CENTER, "email", address)


def test_a_large_batch_chains_every_subscriber(api, store) -> None:
    rows = [{"external_id": f"crm-{n:05d}", "email": f"c{n}@example.org",
             "subscriptions": {"offers": {"email": ["opted_in", "opted_out"][n % 2]}},
             "interests": [["garden"], ["kids", "linen"], []][n % 3], "legacy_date": "2018-01-01"}
            for n in range(3000)]
    assert imported(api, ndjson(*rows))["created"] == 3000
    rows[7]["subscriptions"] = {"offers": {"sms": "opted_in"}}
    second = imported(api, ndjson(*rows))
    assert (second["updated"], second["unchanged"]) == (1, 2999)
    with store.engine.connect() as connection:
        by_subscriber: dict[str, list] = {}
        for event in connection.execute(select(events).order_by(events.c.subscriber_id, events.c.version)):
            by_subscriber.setdefault(event.subscriber_id, []).append(dict(event._mapping))
    assert sum(len(e) for e in by_subscriber.values()) == 3001
    assert all(verify_chain(chain, store.chain_keys).intact for chain in by_subscriber.values())
    assert len(by_subscriber[subscriber_id(store, "crm-00007")]) == 2


def test_webhook_deliveries_are_queued_and_sent(client_for, make_key, store) -> None:
    received: list[dict] = []
    lock = threading.Lock()

    def receiver(request: httpx.Request) -> httpx.Response:
        with lock:
            received.append(json.loads(request.content))
        return httpx.Response(204)

    # In-process, its lifespan running the delivery worker; the receiver is the worker's transport.
    server = client_for(options={"webhook_allow_private": True}, webhook_transport=httpx.MockTransport(receiver))
    admin = {"Authorization": f"Bearer {make_key(CENTER, 'admin')}"}
    base = f"{server.url}{BASE}"
    hook = server.post(f"{base}/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=admin)
    assert hook.status_code == 201
    response = server.post(f"{base}/imports?dry_run=false", content=ndjson(*LEGACY),
                           headers={**admin, "Content-Type": "application/x-ndjson"})
    assert response.status_code == 200 and response.json()["created"] == 4
    with store.engine.connect() as connection:
        queued = connection.execute(select(webhook_deliveries.c.event_id, webhook_deliveries.c.subscriber_id,
                                           webhook_deliveries.c.endpoint_id)).all()
        appended = connection.execute(select(events.c.id, events.c.subscriber_id)).all()
    assert sorted((e, s) for e, s, _ in queued) == sorted(appended) and len(appended) == 3
    assert {endpoint for _, _, endpoint in queued} == {hook.json()["id"]}
    deadline = time.monotonic() + 20
    while len(received) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(r["event"]["id"] for r in received) == sorted(e for e, _ in appended)
    assert {r["event"]["source"] for r in received} == {"import"}


# -- through the SDK --------------------------------------------------------------------

CSV = """\
CustomerID,Email,Lang,OptInDate,NewsOptIn,SmsOptIn,Freq,Tags
C001,ana@example.org,FR,02/04/2019,Y,N,W,Deco;Jardin
C002,,EN,15/01/2020,N,,M,
C003,leo@example.org,FR,31/02/2019,Y,Y,,
C004,zoe@example.org,FR,01/03/2021,maybe,,,
C001,ana2@example.org,FR,02/04/2019,Y,,,
C005,ANA@example.org,EN,02/04/2019,Y,,,
C006,,FR,,,Y,R,Lampes
"""

MAPPING = """\
legacy_source = "old-esp"
date_formats = ["%d/%m/%Y"]

[columns]
external_id = "CustomerID"
email = "Email"
locale = "Lang"
legacy_date = "OptInDate"
"offers.email" = "NewsOptIn"
"offers.sms" = "SmsOptIn"
"frequency.offers" = "Freq"
interests = "Tags"

[values]
states = {Y = "opted_in", N = "opted_out"}
locale = {FR = "fr", EN = "en"}
"frequency.offers" = {W = "weekly", M = "monthly", R = "realtime"}
interests = {Deco = "home-decor", Jardin = "garden", Lampes = "lighting"}
"""


def test_the_sdk_imports_a_csv_file_with_a_mapping(client, make_key, store, tmp_path) -> None:
    (tmp_path / "legacy.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "legacy.toml").write_text(MAPPING, encoding="utf-8")
    mapping = load_mapping(tmp_path / "legacy.toml")
    progress = []
    with Client(client.url, make_key(CENTER, "write"), CENTER, timeout=30, transport=client.transport) as sdk:
        dry = import_file(sdk, tmp_path / "legacy.csv", mapping, dry_run=True, batch_size=2)
        assert count(store, subscribers) == 0
        report = import_file(sdk, tmp_path / "legacy.csv", mapping, dry_run=False, batch_size=2,
                             on_progress=progress.append)
        again = import_file(sdk, tmp_path / "legacy.csv", mapping, dry_run=False)
    assert dry.dry_run and not report.dry_run
    assert (report.rows, report.created, report.updated, report.unchanged) == (7, 3, 0, 0)
    assert (dry.created, dry.changes) == (report.created, report.changes)
    assert [r["row"] for r in report.rejected] == [4, 5, 6, 7]
    reasons = [r["reason"] for r in report.rejected]
    assert reasons[0] == "row 4: column OptInDate: '31/02/2019' is not a date (%d/%m/%Y)"
    assert reasons[1].startswith("row 5: column NewsOptIn: 'maybe' is not in values.offers.email")
    assert reasons[2] == "row 6: external_id: already in row 2"
    assert reasons[3] == "row 7: email: already in row 2"
    assert report.changes["offers.email"] == {"opted_in": 1, "opted_out": 1}
    assert report.changes["frequency.offers"] == {"weekly": 1, "monthly": 1, "realtime": 1}
    assert progress and progress[-1] == report and progress[0].rows <= report.rows
    assert (again.created, again.updated, again.unchanged, again.changes) == (0, 0, 3, {})
    ana = subscriber_id(store, "C001")
    [event] = store.events(ana)
    assert event["evidence"] == {"legacy_source": "old-esp", "legacy_date": "2019-04-02"}
    assert event["locale"] == "fr" and store.verify_chain(ana).intact
    assert store.find_by_contact(CENTER, "email", "ana@example.org") == ana
    c006 = store.events(subscriber_id(store, "C006"))[0]
    assert c006["evidence"] == {"legacy_source": "old-esp", "legacy_date": None}
    assert {c["path"] for c in c006["changes"]} == {"offers.sms", "frequency.offers", "interests"}


def test_the_sdk_refuses_a_mapping_the_center_does_not_offer(client, make_key, tmp_path) -> None:
    (tmp_path / "legacy.csv").write_text(CSV, encoding="utf-8")
    with Client(client.url, make_key(CENTER, "write"), CENTER, transport=client.transport) as sdk:
        with pytest.raises(ImportMappingError, match="offers.fax: this topic is offered on email, sms, push"):
            import_file(sdk, tmp_path / "legacy.csv",
                        {"columns": {"external_id": "CustomerID", "offers.fax": "NewsOptIn"}}, dry_run=True)
        with pytest.raises(ImportMappingError, match="columns not in legacy.csv: Nope"):
            import_file(sdk, tmp_path / "legacy.csv", {"columns": {"external_id": "Nope"}}, dry_run=True)


# -- PostgreSQL -----------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["postgresql"])  # a sequence's gap: PostgreSQL alone
def test_the_same_import_on_postgresql(centers, store) -> None:
    """The store's PostgreSQL path: casts, row locks, and event ids from a sequence with a gap."""
    from sqlalchemy import text

    from widget_server.store import webhooks
    from widget_server.store.imports import import_rows
    from widget_server.web.routes.api.import_rows import read_batch

    center = centers[CENTER]
    with store.writing() as connection:
        webhooks.create_endpoint(connection, CENTER, "https://hooks.example.org/x", None, "whsec_x",
                                 store.clock())
        connection.execute(text("SELECT nextval(pg_get_serial_sequence('events', 'id'))"))  # a gap

    def run(*records: dict, dry_run: bool = False) -> object:
        batch = read_batch(ndjson(*records), center, store.clock())
        with (store.writing() if not dry_run else store.engine.begin()) as connection:
            return import_rows(connection, center, batch.rows, patch=batch.patch, actor="api_key:pg",
                               lookup_key=b"test-lookup-key", now=store.clock(), dry_run=dry_run)

    assert run(*LEGACY, dry_run=True).created == 4 and count(store, subscribers) == 0
    first = run(*LEGACY)
    assert (first.created, first.rejected) == (4, [])
    changed = dict(LEGACY[0], subscriptions={"offers": {"push": "opted_in"}}, suppressed=True)
    second = run(changed, *LEGACY[1:])
    assert (second.updated, second.unchanged) == (1, 3)
    assert second.changes["suppression"] == {"true": 1}
    sid = subscriber_id(store, "crm-1")
    history = store.events(sid)
    assert [e["version"] for e in history] == [1, 2] and store.verify_chain(sid).intact
    assert history[0]["evidence"] == {"legacy_source": "old-esp", "legacy_date": "2019-04-02"}
    assert store.get(CENTER, sid).preferences.suppressed
    with store.engine.connect() as connection:
        assert connection.scalar(select(func.min(events.c.id))) == 2  # after the gap
        pairs = connection.execute(select(subscriptions.c.subscriber_id, events.c.subscriber_id).select_from(
            subscriptions.outerjoin(events, events.c.id == subscriptions.c.event_id))).all()
        assert pairs and all(mine == its for mine, its in pairs)  # each row names its own event
        assert connection.scalar(select(func.count()).select_from(webhook_deliveries)) == 4  # 3 + 1 events


def test_review_findings_on_imports(api, store, client, settings, clock) -> None:
    """A re-run after a person unsubscribed here keeps the withdrawal; odd values are rejected rows."""
    first = imported(api, ndjson(LEGACY[1]))
    assert first["created"] == 1
    sid = subscriber_id(store, "crm-2")
    token = client.app.state.signer.mint("unsubscribe", CENTER, sid, tp="offers", ch="email")
    one_click = client.post(f"{client.url}/c/{CENTER}/unsubscribe", params={"t": token},
                            data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    again = imported(api, ndjson(LEGACY[1]))
    assert again["unchanged"] == 1 and again["updated"] == 0
    assert store.get(CENTER, sid).preferences.state("offers", "email") == "opted_out"
    twice = imported(api, ndjson({"row": 5, "external_id": "dup"}, {"row": 5, "external_id": "dup"}), dry_run=True)
    assert twice["created"] == 1 and len(twice["rejected"]) == 1
    odd = imported(api, ndjson(
        {"row": 1, "external_id": "a", "subscriptions": {"offers": {"email": ["x"]}}},
        {"row": 2, "external_id": "b", "frequencies": {"offers": {"a": 1}}},
        {"row": 3, "external_id": "c", "legacy_date": "0001-01-01T00:00:00+05:00"},
        {"row": 4, "external_id": "d", "legacy_date": "9999-12-31T23:00:00-05:00"},
    ), dry_run=True)
    assert [r["row"] for r in odd["rejected"]] == [1, 2, 3, 4]
    assert post(api, ndjson(LEGACY[0]), dry_run=True, **{"Content-Type": "text/plain"}).status_code == 415
