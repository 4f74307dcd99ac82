"""The sync loop: pages in order, a checkpoint only after the sink returned, resume after a failure.

The feed here is a list of events in the API's wire format (``FeedSource`` stands in for
the server; the real-server runs are in tests/integration). ``make_feed`` is shared with
test_sinks.py: it also tracks what each subscriber's choices end up being.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import pytest
from preference_sdk._models import Event, FeedPage
from preference_sdk._sync import (
    FileCursorStore,
    MemoryCursorStore,
    SinkError,
    SyncReport,
    async_sync,
    sync,
)

CENTER = "maison-lumiere"
TOPICS = {"offers": ("email", "sms", "push"), "inspirations": ("email", "post"), "loyalty": ("email", "push")}
FREQUENCIES = ("realtime", "weekly", "monthly")
INTERESTS = ("home-decor", "lighting", "tableware")
STATES = ("opted_in", "opted_out", "pending", "unknown")
START = datetime(2026, 11, 23, 14, 3, 11, 201000, tzinfo=timezone.utc)


@dataclass
class Feed:
    """A generated feed: the wire dicts, the events, and each subscriber's last values."""

    wire: list[dict[str, Any]]
    events: list[Event]
    last: dict[str, dict[str, Any]] = field(default_factory=dict)  # subscriber -> path -> last "to"
    erased: set[str] = field(default_factory=set)
    external_ids: dict[str, str | None] = field(default_factory=dict)


