"""Devices and the agent search trail, on both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import ENGINES
from widget_server.store import agent_searches, devices


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def test_a_device_is_created_listed_and_revoked_alone(store, clock) -> None:
    with store.writing() as connection:
        first = devices.create(connection, "maison-lumiere", "Lyon", "Tablet 1", clock())
        second = devices.create(connection, "maison-lumiere", "Lyon", "Tablet 2", clock() + timedelta(seconds=1))
        devices.create(connection, "voyago", "Rome", "Desk", clock())
    clock.advance(minutes=1)  # after both
    with store.writing() as connection:
        revoked = devices.revoke(connection, first.id, clock())
        again = devices.revoke(connection, first.id, clock() + timedelta(hours=1))  # already: kept as it was
        elsewhere = devices.revoke(connection, second.id, clock(), center="voyago")  # not that center's
    assert revoked is not None and revoked.revoked_at == clock() and not revoked.live
    assert again == revoked and elsewhere is None  # no such device in voyago
    with store.engine.connect() as connection:
        assert [d.name for d in devices.listed(connection, "maison-lumiere")] == ["Tablet 1", "Tablet 2"]
        assert len(devices.listed(connection)) == 3
        assert devices.get(connection, "voyago", first.id) is None
        assert devices.get(connection, "maison-lumiere", second.id).live
        assert devices.revoke(connection, "dev_none", clock()) is None


def test_the_search_trail_counts_pages_and_opens_only_ones_own_recent_finds(store, clock) -> None:
    with store.writing() as connection:
        found = agent_searches.record(connection, "voyago", "u-1", "email", "h1", "sub_1", clock())
        missed = agent_searches.record(connection, "voyago", "u-1", "phone", "h2", None, clock())
        for minute in range(3):
            agent_searches.record(connection, "voyago", "u-2", "email", f"h{minute}", None,
                                  clock() + timedelta(minutes=minute + 1))
    with store.engine.connect() as connection:
        assert agent_searches.count_since(connection, "voyago", "u-1", clock()) == 2
        assert agent_searches.count_since(connection, "voyago", "u-2", clock() + timedelta(minutes=2)) == 2
        assert agent_searches.open_search(connection, "voyago", "u-1", found.id, clock()) == found
        assert agent_searches.open_search(connection, "voyago", "u-2", found.id, clock()) is None  # not theirs
        assert agent_searches.open_search(connection, "voyago", "u-1", missed.id, clock()) is None  # found nobody
        late = clock() + agent_searches.SEARCH_LIFETIME + timedelta(seconds=1)
        assert agent_searches.open_search(connection, "voyago", "u-1", found.id, late) is None
        page = agent_searches.listed(connection, "voyago", limit=2)
        assert [s.agent_id for s in page] == ["u-2", "u-2"]
        rest = agent_searches.listed(connection, "voyago", before=(page[-1].searched_at, page[-1].id))
        assert len(rest) == 3 and {s.id for s in rest}.isdisjoint(s.id for s in page)
        assert [s.id for s in agent_searches.listed(connection, "voyago", agent_id="u-1")] in (
            [found.id, missed.id], [missed.id, found.id])
        assert agent_searches.listed(connection, "maison-lumiere") == []
