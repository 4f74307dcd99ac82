"""The JSON API, in-process, on SQLite and on PostgreSQL: every route, the good and the bad cases."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from tests.helpers import ENGINES
from widget_server.json_shapes import instant as json_instant
from widget_server.store import api_keys

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def api(client, make_key):
    """A client of the app in-process with an admin key (``client`` itself sends no key)."""
    key = make_key(CENTER, "admin")
    with client.another(headers={"Authorization": f"Bearer {key}"}) as api:
        api.key = key
        yield api


def problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


def create(api, **body) -> dict:
    response = api.post(f"{BASE}/subscribers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def event_count(store, subscriber_id: str) -> int:
    return len(store.events(subscriber_id))


# -- authentication and scopes --------------------------------------------------------


def test_no_key_malformed_unknown_or_revoked_key_is_401(client, make_key, store) -> None:
    url = f"{client.url}{BASE}"
    body = problem(client.get(url), 401, "unauthenticated")
    assert client.get(url).headers["www-authenticate"].startswith("Bearer")
    assert body["type"] == "about:blank"
    for bad in ("Bearer nonsense", "Bearer pck_", "Bearer pck_abc_def", "Basic dXNlcjpwYXNz", "Bearer"):
        problem(client.get(url, headers={"Authorization": bad}), 401, "unauthenticated")
    key = make_key(CENTER, "read")
    good = {"Authorization": f"Bearer {key}"}
    assert client.get(url, headers=good).status_code == 200
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    problem(client.get(url, headers={"Authorization": f"Bearer {tampered}"}), 401, "unauthenticated")
    with store.engine.begin() as connection:
        assert api_keys.revoke(connection, key.split("_")[1], store.clock())
    problem(client.get(url, headers=good), 401, "unauthenticated")


def test_scopes_and_centers_are_enforced(client, make_key) -> None:
    read = {"Authorization": f"Bearer {make_key(CENTER, 'read')}"}
    write = {"Authorization": f"Bearer {make_key(CENTER, 'write')}"}
    other = {"Authorization": f"Bearer {make_key('voyago', 'admin')}"}
    url = client.url
    lacking = problem(client.post(f"{url}{BASE}/subscribers", json={}, headers=read), 403, "forbidden")
    assert lacking["required_scope"] == "write"  # says which key to make
    created = client.post(f"{url}{BASE}/subscribers", json={}, headers=write)
    assert created.status_code == 201
    sid = created.json()["subscriber_id"]
    assert problem(client.get(f"{url}{BASE}/subscribers/{sid}/export", headers=write), 403,
                   "forbidden")["required_scope"] == "admin"
    problem(client.delete(f"{url}{BASE}/subscribers/{sid}", headers=write), 403, "forbidden")
    problem(client.get(f"{url}{BASE}/webhooks", headers=write), 403, "forbidden")
    # another center's key: 404, as for a center that does not exist (test_api_centers.py)
    assert "required_scope" not in problem(client.get(f"{url}{BASE}/subscribers/{sid}", headers=other), 404,
                                           "not_found")
    problem(client.get(f"{url}/api/v1/centers/nowhere", headers=other), 404, "not_found")
    assert client.get(f"{url}{BASE}/subscribers/{sid}", headers=read).status_code == 200


def test_the_center_definition(api) -> None:
    center = api.get(BASE).json()
    assert center["id"] == CENTER and center["default_locale"] in center["locales"]
    offers = next(t for t in center["topics"] if t["id"] == "offers")
    assert "email" in offers["channels"] and offers["kind"] == "marketing"


# -- subscribers and preferences ------------------------------------------------------


def test_create_read_and_find_by_external_id(api, store) -> None:
    # In Canada an e-mail opt-in needs no confirmation (elsewhere Maison Lumière asks one: pending).
    doc = create(api, external_id="crm-1", email="camille@example.org", locale="fr", country="CA",
                 preferences={"subscriptions": {"offers": {"email": "opted_in"}}, "source": "app",
                              "evidence": {"form": "checkout"}})
    sid = doc["subscriber_id"]
    assert doc["external_id"] == "crm-1" and doc["version"] == 1 and doc["locale"] == "fr"
    assert doc["subscriptions"]["offers"]["email"] == "opted_in"
    assert doc["subscriptions"]["offers"]["sms"] == "unknown"
    read = api.get(f"{BASE}/subscribers/{sid}")
    assert read.headers["etag"] == '"1"' and read.json() == doc
    assert api.get(f"{BASE}/subscribers", params={"external_id": "crm-1"}).json()["subscribers"] == [doc]
    assert api.get(f"{BASE}/subscribers", params={"external_id": "crm-404"}).json() == {"subscribers": []}
    [event] = store.events(sid)
    assert event["source"] == "app" and event["actor"].startswith("api_key:")
    assert event["evidence"] == {"form": "checkout"}
    assert "camille" not in str(event)


def test_create_refuses_duplicates_and_values_not_offered(api, store) -> None:
    first = create(api, external_id="crm-2", email="ana@example.org")
    taken = problem(api.post(f"{BASE}/subscribers", json={"external_id": "crm-2"}), 409, "conflict")
    assert taken["subscriber_id"] == first["subscriber_id"]
    problem(api.post(f"{BASE}/subscribers", json={"email": "ANA@example.org"}), 409, "conflict")
    bad = problem(api.post(f"{BASE}/subscribers", json={"preferences": {
        "subscriptions": {"offers": {"fax": "opted_in"}, "nope": {"email": "opted_in"}},
        "interests": ["astrology"]}}), 422, "invalid")
    assert {e["path"] for e in bad["errors"]} == {"subscriptions.offers.fax", "subscriptions.nope",
                                                 "interests.astrology"}
    problem(api.post(f"{BASE}/subscribers", json={"locale": "xx"}), 422, "invalid")
    problem(api.post(f"{BASE}/subscribers", json={"email": "not an address"}), 400, "bad_request")
    problem(api.post(f"{BASE}/subscribers", json={"surprise": 1}), 400, "bad_request")
    problem(api.post(f"{BASE}/subscribers", content=b"{not json", headers={"Content-Type": "application/json"}),
            400, "bad_request")
    assert api.get(f"{BASE}/subscribers", params={"external_id": "crm-2"}).json()["subscribers"][0]["version"] == 0


def test_put_needs_the_current_version(api, store) -> None:
    sid = create(api, external_id="crm-3")["subscriber_id"]
    url = f"{BASE}/subscribers/{sid}/preferences"
    body = {"subscriptions": {"offers": {"email": "opted_in"}}, "frequencies": {"offers": "weekly"}}
    problem(api.put(url, json=body), 428, "version_required")
    problem(api.put(url, json=body, headers={"If-Match": "soon"}), 400, "bad_request")
    saved = api.put(url, json=body, headers={"If-Match": '"0"'})
    assert saved.status_code == 200 and saved.headers["etag"] == '"1"'
    assert saved.json()["frequencies"] == {"offers": "weekly"}
    stale = problem(api.put(url, json={"subscriptions": {}}, headers={"If-Match": '"0"'}), 412, "stale_version")
    assert stale["current_version"] == 1
    assert api.get(f"{BASE}/subscribers/{sid}").json() == saved.json()
    assert event_count(store, sid) == 1
    # If-Match compares strongly (RFC 9110 13.1.1): a weak tag or another spelling never matches.
    for tag in ('W/"1"', '"01"'):
        problem(api.put(url, json={"subscriptions": {}}, headers={"If-Match": tag}), 412, "stale_version")
    weak = problem(api.put(url, json={"subscriptions": {}}, headers={"If-Match": 'W/"1"'}), 412, "stale_version")
    assert "weak" in weak["errors"][0]["message"]  # says why, where a compressing proxy weakened the tag
    # Never a 500, whatever the digits (a superscript two passes str.isdigit, not int).
    for bad in ('"1', '"\u00b2"'.encode("latin-1"), '"' + "9" * 4301 + '"', '"1" "2"', "1"):
        problem(api.put(url, json={"subscriptions": {}}, headers={"If-Match": bad}), 400, "bad_request")
    assert event_count(store, sid) == 1
    # A PUT replaces: what it leaves out is reset. A list matches if any of its tags does.
    reset = api.put(url, json={"subscriptions": {"offers": {"sms": "opted_out"}}}, headers={"If-Match": '"0", "1"'})
    assert reset.json()["subscriptions"]["offers"] == {"email": "unknown", "sms": "opted_out"} | {
        c: "unknown" for c in reset.json()["subscriptions"]["offers"] if c not in ("email", "sms")}
    assert reset.json()["frequencies"] == {}
    assert store.verify_chain(sid).intact


def test_patch_changes_only_what_it_names(api, store) -> None:
    sid = create(api, country="CA", preferences={"subscriptions": {"offers": {"email": "opted_in", "sms": "opted_in"}},
                                                 "interests": []})["subscriber_id"]
    url = f"{BASE}/subscribers/{sid}/preferences"
    changed = api.patch(url, json={"subscriptions": {"offers": {"sms": "opted_out"}}}).json()
    assert changed["subscriptions"]["offers"]["email"] == "opted_in"
    assert changed["subscriptions"]["offers"]["sms"] == "opted_out" and changed["version"] == 2
    same = api.patch(url, json={"subscriptions": {"offers": {"sms": "opted_out"}}}).json()
    assert same["version"] == 2  # nothing changed: no event
    problem(api.patch(url, json={"suppressed": True}, headers={"If-Match": '"1"'}), 412, "stale_version")
    gone = api.patch(url, json={"suppressed": True}, headers={"If-Match": '"2"'}).json()
    assert gone["suppressed"] and all(s != "opted_in" for chs in gone["subscriptions"].values() for s in chs.values())
    problem(api.patch(url, json={"frequencies": {"offers": "hourly"}}), 400, "bad_request")
    problem(api.patch(f"{BASE}/subscribers/sub_nobody/preferences", json={}), 404, "not_found")
    assert event_count(store, sid) == 3


def test_idempotency_keys_replay_the_first_answer(api, store) -> None:
    headers = {"Idempotency-Key": "order-7781-create"}
    first = api.post(f"{BASE}/subscribers", json={"external_id": "crm-idem"}, headers=headers)
    again = api.post(f"{BASE}/subscribers", json={"external_id": "crm-idem"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    problem(api.post(f"{BASE}/subscribers", json={"external_id": "crm-other"}, headers=headers),
            422, "idempotency_key_reused")
    problem(api.post(f"{BASE}/subscribers", json={}, headers={"Idempotency-Key": "has space"}), 400, "bad_request")
    sid = first.json()["subscriber_id"]
    url = f"{BASE}/subscribers/{sid}/preferences"
    body = {"subscriptions": {"offers": {"email": "opted_in"}}}
    one = api.put(url, json=body, headers={"If-Match": '"0"', "Idempotency-Key": "k2"})
    two = api.put(url, json=body, headers={"If-Match": '"0"', "Idempotency-Key": "k2"})
    assert one.status_code == two.status_code == 200 and one.json() == two.json()
    assert event_count(store, sid) == 1


def test_decision(api) -> None:
    sid = create(api, country="CA", preferences={"subscriptions": {"offers": {"email": "opted_in"}},
                                   "frequencies": {"offers": "weekly"}})["subscriber_id"]
    url = f"{BASE}/subscribers/{sid}/decision"
    waits = api.get(url, params={"topic": "offers", "channel": "email"}).json()
    assert waits == {"allowed": False, "reason": "wait_for_digest", "frequency": "weekly", "legal_basis": None}
    sent = api.get(url, params={"topic": "offers", "channel": "email", "digest": "true"}).json()
    assert sent["allowed"] and sent["legal_basis"] == "consent"  # what the send relies on
    assert not api.get(url, params={"topic": "offers", "channel": "sms", "digest": "true"}).json()["allowed"]
    problem(api.get(url, params={"topic": "offers"}), 400, "bad_request")
    problem(api.get(url, params={"topic": "offers", "channel": "email", "at": "2026-01-01T10:00:00"}),
            400, "bad_request")


def test_a_basis_the_new_country_does_not_allow_is_no_longer_a_yes(api, store) -> None:
    """A US e-mail opt-in on legitimate interest, then the person says they live in France: the
    EU allows consent alone, so the decision refuses until they consent there; consent holds."""
    sid = create(api, country="US", preferences={"subscriptions": {"offers": {"email": {
        "state": "opted_in", "legal_basis": "legitimate_interest"}}}})["subscriber_id"]
    url = f"{BASE}/subscribers/{sid}/decision"
    ask = {"topic": "offers", "channel": "email", "digest": "true"}
    assert api.get(url, params=ask).json()["reason"] == "opted_in"
    assert api.patch(f"{BASE}/subscribers/{sid}/preferences", json={"country": "FR"}).status_code == 200
    refused = api.get(url, params=ask).json()
    assert refused == {"allowed": False, "reason": "basis_not_allowed", "frequency": "weekly", "legal_basis": None}
    assert store.get(CENTER, sid).preferences.state("offers", "email") == "opted_in"  # nothing rewritten
    consented = create(api, country="US", preferences={"subscriptions": {"offers": {"email": "opted_in"}}})
    api.patch(f"{BASE}/subscribers/{consented['subscriber_id']}/preferences", json={"country": "CA"})
    assert api.get(f"{BASE}/subscribers/{consented['subscriber_id']}/decision", params=ask).json()["allowed"]


def test_links_open_the_widget_and_the_unsubscribe_page(api, client) -> None:
    sid = create(api, locale="en")["subscriber_id"]
    link = api.post(f"{BASE}/subscribers/{sid}/links", json={"scope": "manage", "locale": "en"})
    assert link.status_code == 201
    assert link.json()["url"].startswith(f"{client.url}/c/{CENTER}/preferences?t=")
    page = client.get(link.json()["url"])
    assert page.status_code == 200 and "<form" in page.text
    unsub = api.post(f"{BASE}/subscribers/{sid}/links", json={"scope": "unsubscribe", "topic": "offers"}).json()
    assert client.get(unsub["url"]).status_code == 200
    problem(api.post(f"{BASE}/subscribers/{sid}/links", json={"scope": "unsubscribe", "topic": "orders"}),
            422, "invalid")
    problem(api.post(f"{BASE}/subscribers/{sid}/links", json={"scope": "login"}), 400, "bad_request")
    problem(api.post(f"{BASE}/subscribers/sub_nobody/links", json={}), 404, "not_found")


def test_revoking_every_link_of_a_subscriber(api, client, make_key, store, clock) -> None:
    sid = create(api, locale="en")["subscriber_id"]
    link = api.post(f"{BASE}/subscribers/{sid}/links", json={"scope": "manage"}).json()["url"]
    assert client.get(link).status_code == 200
    clock.advance(seconds=0.5)
    answer = api.post(f"{BASE}/subscribers/{sid}/revoke-links", headers={"Idempotency-Key": "rk-1"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"subscriber_id": sid, "links_valid_after": json_instant(
        clock().replace(microsecond=0) + timedelta(seconds=1))}
    assert client.get(link).status_code == 401
    versions = event_count(store, sid)
    replay = api.post(f"{BASE}/subscribers/{sid}/revoke-links", headers={"Idempotency-Key": "rk-1"})
    assert replay.json() == answer.json() and replay.headers["Idempotent-Replayed"] == "true"
    assert event_count(store, sid) == versions  # a sign-out is no preference change: no event
    problem(api.post(f"{BASE}/subscribers/sub_nobody/revoke-links"), 404, "not_found")
    reader = make_key(CENTER, "read")
    refused = client.post(f"{client.url}{BASE}/subscribers/{sid}/revoke-links",
                          headers={"Authorization": f"Bearer {reader}"})
    problem(refused, 403, "forbidden")
    other = make_key("voyago", "write")  # another center's key cannot reach this subscriber
    elsewhere = client.post(f"{client.url}/api/v1/centers/voyago/subscribers/{sid}/revoke-links",
                            headers={"Authorization": f"Bearer {other}"})
    problem(elsewhere, 404, "not_found")


def test_export_and_erasure(api, store) -> None:
    doc = create(api, external_id="crm-gone", email="leave@example.org",
                 preferences={"subscriptions": {"offers": {"email": "opted_in"}}, "interests": []})
    sid = doc["subscriber_id"]
    held = api.get(f"{BASE}/subscribers/{sid}/export").json()
    assert held["contact_points"] == [{"kind": "email", "value": "leave@example.org"}]
    assert held["subscriber"]["external_id"] == "crm-gone" and len(held["events"]) == 1
    assert held["events"][0]["hash"] and "prev_hash" in held["events"][0]
    erased = api.delete(f"{BASE}/subscribers/{sid}")
    assert erased.status_code == 200 and not erased.json()["already_erased"]
    assert "contact_points" in erased.json()["deleted"] and "event_chain" in erased.json()["kept"]
    after = api.get(f"{BASE}/subscribers/{sid}/export").json()
    assert after["contact_points"] == [] and after["subscriber"]["external_id"] is None
    assert after["subscriber"]["subscriptions"]["offers"]["email"] == "opted_out"
    assert after["subscriber"]["suppressed"]
    assert after["events"][-1]["changes"][-1] == {"path": "erasure", "from": False, "to": True}
    assert store.verify_chain(sid).intact
    assert "leave@example.org" not in str(store.events(sid))
    assert api.delete(f"{BASE}/subscribers/{sid}").json()["already_erased"]
    for topic in ("orders", "offers"):  # not even a required topic reaches an erased person
        decision = api.get(f"{BASE}/subscribers/{sid}/decision", params={"topic": topic, "channel": "email"})
        assert decision.json() == {"allowed": False, "reason": "erased", "frequency": None, "legal_basis": None}
    problem(api.patch(f"{BASE}/subscribers/{sid}/preferences", json={}), 409, "conflict")
    # The same address added again starts suppressed, not opted in.
    again = create(api, email="leave@example.org", preferences={"subscriptions": {"offers": {"email": "opted_in"}}})
    assert again["suppressed"] and again["subscriptions"]["offers"]["email"] == "opted_out"
    # So does the same CRM id, without any address (a CRM sync that did not hear of the erasure).
    by_crm_id = create(api, external_id="crm-gone", preferences={"subscriptions": {"offers": {"email": "opted_in"}}})
    assert by_crm_id["suppressed"] and by_crm_id["subscriptions"]["offers"]["email"] == "opted_out"
    assert not create(api, external_id="crm-other")["suppressed"]


def test_a_legacy_file_imported_again_after_an_erasure_does_not_bring_the_person_back(api) -> None:
    rows = [{"external_id": f"legacy-{n}", "subscriptions": {"offers": {"email": "opted_in"}}} for n in (1, 2)]
    body = b"".join(json.dumps(r).encode() + b"\n" for r in rows)

    def imported() -> dict:
        response = api.post(f"{BASE}/imports", params={"dry_run": "false"}, content=body,
                            headers={"Content-Type": "application/x-ndjson"})
        assert response.status_code == 200, response.text
        return response.json()

    twice = api.post(f"{BASE}/imports?dry_run=true&dry_run=false", content=body,
                     headers={"Content-Type": "application/x-ndjson"})
    assert twice.status_code == 400 and twice.json()["errors"][0]["path"] == "dry_run"
    assert api.get(f"{BASE}/subscribers", params={"external_id": "legacy-1"}).json()["subscribers"] == []
    assert imported()["created"] == 2
    found = api.get(f"{BASE}/subscribers", params={"external_id": "legacy-1"}).json()["subscribers"][0]
    api.delete(f"{BASE}/subscribers/{found['subscriber_id']}")
    again = imported()
    assert (again["created"], again["unchanged"]) == (1, 1)
    back = api.get(f"{BASE}/subscribers", params={"external_id": "legacy-1"}).json()["subscribers"][0]
    assert back["subscriber_id"] != found["subscriber_id"]
    assert back["suppressed"] and back["subscriptions"]["offers"]["email"] == "opted_out"


def test_crm_ids_that_differ_only_by_a_space_are_two_people_after_an_erasure(api) -> None:
    gone = create(api, external_id="LEG 2903")["subscriber_id"]
    api.delete(f"{BASE}/subscribers/{gone}")
    rows = [{"external_id": x, "subscriptions": {"offers": {"email": "opted_in"}}} for x in ("LEG 2903", "LEG2903")]
    api.post(f"{BASE}/imports", params={"dry_run": "false"}, headers={"Content-Type": "application/x-ndjson"},
             content=b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    found = {x: api.get(f"{BASE}/subscribers", params={"external_id": x}).json()["subscribers"][0]
             for x in ("LEG 2903", "LEG2903")}
    assert found["LEG 2903"]["suppressed"] and not found["LEG2903"]["suppressed"]
    assert not create(api, external_id="LEG-2903")["suppressed"]


def test_the_change_feed_pages_from_a_cursor(api) -> None:
    ids = [create(api, preferences={"subscriptions": {"offers": {"email": "opted_in"}}})["subscriber_id"]
           for _ in range(5)]
    first = api.get(f"{BASE}/events", params={"limit": 2}).json()
    assert len(first["events"]) == 2 and first["has_more"]
    rest = api.get(f"{BASE}/events", params={"after": first["next_cursor"], "limit": 100}).json()
    assert not rest["has_more"]
    seen = [e["subscriber_id"] for e in first["events"] + rest["events"]]
    assert seen == ids
    cursors = [e["id"] for e in first["events"] + rest["events"]]
    assert cursors == sorted(set(cursors))
    tail = api.get(f"{BASE}/events", params={"after": rest["next_cursor"]}).json()
    assert tail == {"events": [], "next_cursor": rest["next_cursor"], "has_more": False}
    problem(api.get(f"{BASE}/events", params={"limit": 0}), 400, "bad_request")
    problem(api.get(f"{BASE}/events", params={"after": -1}), 400, "bad_request")


def test_problems_speak_the_callers_language(api) -> None:
    body = problem(api.get(f"{BASE}/subscribers/sub_nobody", headers={"Accept-Language": "fr"}), 404, "not_found")
    english = problem(api.get(f"{BASE}/subscribers/sub_nobody"), 404, "not_found")
    assert body["title"] != english["title"]


def test_rate_limit_answers_429_with_retry_after(client_for, make_key) -> None:
    server = client_for(options={"api_rate_limit": 3})
    headers = {"Authorization": f"Bearer {make_key(CENTER, 'read')}"}
    answers = [server.get(f"{server.url}{BASE}", headers=headers) for _ in range(4)]
    limited = problem(answers[-1], 429, "rate_limited")
    assert int(answers[-1].headers["retry-after"]) >= 0 and limited["retry_after"] >= 0


def test_openapi_documents_every_api_route(client) -> None:
    schema = client.get(f"{client.url}/schema/openapi.json").json()
    paths = {p for p in schema["paths"] if p.startswith("/api/v1")}
    expected = {"", "/events", "/subscribers", "/subscribers/{subscriber_id}",
                "/subscribers/{subscriber_id}/preferences", "/subscribers/{subscriber_id}/decision",
                "/subscribers/{subscriber_id}/links", "/subscribers/{subscriber_id}/export",
                "/subscribers/{subscriber_id}/revoke-links",
                "/subscribers/{subscriber_id}/verification", "/notices/{digest}",
                "/subscribers/{subscriber_id}/receipt",
                "/webhooks", "/webhooks/{endpoint_id}", "/webhooks/{endpoint_id}/deliveries",
                "/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay", "/webhooks/{endpoint_id}/replay",
                "/webhooks/{endpoint_id}/rotate-secret",
                "/imports", "/devices", "/devices/{device_id}", "/agent-searches"}
    assert {p.removeprefix("/api/v1/centers/{center_id}") for p in paths} == expected
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_bad_values_found_by_review_get_clear_answers(api) -> None:
    sid = create(api, preferences={"suppressed": True})["subscriber_id"]
    url = f"{BASE}/subscribers/{sid}/preferences"
    problem(api.put(url, json={}, headers={"If-Match": "*"}), 400, "bad_request")
    naive = problem(api.patch(url, json={"paused_until": "2026-12-01T00:00:00"}), 422, "invalid")
    assert naive["errors"][0]["path"] == "paused_until"
    problem(api.patch(url, json={"paused_until": "9999-12-31T23:00:00-10:00"}), 422, "invalid")
    problem(api.patch(url, json={"locale": "xx"}), 422, "invalid")
    # A PUT that does not opt anything in keeps "unsubscribe from everything" on.
    kept = api.put(url, json={"subscriptions": {"offers": {"email": "opted_out"}}}, headers={"If-Match": '"1"'})
    assert kept.status_code == 200 and kept.json()["suppressed"]
    not_allowed = api.delete(f"{BASE}/events")
    assert problem(not_allowed, 405, "method_not_allowed")["title"] == "Method not allowed"
    assert "GET" in not_allowed.headers["allow"]  # RFC 9110 15.5.6
    big = problem(api.patch(url, content=b'{"locale":"' + b"x" * 200_000 + b'"}',
                            headers={"Content-Type": "application/json"}), 413, "too_large")
    assert big["title"] == "Request too large"
    for media_type, body in (("text/plain", b'{"suppressed": true}'), ("application/x-www-form-urlencoded", b"a=1"),
                             ("", b'{"suppressed": true}')):
        wrong = problem(api.patch(url, content=body, headers={"Content-Type": media_type}), 415,
                        "unsupported_media_type")
        assert wrong["errors"] == [{"path": "Content-Type", "message": "application/json"}]
    assert api.get(url.removesuffix("/preferences")).json()["version"] == kept.json()["version"]  # nothing written
    for label in ("application/x-www-form-urlencoded", "text/plain"):  # an empty POST, labelled anyhow:
        empty = api.post(url.replace("/preferences", "/links"), content=b"", headers={"Content-Type": label})
        assert problem(empty, 400, "bad_request")["errors"]  # the body is missing, whatever its label
    merge_patch = api.patch(url, content=b"{}", headers={"Content-Type": "application/merge-patch+json"})
    assert merge_patch.status_code == 200
    missing = problem(api.get(f"{BASE}/subscribers"), 400, "bad_request")
    assert missing["errors"] and "external_id" in missing["errors"][0]["message"]
    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    assert api.post(f"{BASE}/subscribers", content=deep,
                    headers={"Content-Type": "application/json"}).status_code in (400, 413)


def test_an_erased_subscriber_cannot_be_reopened_by_a_link(api, client, settings) -> None:
    sid = create(api)["subscriber_id"]
    link = api.post(f"{BASE}/subscribers/{sid}/links", json={}).json()["url"]
    api.delete(f"{BASE}/subscribers/{sid}")
    problem(api.post(f"{BASE}/subscribers/{sid}/links", json={}), 409, "conflict")
    assert client.get(link).status_code in (401, 403)


def test_a_stranger_cannot_use_up_a_keys_rate_limit(client_for, make_key) -> None:
    server = client_for(options={"api_rate_limit": 3})
    key = make_key(CENTER, "read")
    forged = f"pck_{key.split('_', 2)[1]}_{'x' * 43}"  # the victim's public id, a wrong secret
    for _ in range(5):
        server.get(f"{server.url}{BASE}", headers={"Authorization": f"Bearer {forged}"})
    assert server.get(f"{server.url}{BASE}", headers={"Authorization": f"Bearer {key}"}).status_code == 200
