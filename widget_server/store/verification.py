"""Checking the whole ledger: every subscriber's chain against its anchor, and every event
that no subscriber holds.

``widget-server verify-chain`` runs this. It must scale to millions of events without
holding them: subscribers are read a batch at a time (by id, keyset-paged), each batch's
events in the same statement (a left join, so a subscriber whose events were all
deleted still comes with its anchor), and each chain is checked as its rows stream by
(``ledger.ChainCheck``). Each statement reads one consistent snapshot on either engine,
so a save committing meanwhile never shows as half a change.

What it finds (``ledger`` says why each is possible to see): an edited event, a deleted
one (middle, newest, all), swapped ids, a rewrite hashed without the key (plain SHA-256,
or a legacy hash after a keyed event), an event moved to another subscriber or center,
an anchor that does not match (count, hash, seal) or none at all, a version that is not
the anchor's count, and events whose subscriber row is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any, Iterator

from sqlalchemy import Connection, Select, and_, bindparam, exists, select

from ..chain_keys import ChainKeys
from ..ledger import Anchor, Break, ChainCheck, ChainReport
from .tables import events, subscribers

#: Subscribers per statement: their events come along in the same one.
BATCH = 500

_SUBSCRIBER = (subscribers.c.center.label("s_center"), subscribers.c.version.label("s_version"),
               subscribers.c.chain_count, subscribers.c.chain_hash, subscribers.c.chain_seal)


def _page(center: str | None) -> Select:
    """A batch of subscribers after ``after`` (by id), each with their events in version order."""
    ids = select(subscribers.c.id).where(subscribers.c.id > bindparam("after"))
    if center is not None:
        ids = ids.where(subscribers.c.center == center)
    ids = ids.order_by(subscribers.c.id).limit(bindparam("n"))
    return (
        select(subscribers.c.id.label("s_id"), *_SUBSCRIBER, *events.c)
        .select_from(subscribers.outerjoin(events, events.c.subscriber_id == subscribers.c.id))
        .where(subscribers.c.id.in_(ids.scalar_subquery()))
        .order_by(subscribers.c.id, events.c.version)
    )


def _orphans(center: str | None) -> Select:
    """Events no subscriber row holds (a subscriber deleted without their events)."""
    query = select(events).where(~exists().where(subscribers.c.id == events.c.subscriber_id))
    if center is not None:
        query = query.where(events.c.center == center)
    return query.order_by(events.c.subscriber_id, events.c.version)


@dataclass(frozen=True)
class Finding:
    """One subscriber's chain, checked (``orphan``: their row is gone, their events are not)."""

    subscriber_id: str
    report: ChainReport
    orphan: bool = False


@dataclass
class Summary:
    """What a whole run found."""

    subscribers: int = 0
    events: int = 0
    legacy: int = 0
    broken: int = 0
    breaks: int = 0
    orphan_events: int = 0

    def add(self, finding: Finding) -> None:
        report = finding.report
        self.events += report.events
        self.legacy += report.legacy
        if finding.orphan:
            self.orphan_events += report.events
        else:
            self.subscribers += 1
        if not report.intact:
            self.broken += 1
            self.breaks += len(report.breaks)

    @property
    def intact(self) -> bool:
        return self.broken == 0


def check_ledger(connection: Connection, keys: ChainKeys, center: str | None = None,
                 batch: int = BATCH) -> Iterator[Finding]:
    """Every subscriber's chain (of ``center``, or all), then every orphaned chain, one at a time."""
    page = _page(center)
    after: str | None = ""
    while after is not None:
        rows = connection.execute(page, {"after": after, "n": batch}).mappings()
        after = None  # a page with no subscriber is the last
        for subscriber_id, group in groupby(rows, key=itemgetter("s_id")):
            yield _checked(keys, subscriber_id, list(group))
            after = subscriber_id
    yield from _orphaned(connection, keys, center)


def _checked(keys: ChainKeys, subscriber_id: str, rows: list[Any]) -> Finding:
    """One subscriber's rows (the subscriber's columns, and an event's or none, in version order) checked."""
    check = ChainCheck(keys, subscriber_id, rows[0]["s_center"])
    for row in rows:
        if row["id"] is not None:  # the outer join's row of a subscriber without events
            check.add(row)
    return _finish(subscriber_id, check, rows[0])


def _finish(subscriber_id: str, check: ChainCheck, row: Any) -> Finding:
    anchor = Anchor(row["chain_count"], row["chain_hash"], row["chain_seal"])
    return Finding(subscriber_id, check.finish(anchor, row["s_version"]))


def _orphaned(connection: Connection, keys: ChainKeys, center: str | None) -> Iterator[Finding]:
    streamed = connection.execution_options(stream_results=True, yield_per=1000).execute(_orphans(center))
    for subscriber_id, group in groupby(streamed.mappings(), key=itemgetter("subscriber_id")):
        check = ChainCheck(keys, subscriber_id)
        for row in group:
            check.add(row)
        yield _orphan_finding(subscriber_id, check)


def _orphan_finding(subscriber_id: str, check: ChainCheck) -> Finding:
    report = check.finish()
    gone = Break(None, None, f"no subscriber row holds its {report.events} event(s): the subscriber was deleted")
    return Finding(subscriber_id, ChainReport(report.events, (gone, *report.breaks), report.legacy), orphan=True)


def check_subscriber(connection: Connection, keys: ChainKeys, center: str, subscriber_id: str) -> Finding | None:
    """One subscriber of ``center`` (the API's verification), or None when there is none."""
    query = (
        select(subscribers.c.id.label("s_id"), *_SUBSCRIBER, *events.c)
        .select_from(subscribers.outerjoin(events, events.c.subscriber_id == subscribers.c.id))
        .where(and_(subscribers.c.id == subscriber_id, subscribers.c.center == center))
        .order_by(events.c.version)
    )
    rows = list(connection.execute(query).mappings())
    return _checked(keys, subscriber_id, rows) if rows else None
