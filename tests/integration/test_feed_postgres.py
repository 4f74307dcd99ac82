"""The change feed's trap on PostgreSQL: concurrent writers, a reader following, no event lost.

With ids from a sequence, a transaction that took id 12 can commit before the one that
took id 11; a reader that saw 12 moves its cursor past 11 forever. (Without
``feed.hold_commit_order`` this test loses about one event in ten here.) Runs against
the PostgreSQL server on 127.0.0.1:5432, in a database of its own.
"""

from __future__ import annotations

import threading

from sqlalchemy import text

from widget_server.ledger import EventContext
from widget_server.preferences import Preferences
from widget_server.store import feed
from widget_server.store.store import Store

CENTER = "maison-lumiere"


def test_no_event_is_skipped_under_concurrent_writers(pg_store: Store) -> None:
    subscribers = [pg_store.create_subscriber(CENTER) for _ in range(12)]
    done = threading.Event()
    seen: list[int] = []

    def write(sid: str) -> None:
        for i in range(30):
            current = pg_store.get(CENTER, sid).preferences
            wanted = Preferences(subscriptions={("offers", "email"): ("opted_in", "opted_out")[i % 2]},
                                 version=current.version)
            pg_store.save(CENTER, sid, wanted, base_version=current.version,
                          context=EventContext(source="api", actor="system"))

    def follow() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            with pg_store.engine.connect() as connection:
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
    with pg_store.engine.connect() as connection:
        every = [i for (i,) in connection.execute(text("SELECT id FROM events ORDER BY id"))]
    assert len(every) == 12 * 30
    assert seen == every  # in order, none missing, none twice
    assert all(pg_store.verify_chain(s).intact for s in subscribers)