def make_feed(subscribers: int = 60, events: int = 500, *, seed: int = 7, first_id: int = 1) -> Feed:
    """A center's feed: subscribers created, changing their minds, a few erased.

    Like the server's feed, ``external_id`` is the subscriber's current one, so every event
    of an erased subscriber (read after the erasure) has none; some never had one.
    """
    rng = random.Random(seed)
    ids = [f"sub_{seed}_{n:04d}" for n in range(subscribers)]
    feed = Feed([], [])
    states: dict[str, dict[str, Any]] = {}
    versions = dict.fromkeys(ids, 0)
    doomed = set(rng.sample(ids, max(1, subscribers // 10)))
    for n, sid in enumerate(ids):
        feed.external_ids[sid] = None if sid in doomed or n % 11 == 5 else f"crm-{seed}-{n:06d}"
    event_id = first_id
    for _ in range(events):
        alive = [s for s in ids if s not in feed.erased]
        sid = rng.choice(alive)
        state = states.setdefault(sid, {})
        erase = sid in doomed and versions[sid] >= 2 and rng.random() < 0.3
        changes = _erasure(state) if erase else _changes(rng, state)
        if not changes:
            continue
        versions[sid] += 1
        for change in changes:
            state[change["path"]] = change["to"]
        event_id += rng.randint(1, 3)  # other centers' events take ids too
        wire = {
            "id": event_id, "subscriber_id": sid, "external_id": feed.external_ids[sid], "center": CENTER,
            "version": versions[sid],
            "occurred_at": (START + timedelta(seconds=event_id)).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "source": rng.choice(("web", "api", "import", "email_link")), "actor": "subject",
            "locale": rng.choice(("fr", "en")), "notice_version": "2026-03", "changes": changes,
            "evidence": {"kind": "crm_form", "form": "checkout-2026"} if rng.random() < 0.2 else None,
        }
        feed.wire.append(wire)
        if erase:
            feed.erased.add(sid)
    feed.events = [Event.from_json(w) for w in feed.wire]
    feed.last = {sid: dict(state) for sid, state in states.items()}
    return feed


def _changes(rng: random.Random, state: dict[str, Any]) -> list[dict[str, Any]]:
    changes = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        if kind < 0.6:
            topic = rng.choice(list(TOPICS))
            path = f"{topic}.{rng.choice(TOPICS[topic])}"
            new = rng.choice(STATES)
            old = state.get(path, "unknown")
        elif kind < 0.75:
            path = f"frequency.{rng.choice(('offers', 'inspirations'))}"
            old, new = state.get(path), rng.choice(FREQUENCIES)
        elif kind < 0.88:
            path = "interests"
            old, new = state.get(path, []), sorted(rng.sample(INTERESTS, rng.randint(0, 3)))
        elif kind < 0.95:
            path = "pause"
            old = state.get(path)
            new = None if old else (START + timedelta(days=rng.randint(1, 90))).isoformat(timespec="seconds")
        else:
            path = "suppression"
            old = state.get(path, False)
            new = not old
        if old != new and all(c["path"] != path for c in changes):
            changes.append({"path": path, "from": old, "to": new})
    return changes


def _erasure(state: dict[str, Any]) -> list[dict[str, Any]]:
    changes = [
        {"path": f"{t}.{c}", "from": state.get(f"{t}.{c}", "unknown"), "to": "opted_out"}
        for t, channels in TOPICS.items() for c in channels if state.get(f"{t}.{c}", "unknown") != "opted_out"
    ]
    if not state.get("suppression"):
        changes.append({"path": "suppression", "from": False, "to": True})
    return [*changes, {"path": "erasure", "from": False, "to": True}]


class ListFeed:
    """A ``FeedSource`` over a list, answering like ``GET /events`` (and counting calls)."""

    def __init__(self, events: list[Event]) -> None:
        self.all = list(events)
        self.calls: list[tuple[int, int]] = []

    def events(self, *, after: int, limit: int) -> FeedPage:
        self.calls.append((after, limit))
        later = [e for e in self.all if e.id > after]
        page = later[:limit]
        return FeedPage(tuple(page), page[-1].id if page else after, len(later) > limit)


class CenterFeed(ListFeed):
    """A feed that says whose it is, as ``Client`` does (``center_id``)."""

    def __init__(self, events: list[Event], center_id: str) -> None:
        super().__init__(events)
        self.center_id = center_id


class AsyncListFeed(ListFeed):
    async def events(self, *, after: int, limit: int) -> FeedPage:  # type: ignore[override]
        await asyncio.sleep(0)
        return ListFeed.events(self, after=after, limit=limit)


class Journal:
    """A sink and a cursor store writing into one shared log, so their order can be read back."""

    def __init__(self, fail_on_page: int | None = None) -> None:
        self.log: list[tuple[str, Any]] = []
        self.received: list[Event] = []
        self.cursor = 0
        self.fail_on_page = fail_on_page
        self.pages = 0

    def write(self, events):
        self.pages += 1
        if self.pages == self.fail_on_page:
            raise SinkError("the CRM is down")
        self.received.extend(events)
        self.log.append(("write", events[-1].id))

    def load(self) -> int:
        return self.cursor

    def save(self, cursor: int) -> None:
        self.log.append(("save", cursor))
        self.cursor = cursor


@pytest.fixture(scope="module")
def feed() -> Feed:
    return make_feed()


def test_every_event_reaches_the_sink_once_in_order(feed: Feed) -> None:
    source, journal = ListFeed(feed.events), Journal()
    report = sync(source, journal, journal, batch=64)
    assert [e.id for e in journal.received] == [e.id for e in feed.events]
    pages = -(-len(feed.events) // 64)
    assert report == SyncReport(events=len(feed.events), pages=pages, cursor=feed.events[-1].id)
    assert source.calls[0] == (0, 64) and len(source.calls) == pages


def test_the_cursor_is_saved_only_after_the_sink_returned(feed: Feed) -> None:
    journal = Journal()
    sync(ListFeed(feed.events), journal, journal, batch=100)
    kinds = [kind for kind, _ in journal.log]
    assert kinds == ["write", "save"] * (len(kinds) // 2)
    for (_, written), (_, saved) in zip(journal.log[::2], journal.log[1::2], strict=True):
        assert saved == written  # the checkpoint names exactly what was written


def test_a_failing_sink_leaves_the_cursor_and_a_rerun_resumes_there(feed: Feed) -> None:
    source, store = ListFeed(feed.events), MemoryCursorStore()
    failing = Journal(fail_on_page=3)
    with pytest.raises(SinkError):
        sync(source, failing, store, batch=50)
    assert store.cursor == feed.events[99].id  # two pages stored, the third not
    assert len(failing.received) == 100
    again = Journal()
    report = sync(source, again, store, batch=50)
    assert again.received[0].id == feed.events[100].id
    assert [e.id for e in failing.received + again.received] == [e.id for e in feed.events]
    assert report.events == len(feed.events) - 100 and store.cursor == feed.events[-1].id


def test_an_up_to_date_feed_reads_one_empty_page_and_writes_nothing(feed: Feed) -> None:
    source, journal = ListFeed(feed.events), Journal()
    journal.cursor = feed.events[-1].id
    assert sync(source, journal, journal) == SyncReport(0, 0, feed.events[-1].id)
    assert journal.log == [] and len(source.calls) == 1


class Skipping:
    """A feed whose pages are empty but move the cursor on (events of nothing we hold)."""

    def __init__(self) -> None:
        self.calls = 0

    def events(self, *, after: int, limit: int) -> FeedPage:
        self.calls += 1
        if after < 30:
            return FeedPage((), after + 10, True)
        return FeedPage((), after, True)  # claims more but does not move: must not spin


def test_empty_pages_that_move_the_cursor_are_checkpointed_without_a_write() -> None:
    journal, source = Journal(), Skipping()
    report = sync(source, journal, journal)
    assert report == SyncReport(0, 0, 30)
    assert journal.log == [("save", 10), ("save", 20), ("save", 30)]
    assert source.calls == 4


def test_follow_keeps_polling_until_stopped(feed: Feed) -> None:
    source, journal, stop = ListFeed(feed.events[:100]), Journal(), threading.Event()
    runner = threading.Thread(target=lambda: sync(source, journal, journal, follow=True, poll_interval=0.02, stop=stop))
    runner.start()
    try:
        _wait_for(lambda: len(journal.received) == 100)
        source.all.extend(feed.events[100:])  # new events commit while the follower waits
        _wait_for(lambda: len(journal.received) == len(feed.events))
    finally:
        stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive()
    assert [e.id for e in journal.received] == [e.id for e in feed.events]
    assert journal.cursor == feed.events[-1].id


def test_stop_may_be_a_callable(feed: Feed) -> None:
    source, journal = ListFeed(feed.events), Journal()
    started = time.monotonic()
    report = sync(source, journal, journal, follow=True, poll_interval=30,
                  stop=lambda: len(journal.received) == len(feed.events))  # caught up: stop following
    assert report.events == len(feed.events)
    assert time.monotonic() - started < 25  # the 30 s poll was cut short by the callable


def test_a_stop_already_set_reads_nothing(feed: Feed) -> None:
    stop = threading.Event()
    stop.set()
    source = ListFeed(feed.events)
    assert sync(source, Journal(), MemoryCursorStore(), stop=stop) == SyncReport(0, 0, 0)
    assert source.calls == []


def test_batch_is_the_feeds_page_limit(feed: Feed) -> None:
    for batch in (0, 1001):
        with pytest.raises(ValueError, match="between 1 and 1000"):
            sync(ListFeed(feed.events), Journal(), MemoryCursorStore(), batch=batch)


def test_async_sync_runs_plain_sinks_in_a_thread_and_awaits_async_ones(feed: Feed) -> None:
    plain, threads = Journal(), set()
    original = plain.write

    def write(events):
        threads.add(threading.get_ident())
        original(events)

    plain.write = write  # type: ignore[method-assign]

    class AsyncJournal(Journal):
        async def write(self, events):
            await asyncio.sleep(0)
            Journal.write(self, events)

    awaited = AsyncJournal()
    report = asyncio.run(async_sync(AsyncListFeed(feed.events), plain, plain, batch=128))
    assert report == SyncReport(len(feed.events), -(-len(feed.events) // 128), feed.events[-1].id)
    assert threading.get_ident() not in threads  # not on the event loop's thread
    asyncio.run(async_sync(AsyncListFeed(feed.events), awaited, awaited, batch=128))
    assert [e.id for e in plain.received] == [e.id for e in awaited.received] == [e.id for e in feed.events]


def test_async_sync_checkpoints_only_what_was_written_and_stops_on_an_asyncio_event(feed: Feed) -> None:
    store, failing = MemoryCursorStore(), Journal(fail_on_page=2)
    with pytest.raises(SinkError):
        asyncio.run(async_sync(AsyncListFeed(feed.events), failing, store, batch=100))
    assert store.cursor == feed.events[99].id

    async def follow_then_stop() -> SyncReport:
        stop = asyncio.Event()
        journal = Journal()
        task = asyncio.create_task(async_sync(AsyncListFeed(feed.events), journal, store, follow=True,
                                              poll_interval=30, stop=stop))
        while store.cursor != feed.events[-1].id:
            await asyncio.sleep(0.01)
        stop.set()
        return await asyncio.wait_for(task, 2)  # wakes from the 30 s poll at once

    report = asyncio.run(follow_then_stop())
    assert report.events == len(feed.events) - 100


# asyncio only: anyio 4's trio backend needs trio >= 0.26, and this machine has 0.22 (a
# skipped test would say nothing). The code uses anyio's primitives only.
@pytest.mark.parametrize("backend", ["asyncio"])
def test_async_sync_runs_under_anyio_and_stops_on_an_anyio_event(feed: Feed, backend: str) -> None:
    journal = Journal()

    async def follow_then_stop() -> SyncReport:
        stop = anyio.Event()
        report: list[SyncReport] = []

        async def run() -> None:
            report.append(await async_sync(AnyioListFeed(feed.events), journal, journal, follow=True,
                                           poll_interval=30, stop=stop))

        async with anyio.create_task_group() as group:
            group.start_soon(run)
            while journal.cursor != feed.events[-1].id:
                await anyio.sleep(0.01)
            with anyio.fail_after(2):  # wakes from the 30 s poll at once
                stop.set()
                while not report:
                    await anyio.sleep(0.01)
        return report[0]

    report = anyio.run(follow_then_stop, backend=backend)
    assert report.events == len(feed.events) and report.cursor == feed.events[-1].id
    assert [e.id for e in journal.received] == [e.id for e in feed.events]


class AnyioListFeed(ListFeed):
    async def events(self, *, after: int, limit: int) -> FeedPage:  # type: ignore[override]
        await anyio.sleep(0)
        return ListFeed.events(self, after=after, limit=limit)


def test_file_cursor_store_round_trips_and_starts_at_zero(tmp_path: Path) -> None:
    store = FileCursorStore(tmp_path / "state" / "cursor")
    assert store.load() == 0
    store.save(1841)
    assert store.load() == 1841 and FileCursorStore(tmp_path / "state" / "cursor").load() == 1841
    assert (tmp_path / "state" / "cursor").read_text() == "1841\n"
    assert os.listdir(tmp_path / "state") == ["cursor"]  # no temporary file left behind


def test_file_cursor_store_keeps_the_old_cursor_when_a_save_fails(tmp_path: Path, monkeypatch) -> None:
    store = FileCursorStore(tmp_path / "cursor")
    store.save(10)

    def no_rename(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError, match="disk full"):
        store.save(20)
    monkeypatch.undo()
    assert store.load() == 10
    assert os.listdir(tmp_path) == ["cursor"]


def test_file_cursor_store_refuses_a_file_that_is_not_a_cursor(tmp_path: Path) -> None:
    (tmp_path / "cursor").write_text("not a number")
    with pytest.raises(ValueError, match="does not hold a feed cursor"):
        FileCursorStore(tmp_path / "cursor").load()


def test_sync_with_a_file_cursor_resumes_across_runs(tmp_path: Path, feed: Feed) -> None:
    store = FileCursorStore(tmp_path / "cursor")
    first = Journal(fail_on_page=4)
    with pytest.raises(SinkError):
        sync(ListFeed(feed.events), first, store, batch=40)
    assert FileCursorStore(tmp_path / "cursor").load() == feed.events[119].id
    second = Journal()
    sync(ListFeed(feed.events), second, FileCursorStore(tmp_path / "cursor"), batch=40)
    assert [e.id for e in first.received + second.received] == [e.id for e in feed.events]


def voyago_events(feed: Feed) -> list[Event]:
    """Another center's feed: its own subscribers, ids between and after the first center's."""
    return [dataclasses.replace(e, id=e.id + 1, center="voyago", subscriber_id=e.subscriber_id + "_v")
            for e in feed.events]


def test_a_file_cursor_follows_one_center(tmp_path: Path, feed: Feed) -> None:
    """Ids are global: voyago resuming from maison-lumiere's cursor would skip its events below it."""
    path = tmp_path / "cursor"
    sync(CenterFeed(feed.events, CENTER), Journal(), FileCursorStore(path))
    assert path.read_text() == f"{feed.events[-1].id} {CENTER}\n"
    for source in (CenterFeed(voyago_events(feed), "voyago"), ListFeed(voyago_events(feed))):
        journal = Journal()
        with pytest.raises(SinkError) as refused:
            sync(source, journal, FileCursorStore(path))
        assert str(path) in str(refused.value) and "'maison-lumiere', not 'voyago'" in str(refused.value)
        assert journal.received == [] and path.read_text() == f"{feed.events[-1].id} {CENTER}\n"
    with pytest.raises(SinkError, match="not 'voyago'"):
        asyncio.run(async_sync(AsyncListFeed(voyago_events(feed)), Journal(), FileCursorStore(path)))


def test_a_file_cursor_without_a_center_is_adopted(tmp_path: Path, feed: Feed) -> None:
    (tmp_path / "cursor").write_text(f"{feed.events[99].id}\n")  # written before SDK 0.2
    journal = Journal()
    sync(CenterFeed(feed.events, CENTER), journal, FileCursorStore(tmp_path / "cursor"))
    assert journal.received[0] == feed.events[100]
    assert (tmp_path / "cursor").read_text() == f"{feed.events[-1].id} {CENTER}\n"
    (tmp_path / "bad").write_text("12 two words\n")
    with pytest.raises(ValueError, match="does not hold a feed cursor"):
        FileCursorStore(tmp_path / "bad").load()


def test_a_page_of_another_center_is_refused(feed: Feed) -> None:
    journal = Journal()
    with pytest.raises(SinkError, match="the feed of center 'voyago' handed over an event of 'maison-lumiere'"):
        sync(CenterFeed(feed.events, "voyago"), journal, journal)
    assert journal.received == []


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)
