"""The exact wording shown, kept (issue 12), on SQLite and PostgreSQL: each center's text per
locale stored once at start, content-hashed; a widget save's event names the text the page
showed (covered by the keyed hash); an API event names one only when its body names a notice
version the server holds; the export and ``GET .../notices/{hash}`` give the text itself."""

from __future__ import annotations

import hashlib
import html
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update

from tests.helpers import ENGINES, form_of, same_origin
from widget_server.ledger import EventContext, canonical_json
from widget_server.preferences import Preferences
from widget_server.store.tables import events, notice_texts

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def visitor(client, store):
    from widget_server.preferences import OPTED_IN, Preferences

    subscriber = store.create_subscriber(CENTER, email="camille@example.org",
                                         preferences=Preferences(subscriptions={("offers", "email"): OPTED_IN}))
    token = client.app.state.signer.mint("manage", CENTER, subscriber)
    with client.another(headers={"Accept-Language": "fr-FR,fr;q=0.9"}) as browser:
        yield subscriber, token, browser


def stored_texts(store) -> list[dict]:
    with store.engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(select(notice_texts).order_by(notice_texts.c.hash))]


def base_texts(store, locale: str) -> list[dict]:
    """Maison Lumière's texts in ``locale`` without a region's notice (a page showing none)."""
    return [r for r in stored_texts(store) if r["center"] == CENTER and r["locale"] == locale
            and "region_notice" not in json.loads(r["text"])]


def test_every_center_and_locale_is_stored_once_at_start(client, store, centers, app_factory) -> None:
    rows = stored_texts(store)
    expected = {(c.id, c.notice_version, locale) for c in centers.values() for locale in c.locales}
    assert {(r["center"], r["notice_version"], r["locale"]) for r in rows} == expected
    for row in rows:  # the key is the SHA-256 of the stored canonical text, which anyone can recompute
        assert row["hash"] == hashlib.sha256(row["text"].encode()).hexdigest()
        assert canonical_json(json.loads(row["text"])) == row["text"]
    app_factory()  # a second start (another process, a restart) stores nothing new
    with ThreadPoolExecutor(2) as pool:  # nor do two at once
        list(pool.map(lambda _: app_factory(), range(2)))
    assert stored_texts(store) == rows


