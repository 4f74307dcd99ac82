"""The JSON API on PostgreSQL: text PostgreSQL cannot store is refused cleanly, never a 500.

PostgreSQL's ``text`` cannot hold NUL (SQLite can), so a NUL reaching a query would be
a server error there: every way in (path, query, body, import row, key) is checked.
"""

from __future__ import annotations

import json

import pytest

CENTER = "maison-lumiere"
BASE = f"/api/v1/centers/{CENTER}"


@pytest.fixture(params=["postgresql"])  # what this module is about: SQLite's text can hold a NUL
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def pg_api(client, make_key):
    """The app in-process on PostgreSQL, with an admin key."""
    client.headers["Authorization"] = f"Bearer {make_key(CENTER, 'admin')}"
    return client


@pytest.mark.parametrize("method, path, body, status", [
    ("GET", f"{BASE}/subscribers/a%00b", None, 404),
    ("GET", f"{BASE}/subscribers/a%00b/export", None, 404),
    ("DELETE", f"{BASE}/subscribers/a%00b", None, 404),
    ("GET", f"{BASE}/webhooks/a%00b/deliveries", None, 404),
    ("GET", f"{BASE}/subscribers?external_id=a%00b", None, 400),
    ("GET", f"{BASE}/events?after=0&x=%01", None, 400),
    ("POST", f"{BASE}/subscribers", {"external_id": "x\u0000y"}, 400),
    ("POST", f"{BASE}/subscribers", {"email": "a\u0000@example.org"}, 400),
    ("POST", f"{BASE}/subscribers", {"locale": "f\u0000r"}, 400),
    ("POST", f"{BASE}/webhooks", {"url": "https://example.org/hook", "description": "a\u0000b"}, 400),
])
def test_a_nul_anywhere_is_a_clear_4xx(pg_api, method: str, path: str, body, status: int) -> None:
    answer = pg_api.request(method, path, json=body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_nul_in_an_import_row_rejects_that_row_only(pg_api) -> None:
    rows = [{"external_id": "ok-1"}, {"external_id": "bad\u0000"}, {"external_id": "ok-2", "legacy_source": "x\u0000"},
            {"external_id": "ok-3", "email": "c\u0000@example.org"}, {"external_id": "ok-4"}]
    answer = pg_api.post(f"{BASE}/imports", params={"dry_run": "false"},
                         headers={"Content-Type": "application/x-ndjson"},
                         content=b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["created"] == 2 and [r["row"] for r in report["rejected"]] == [2, 3, 4]

