"""The change feed's trap on PostgreSQL: concurrent writers, a reader following, no event lost.

With ids from a sequence, a transaction that took id 12 can commit before the one that
took id 11; a reader that saw 12 moves its cursor past 11 forever. (Without
``feed.hold_commit_order`` this test loses about one event in ten here.) Runs against
the PostgreSQL server on 127.0.0.1:5432, in a database of its own, and on SQLite (one
writer at a time: the same guarantee, kept another way).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from tests.helpers import ENGINES
from widget_server.ledger import EventContext
from widget_server.preferences import Preferences
from widget_server.store import feed
from widget_server.store.store import Store

CENTER = "maison-lumiere"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def test_no_event_is_skipped_under_concurrent_writers(store: Store) -> None:
    subscribers = [store.create_subscriber(CENTER) for _ in range(12)]
    done = threading.Event()
    seen: list[int] = []

    def write(sid: str) -> None:
        for i in range(30):
            current = store.get(CENTER, sid).preferences
            wanted = Preferences(subscriptions={("offers", "email"): ("opted_in", "opted_out")[i % 2]},
                                 version=current.version)
            store.save(CENTER, sid, wanted, base_version=current.version,
                          context=EventContext(source="api", actor="system"))

    def follow() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            with store.engine.connect() as connection:
                rows, _ = feed.page(connection, CENTER, cursor, 13)
            seen.extend(r["id"] for r in rows)
            cursor = rows[-1]["id"] if rows else cursor
            if finished and not rows:
                return

    reader = threading.Thread(target=follow)
    writers = [threading.Thread(target=write, args=(s,)) for s in subscribers]
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    reader.join(timeout=60)
    with store.engine.connect() as connection:
        every = [i for (i,) in connection.execute(text("SELECT id FROM events ORDER BY id"))]
    assert len(every) == 12 * 30
    assert seen == every  # in order, none missing, none twice
    assert all(store.verify_chain(s).intact for s in subscribers)
