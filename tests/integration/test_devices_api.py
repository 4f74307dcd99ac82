"""The admin API of the kiosk and the agent console, in-process, on SQLite and on PostgreSQL:
devices provisioned and revoked (``/devices``), and the agent searches' audit trail."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from tests.helpers import ENGINES
from widget_server import tokens
from widget_server.store import agent_searches, devices
from widget_server.store.tables import idempotency_keys

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def api(client, make_key):
    """A client of the app in-process with an admin key of the center."""
    with client.another(headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"}) as api:
        yield api


def problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["title"] and body["detail"]
    return body


def provision(api, store: str = "Paris 9e", name: str = "Front desk tablet", **headers: str) -> httpx.Response:
    return api.post(f"{BASE}/devices", json={"store": store, "name": name}, headers=headers)


def token_of(kiosk_url: str) -> str:
    return parse_qs(urlsplit(kiosk_url).query)["t"][0]


# -- devices ---------------------------------------------------------------------------------


def test_a_device_is_created_listed_read_and_revoked(api, settings, centers, store) -> None:
    made = provision(api)
    assert made.status_code == 201, made.text
    device = made.json()
    assert set(device) == {"id", "store", "name", "created_at", "revoked_at", "kiosk_url", "staff_pin"}
    assert list(device)[-2:] == ["kiosk_url", "staff_pin"] and re.fullmatch(r"[0-9]{8}", device["staff_pin"])
    assert (device["store"], device["name"], device["revoked_at"]) == ("Paris 9e", "Front desk tablet", None)
    assert made.headers["location"] == f"{BASE}/devices/{device['id']}"
    assert device["kiosk_url"].startswith(f"{settings.base_url}/c/{CENTER}/kiosk?t=")

    token = token_of(device["kiosk_url"])
    named = tokens.read_device_token(tokens.make_signer(settings), token, centers[CENTER])
    assert (named.id, named.center, named.location) == (device["id"], CENTER, "Paris 9e")

    with store.engine.connect() as connection:
        made_device = devices.get(connection, CENTER, device["id"])
    assert devices.staff_pin_matches(store.lookup_key, made_device, device["staff_pin"])  # the tablet's PIN
    assert device["staff_pin"] not in repr(made_device)  # its hash only

    without_token = {k: v for k, v in device.items() if k not in ("kiosk_url", "staff_pin")}
    listed = api.get(f"{BASE}/devices")
    assert listed.status_code == 200 and listed.json() == {"devices": [without_token]}
    assert token not in listed.text and device["staff_pin"] not in listed.text  # shown at creation only
    one = api.get(f"{BASE}/devices/{device['id']}")
    assert one.status_code == 200 and one.json() == without_token and device["staff_pin"] not in one.text

    revoked = api.delete(f"{BASE}/devices/{device['id']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] and revoked.json()["id"] == device["id"]
    with store.engine.connect() as connection:
        assert not devices.get(connection, CENTER, device["id"]).live  # the kiosk's next request is refused
    again = api.delete(f"{BASE}/devices/{device['id']}")  # idempotent: revoked as it was
    assert again.status_code == 200 and again.json() == revoked.json()
    assert api.get(f"{BASE}/devices").json() == {"devices": [revoked.json()]}  # listed, with revoked_at


def test_devices_are_listed_oldest_first_each_center_its_own(api, client, make_key, clock) -> None:
    first = provision(api, name="Till 1").json()
    clock.advance(seconds=1)
    second = provision(api, name="Till 2").json()
    assert [d["id"] for d in api.get(f"{BASE}/devices").json()["devices"]] == [first["id"], second["id"]]
    with client.another(headers={"Authorization": f"Bearer {make_key('voyago', 'admin')}"}) as voyago:
        assert voyago.get("/api/v1/centers/voyago/devices").json() == {"devices": []}
        for answer in (voyago.get(f"/api/v1/centers/voyago/devices/{first['id']}"),
                       voyago.delete(f"/api/v1/centers/voyago/devices/{first['id']}")):
            problem(answer, 404, "not_found")  # another center's device is no device of this one
    assert api.get(f"{BASE}/devices/{first['id']}").json()["revoked_at"] is None


def test_devices_need_an_admin_key_of_the_center(client, make_key) -> None:
    device_id = "dev_whatever"
    calls = [("POST", f"{BASE}/devices", {"store": "S", "name": "N"}), ("GET", f"{BASE}/devices", None),
             ("GET", f"{BASE}/devices/{device_id}", None), ("DELETE", f"{BASE}/devices/{device_id}", None)]
    for scopes in (["read"], ["read", "write"]):
        headers = {"Authorization": f"Bearer {make_key(CENTER, *scopes)}"}
        for method, url, body in calls:
            lacking = problem(client.request(method, url, json=body, headers=headers), 403, "forbidden")
            assert lacking["required_scope"] == "admin"
    other = {"Authorization": f"Bearer {make_key('voyago', 'admin')}"}
    for method, url, body in calls:
        problem(client.request(method, url, json=body, headers=other), 404, "not_found")  # not its center
        problem(client.request(method, url, json=body), 401, "unauthenticated")


def test_an_unknown_device_is_404(api) -> None:
    for answer in (api.get(f"{BASE}/devices/dev_nosuchdevice"), api.delete(f"{BASE}/devices/dev_nosuchdevice")):
        problem(answer, 404, "not_found")


@pytest.mark.parametrize("body", [
    {"store": "Paris"},  # no name
    {"name": "Till"},
    {"store": "", "name": "Till"},
    {"store": "Paris", "name": "x" * 81},
    {"store": "   ", "name": "Till"},  # only spaces
    {"store": "Paris\n9e", "name": "Till"},  # a control character
    {"store": "Paris", "name": "Till", "token": "mine"},  # an unknown member
    {"store": 9, "name": "Till"},
    ["Paris", "Till"],
])
def test_a_bad_body_is_refused_and_provisions_nothing(api, body) -> None:
    assert problem(api.post(f"{BASE}/devices", json=body), 400, "bad_request")["errors"]
    assert api.get(f"{BASE}/devices").json() == {"devices": []}


def test_a_body_that_is_not_json_is_415(api) -> None:
    answer = api.post(f"{BASE}/devices", content=b"store=Paris&name=Till",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    problem(answer, 415, "unsupported_media_type")


def test_eighty_characters_of_any_script_are_a_name(api) -> None:
    made = provision(api, store="東京 銀座", name="é" * 80)
    assert made.status_code == 201 and made.json()["name"] == "é" * 80


def test_a_retry_with_the_same_idempotency_key_gets_the_same_device_and_link_but_not_the_pin(api, store) -> None:
    first = provision(api, **{"Idempotency-Key": "tablet-42"})
    again = provision(api, **{"Idempotency-Key": "tablet-42"})
    assert first.status_code == again.status_code == 201
    pin = first.json()["staff_pin"]
    assert again.json() == {**first.json(), "staff_pin": None} and again.headers["idempotent-replayed"] == "true"
    with store.engine.connect() as connection:  # the stored answer the replay came from: no PIN in it
        assert pin not in repr(connection.execute(select(idempotency_keys)).all())
    assert again.headers["location"] == first.headers["location"]
    assert len(api.get(f"{BASE}/devices").json()["devices"]) == 1  # provisioned once
    problem(provision(api, name="Another", **{"Idempotency-Key": "tablet-42"}), 422, "idempotency_key_reused")

    device_id = first.json()["id"]
    revoked = api.delete(f"{BASE}/devices/{device_id}", headers={"Idempotency-Key": "lost-42"})
    replayed = api.delete(f"{BASE}/devices/{device_id}", headers={"Idempotency-Key": "lost-42"})
    assert replayed.json() == revoked.json() and replayed.headers["idempotent-replayed"] == "true"


def test_the_staff_pin_answered_is_the_one_the_kiosk_takes(api, client, store) -> None:
    from tests.helpers import same_origin

    device = provision(api).json()
    store.create_subscriber(CENTER, email="camille@example.org")

    def attest(pin: str) -> httpx.Response:
        return client.post(f"/c/{CENTER}/kiosk/identify", headers=same_origin(client), data={
            "t": token_of(device["kiosk_url"]), "lang": "en", "kind": "email", "email": "camille@example.org",
            "proof": "staff", "checked": "yes", "staff_pin": pin})

    assert attest(f"{(int(device['staff_pin']) + 1) % 10**8:08d}").status_code == 422
    opened = attest(device["staff_pin"])
    assert opened.status_code == 200 and 'name="session"' in opened.text


# -- the agent searches' audit trail --------------------------------------------------------------


def record(store, clock, agent: str, *, found: bool = True, center: str = CENTER, kind: str = "email"):
    with store.engine.begin() as connection:
        return agent_searches.record(connection, center, agent, kind, "h" * 64, "sub_found" if found else None,
                                     clock())


def trail(api, **params) -> dict:
    answer = api.get(f"{BASE}/agent-searches", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_trail_says_who_searched_when_and_whom_it_found_never_what(api, store, clock) -> None:
    found = record(store, clock, "a.martin")
    clock.advance(minutes=1)
    missed = record(store, clock, "b.durand", found=False, kind="phone")
    record(store, clock, "c.other", center="voyago")
    answer = api.get(f"{BASE}/agent-searches")
    assert answer.json() == {"searches": [
        {"id": missed.id, "agent": "b.durand", "kind": "phone", "found": False, "subscriber_id": None,
         "searched_at": answer.json()["searches"][0]["searched_at"]},
        {"id": found.id, "agent": "a.martin", "kind": "email", "found": True, "subscriber_id": "sub_found",
         "searched_at": answer.json()["searches"][1]["searched_at"]},
    ], "next": None}  # newest first, this center's only
    assert "h" * 64 not in answer.text  # not even the hash of what was typed
    assert answer.json()["searches"][1]["searched_at"].endswith("Z")


def test_the_trail_pages_newest_first_through_searches_of_the_same_instant(api, store, clock) -> None:
    made = []
    for _ in range(4):
        made += [record(store, clock, f"agent-{i}") for i in range(3)]  # three searches share each instant
        clock.advance(minutes=1)
    newest_first = [s.id for s in sorted(made, key=lambda s: (s.searched_at, s.id), reverse=True)]
    seen, cursor, pages = [], None, 0
    while True:
        page = trail(api, limit=5, **({"before": cursor} if cursor else {}))
        seen += [s["id"] for s in page["searches"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == newest_first and pages == 3  # 5 + 5 + 2: none skipped, none twice
    assert trail(api, limit=12)["next"] is None  # exactly one page: no empty page after it


def test_the_trail_filters_by_agent_and_time(api, store, clock) -> None:
    start = clock()
    early = record(store, clock, "a.martin")
    clock.advance(hours=1)
    middle = [record(store, clock, "a.martin"), record(store, clock, "b.durand")]
    clock.advance(hours=1)
    late = record(store, clock, "a.martin")

    def ids(**params) -> list[str]:
        return [s["id"] for s in trail(api, **params)["searches"]]

    assert ids(agent="a.martin") == [late.id, middle[0].id, early.id]
    assert ids(agent="nobody") == []
    at = (start + timedelta(hours=1)).isoformat()
    assert set(ids(since=at)) == {late.id, *(s.id for s in middle)}  # since: from that instant on
    assert ids(until=at) == [early.id]  # until: before it
    assert ids(agent="b.durand", since=at, until=(start + timedelta(hours=2)).isoformat()) == [middle[1].id]
    paris = (start + timedelta(hours=1)).astimezone().isoformat()  # any offset names the same instant
    assert ids(until=paris) == [early.id]


@pytest.mark.parametrize("params, path", [
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-11-23T10:00:00"}, "until"),  # no offset
    ({"limit": 0}, "limit"),
    ({"limit": 1001}, "limit"),
    ({"before": "not a cursor"}, "before"),
    ({"before": "123"}, "before"),
    ({"agent": ""}, "agent"),
    ({"agent": "x" * 81}, "agent"),
])
def test_bad_trail_parameters_are_400_naming_them(api, params, path) -> None:
    errors = problem(api.get(f"{BASE}/agent-searches", params=params), 400, "bad_request")["errors"]
    assert path in {error["path"] for error in errors}, errors


def test_the_trail_needs_an_admin_key(client, make_key) -> None:
    for scopes in (["read"], ["write"]):
        answer = client.get(f"{BASE}/agent-searches", headers={"Authorization": f"Bearer {make_key(CENTER, *scopes)}"})
        assert problem(answer, 403, "forbidden")["required_scope"] == "admin"
    other = {"Authorization": f"Bearer {make_key('voyago', 'admin')}"}
    problem(client.get(f"{BASE}/agent-searches", headers=other), 404, "not_found")  # not its center


@pytest.mark.parametrize(("path", "methods"), [
    ("/devices", "GET, OPTIONS, POST"), ("/devices/dev_x", "DELETE, GET, OPTIONS"), ("/agent-searches", "GET, OPTIONS"),
])
def test_options_names_every_method_of_the_address(api, path, methods) -> None:
    answer = api.options(f"{BASE}{path}")
    assert (answer.status_code, answer.headers["allow"]) == (204, methods)


def test_the_document_describes_the_new_routes(client) -> None:
    paths = client.get(f"{client.url}/schema/openapi.json").json()["paths"]
    base = "/api/v1/centers/{center_id}"
    assert set(paths[f"{base}/devices"]) == {"get", "post"} and set(paths[f"{base}/devices/{{device_id}}"]) == {
        "get", "delete"}
    assert "requestBody" in paths[f"{base}/devices"]["post"]  # read by hand, documented all the same
    created = paths[f"{base}/devices"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    schemas = client.get(f"{client.url}/schema/openapi.json").json()["components"]["schemas"]
    assert "staff_pin" in schemas[created["$ref"].rsplit("/", 1)[1]]["properties"]
    assert set(paths[f"{base}/agent-searches"]) == {"get"}
