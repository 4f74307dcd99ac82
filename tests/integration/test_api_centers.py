"""Which center an API key may name: its own; any other is a 404, whether it exists or not.

A 403 for another center beside a 404 for none would tell a key's holder which centers a
server holds; one answer tells nothing (docs/API.md, "Keys").
"""

from __future__ import annotations

import httpx
import pytest
from preference_sdk import NotFound as SdkNotFound
from preference_sdk._client import Client

from tests.helpers import ENGINES
from widget_server.errors import CenterNotFound

CENTER = "maison-lumiere"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def not_found(response: httpx.Response) -> dict:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "not_found" and body["status"] == 404
    assert body["title"] == CenterNotFound.title and body["detail"] == CenterNotFound.detail
    return body


@pytest.mark.parametrize("path", ["", "/events", "/subscribers", "/webhooks", "/devices", "/agent-searches"])
def test_another_centers_key_and_an_unknown_center_get_the_same_404(client, make_key, path) -> None:
    key = make_key("voyago", "admin")
    other = not_found(client.get(f"/api/v1/centers/{CENTER}{path}", headers=bearer(key)))
    nowhere = not_found(client.get(f"/api/v1/centers/nowhere{path}", headers=bearer(key)))
    assert other == nowhere  # nothing in the answer tells an existing center from none
    assert CENTER not in str(other) and "voyago" not in str(other)


def test_a_write_to_another_center_is_a_404_and_writes_nothing(client, make_key, store) -> None:
    key = make_key("voyago", "admin")
    not_found(client.post(f"/api/v1/centers/{CENTER}/subscribers", json={"external_id": "crm-1"},
                          headers=bearer(key)))
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM subscribers").scalar() == 0


def test_the_center_is_checked_before_the_scope(client, make_key) -> None:
    """A read key of another center hears 404, not "needs the write scope": scopes are its own center's business."""
    body = not_found(client.post(f"/api/v1/centers/{CENTER}/subscribers", json={},
                                 headers=bearer(make_key("voyago", "read"))))
    assert "required_scope" not in body


def test_without_a_key_every_center_is_a_401(client) -> None:
    for center in (CENTER, "nowhere"):
        assert client.get(f"/api/v1/centers/{center}/events").status_code == 401


def test_a_key_whose_center_left_the_configuration_is_a_404(client_for, make_key, centers) -> None:
    key = make_key("voyago", "read")
    client = client_for(centers={cid: center for cid, center in centers.items() if cid != "voyago"})
    not_found(client.get("/api/v1/centers/voyago/events", headers=bearer(key)))


def test_its_own_center_still_answers(client, make_key) -> None:
    assert client.get(f"/api/v1/centers/{CENTER}/events", headers=bearer(make_key(CENTER, "read"))).status_code == 200


def test_the_sdk_raises_not_found_for_another_center(live_server, make_key) -> None:
    with Client(live_server.url, make_key("voyago", "read"), CENTER) as client, \
            pytest.raises(SdkNotFound, match="a key works for its own center only"):
        client.events()


def test_the_unknown_center_answer_is_the_same_in_every_language(client, make_key) -> None:
    key = make_key("voyago", "read")
    for language in ("fr", "ar"):
        headers = {**bearer(key), "Accept-Language": language}
        other = client.get(f"/api/v1/centers/{CENTER}/events", headers=headers)
        nowhere = client.get("/api/v1/centers/nowhere/events", headers=headers)
        assert other.status_code == nowhere.status_code == 404 and other.json() == nowhere.json()