def test_the_text_is_the_wording_the_page_renders(client, store, visitor) -> None:
    _, token, browser = visitor
    page = html.unescape(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    [row] = base_texts(store, "fr")
    text = json.loads(row["text"])
    assert text["notice_version"] == "2026-11-01" and text["title"] and text["title"] in page
    offers = next(t for t in text["topics"] if t["id"] == "offers")
    assert offers["label"] == "Offres et promotions" and offers["label"] in page
    assert offers["description"] and all(c["label"] in page for c in offers["channels"])
    assert all(i["label"] in page for i in text["interests"])


def test_a_widget_save_names_the_text_shown_and_the_hash_covers_it(client, store, visitor) -> None:
    subscriber, token, browser = visitor
    fields = form_of(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.offers.sms"] = ["on"]
    assert browser.post(f"/c/{CENTER}/preferences", data=fields, headers=same_origin(client)).status_code == 303
    event = store.events(subscriber)[-1]
    [french] = [r["hash"] for r in base_texts(store, "fr")]
    assert event["source"] == "web" and event["notice_text"] == french
    assert store.verify_chain(subscriber).intact
    [english] = [r["hash"] for r in base_texts(store, "en")]
    with store.engine.begin() as connection:  # pointing the event at another text is tampering
        connection.execute(update(events).where(events.c.id == event["id"]).values(notice_text=english))
    assert not store.verify_chain(subscriber).intact


def test_api_events_name_a_text_only_when_the_body_names_a_version_held(client, make_key, store) -> None:
    headers = {"Authorization": f"Bearer {make_key(CENTER, 'write', 'admin')}"}
    made = client.post(f"{BASE}/subscribers", headers=headers, json={
        "preferences": {"subscriptions": {"offers": {"sms": "opted_in"}}}}).json()
    sid = made["subscriber_id"]
    named = client.patch(f"{BASE}/subscribers/{sid}/preferences", headers={**headers, "If-Match": '"1"'}, json={
        "subscriptions": {"offers": {"sms": "opted_out"}}, "notice_version": "2026-11-01", "locale": "fr"})
    assert named.status_code == 200, named.text
    unknown = client.patch(f"{BASE}/subscribers/{sid}/preferences", headers={**headers, "If-Match": '"2"'}, json={
        "subscriptions": {"offers": {"sms": "opted_in"}}, "notice_version": "1999-01", "locale": "fr"})
    assert unknown.status_code == 200, unknown.text
    first, second, third = store.events(sid)
    [french] = [r["hash"] for r in base_texts(store, "fr")]
    assert (first["notice_text"], second["notice_text"], third["notice_text"]) == (None, french, None)
    export = client.get(f"{BASE}/subscribers/{sid}/export", headers=headers).json()
    assert [e["notice_text"] for e in export["events"]] == [None, french, None]
    assert export["notice_texts"][french]["locale"] == "fr"
    assert export["notice_texts"][french]["topics"][0]["label"]
    assert export["events"][1]["key_id"] == store.chain_keys.current
    feed = client.get(f"{BASE}/events", headers=headers).json()["events"]
    assert [e["notice_text"] for e in feed if e["subscriber_id"] == sid] == [None, french, None]


def test_a_text_can_be_fetched_by_its_hash(client, make_key, store) -> None:
    reader = {"Authorization": f"Bearer {make_key(CENTER, 'read')}"}
    [row] = base_texts(store, "en")
    answer = client.get(f"{BASE}/notices/{row['hash']}", headers=reader)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["hash"], body["center"], body["locale"], body["notice_version"]) == (
        row["hash"], CENTER, "en", row["notice_version"])
    assert hashlib.sha256(canonical_json(body["text"]).encode()).hexdigest() == row["hash"]
    assert client.get(f"{BASE}/notices/{'0' * 64}", headers=reader).status_code == 404
    other = {"Authorization": f"Bearer {make_key('voyago', 'read')}"}  # another center's key: not its text
    assert client.get(f"/api/v1/centers/voyago/notices/{row['hash']}", headers=other).status_code == 404


def test_texts_are_counted_once_whatever_the_events(client, store, visitor) -> None:
    subscriber, token, browser = visitor
    for n in range(3):
        fields = form_of(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
        fields["s.offers.sms"] = ["on"] if n % 2 == 0 else []
        browser.post(f"/c/{CENTER}/preferences", data=fields, headers=same_origin(client))
    with store.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(notice_texts)) == len(stored_texts(store))
        shown = connection.scalar(select(func.count(func.distinct(events.c.notice_text)))
                                  .where(events.c.subscriber_id == subscriber))
    assert shown == 1


def test_the_sdk_reads_a_text_and_an_events_notice_text(client, make_key, store, visitor) -> None:
    from preference_sdk import Client
    from preference_sdk import NotFound as SdkNotFound

    subscriber, token, browser = visitor
    fields = form_of(browser.get(f"/c/{CENTER}/preferences", params={"t": token}).text)
    fields["s.offers.sms"] = ["on"]
    browser.post(f"/c/{CENTER}/preferences", data=fields, headers=same_origin(client))
    with Client(client.url, make_key(CENTER, "read"), CENTER, transport=client.transport) as sdk:
        [event] = [e for e in sdk.events().events if e.subscriber_id == subscriber and e.source == "web"]
        assert event.notice_text
        text = sdk.notice_text(event.notice_text)
        assert text["locale"] == "fr" and text["text"]["topics"][0]["label"]
        with pytest.raises(SdkNotFound):
            sdk.notice_text("0" * 64)


def test_an_unsubscribe_links_event_names_the_text_in_the_links_language(client, store, visitor) -> None:
    subscriber, _, _ = visitor
    token = client.app.state.signer.mint("unsubscribe", CENTER, subscriber, tp="offers", ch="email", l="en")
    answer = client.post(f"/c/{CENTER}/unsubscribe", params={"t": token}, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200, answer.text
    event = store.events(subscriber)[-1]
    [english] = [r["hash"] for r in base_texts(store, "en")]
    assert (event["source"], event["locale"], event["notice_text"]) == ("email_link", "en", english)


@pytest.mark.parametrize("engine", ["sqlite"])
def test_a_server_started_before_the_migration_stores_each_text_with_its_first_event(client_for, tmp_path) -> None:
    from widget_server.preferences import OPTED_IN, OPTED_OUT, Preferences
    from widget_server.store.engine import make_engine
    from widget_server.store.store import Store

    fresh = Store(make_engine(f"sqlite:///{tmp_path / 'fresh.db'}"), lookup_key=b"k")
    server = client_for(store=fresh, migrate=False)  # starts: nothing could be stored
    assert server.get(f"{server.url}/readyz").status_code == 503
    assert fresh.notice_texts.pending and fresh.notice_texts.shown
    fresh.migrate()
    web = EventContext(source="web", actor="subject", locale="fr", notice_version="2026-11-01")
    sid = fresh.create_subscriber(CENTER, preferences=Preferences(subscriptions={("offers", "email"): OPTED_IN}),
                                  context=web)
    [event] = fresh.events(sid)
    assert event["notice_text"] and event["notice_text"] not in fresh.notice_texts.pending
    assert [r["hash"] for r in stored_texts(fresh)] == [event["notice_text"]]  # stored with it, the others later
    with pytest.raises(RuntimeError):  # a rolled-back write stores nothing, and the text stays pending
        with fresh.writing() as connection:
            english = EventContext(source="web", actor="subject", locale="en", notice_version="2026-11-01")
            out = Preferences(version=1, subscriptions={("offers", "email"): OPTED_OUT})
            fresh.save_in(connection, CENTER, sid, out, base_version=1, context=english)
            raise RuntimeError("the request failed after the save")
    assert len(stored_texts(fresh)) == 1 and len(fresh.events(sid)) == 1
    assert any(row["locale"] == "en" and row["center"] == CENTER for row in fresh.notice_texts.pending.values())



def test_a_region_s_notice_is_part_of_the_text_its_subscribers_were_shown(client, store) -> None:
    """A Canadian's page adds CASL's notice near the save: their event names the text with it; a
    US subscriber's page adds none: theirs names the text without."""
    names = {}
    for country in ("CA", "US"):
        subscriber = store.create_subscriber(CENTER, email=f"{country}@example.org", locale="fr",
                                             preferences=Preferences(country=country))
        token = client.app.state.signer.mint("manage", CENTER, subscriber)
        page = client.get(f"/c/{CENTER}/preferences", params={"t": token, "lang": "fr"})
        fields = form_of(page.text)
        fields["s.offers.sms"] = ["on"]
        assert client.post(f"/c/{CENTER}/preferences", data=fields, headers=same_origin(client)).status_code == 303
        names[country] = (store.events(subscriber)[-1]["notice_text"], html.unescape(page.text))
    texts = {r["hash"]: json.loads(r["text"]) for r in stored_texts(store)}
    canada, page = names["CA"]
    assert texts[canada]["region"] == "CA" and texts[canada]["region_notice"] in page
    assert names["US"][0] == base_texts(store, "fr")[0]["hash"]  # the US region shows no notice
    assert {key: value for key, value in texts[canada].items() if key not in ("region", "region_notice")} == \
        texts[names["US"][0]]
