"""The import and the regional rules, on SQLite and PostgreSQL: a row's ``country`` is the
subscriber's and picks its rules; with ``double_opt_in=true`` an opt-in the row's region asks to
confirm is ``pending`` (asked now, mailed a confirmation in the batch's transaction), as on every
other surface; without it a legacy opt-in is recorded as given, consent since its legacy date."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tests.helpers import ENGINES
from widget_server.json_shapes import instant
from widget_server.store.tables import mail_outbox

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"
LEGACY_DATE = "2024-05-02"
SINCE = instant(datetime(2024, 5, 2, tzinfo=timezone.utc))


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def api(client, make_key):
    with client.another(headers={"Authorization": f"Bearer {make_key(CENTER, 'admin')}"}, timeout=30) as api:
        yield api


def rows(*countries: str | None) -> bytes:
    return b"".join(json.dumps({
        "external_id": f"crm-{n}", "email": f"p{n}@example.org", "legacy_date": LEGACY_DATE,
        **({"country": country} if country else {}), "subscriptions": {"offers": {"email": "opted_in"}},
    }).encode() + b"\n" for n, country in enumerate(countries))


def run(api, body: bytes, **params: str) -> dict:
    answer = api.post(f"{BASE}/imports", params={"dry_run": "false", **params}, content=body,
                      headers={"Content-Type": "application/x-ndjson"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def document(api, n: int) -> dict:
    return api.get(f"{BASE}/subscribers", params={"external_id": f"crm-{n}"}).json()["subscribers"][0]


def confirmations(store) -> int:
    with store.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(mail_outbox).where(mail_outbox.c.kind == "confirm"))


def test_with_the_option_an_opt_in_to_confirm_is_pending_and_mailed(api, store, clock) -> None:
    report = run(api, rows("FR", "US", "CA", None), double_opt_in="true")
    assert report["created"] == 4 and report["rejected"] == []
    fr, us, ca, unknown = (document(api, n) for n in range(4))
    assert (fr["country"], us["country"], ca["country"], unknown["country"]) == ("FR", "US", "CA", None)
    assert fr["subscriptions"]["offers"]["email"] == "pending"  # EU: confirmed by a mailed link
    assert unknown["subscriptions"]["offers"]["email"] == "pending"  # the default region asks it too
    assert fr["legal_bases"]["offers"]["email"] == {
        "legal_basis": "consent", "since": instant(clock()), "until": instant(clock() + timedelta(days=7)),
        "reason": None}
    for given in (us, ca):  # no confirmation asked there: consent since the legacy date
        assert given["subscriptions"]["offers"]["email"] == "opted_in"
        assert given["legal_bases"]["offers"]["email"] == {"legal_basis": "consent", "since": SINCE, "until": None,
                                                           "reason": None}
    assert confirmations(store) == 2
    events = api.get(f"{BASE}/events", params={"after": 0}).json()["events"]
    first = next(e for e in events if e["subscriber_id"] == fr["subscriber_id"])
    assert first["changes"] == [{"path": "offers.email", "from": "unknown", "to": "pending"},
                                {"path": "country", "from": None, "to": "FR"}]
    assert run(api, rows("FR", "US", "CA", None), double_opt_in="true")["unchanged"] == 4  # nothing new
    assert confirmations(store) == 2


def test_without_the_option_legacy_opt_ins_are_recorded_as_given(api, store) -> None:
    run(api, rows("FR"))
    fr = document(api, 0)
    assert fr["subscriptions"]["offers"]["email"] == "opted_in"
    assert fr["legal_bases"]["offers"]["email"]["since"] == SINCE and confirmations(store) == 0


def test_a_row_can_move_a_subscriber_s_country_and_a_bad_one_is_rejected(api) -> None:
    run(api, rows("FR"))
    moved = run(api, rows("CA"))
    assert moved["updated"] == 1 and document(api, 0)["country"] == "CA"
    bad = run(api, rows("fr", "ZZ"))
    assert [r["reason"] for r in bad["rejected"]] == [
        "row 1: country: write country codes in capitals: 'FR'",
        "row 2: country: an ISO 3166 alpha-2 country code in capitals, e.g. FR, CA, US"]
