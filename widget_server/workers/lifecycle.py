"""The lifecycle worker: time passing, recorded as ``system`` events, and renewals asked for.

A subscription's ``until`` ends it: a ``pending`` one whose confirmation never came, an
``opted_in`` one whose legal basis has a lifetime (Canada's implied consent, say). Nobody
asks the server anything at that moment, so this worker, running in each server process
beside the mail and webhook workers, records it: ``pending``/``opted_in`` -> ``expired``,
through the one write path (``Changes.write``), source ``system``, actor ``system``, with
evidence ``{"reason": "pending_expired"}`` or ``{"reason": "basis_expired",
"legal_basis", "until"}``. Being an event, the expiry reaches the change feed, the
webhooks and every CRM sink like any other change.

Several processes may run it at once: each re-reads the subscriber inside the write
transaction and writes with the version compare-and-set of ``Store.save_in``, so the
second to come finds the subscription expired already and records nothing. It works in
batches (:data:`BATCH` subscriptions a pass, then at once again while there were that
many), and idles cheaply: one indexed range query on ``subscriptions.until`` a minute.

Before a basis with a lifetime ends, the region's rule (``remind_days_before``, through
``regions.rule_for``) may ask for a reminder: one ``repermission`` mail per subscription
and expiry (``store/lifecycle.queue_reminder`` records it with the mail), whose "keep me
subscribed" link (``confirm_links``, purpose ``renew``) records a fresh consent.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Callable, Mapping

import anyio
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ..centers.model import Center
from ..changes import Changes
from ..ledger import EventContext
from ..preferences import EXPIRED, OPTED_IN, PENDING, Preferences
from ..regions import rule_for
from ..store import lifecycle
from ..store.lifecycle import Due
from ..store.store import Store, VersionConflict

log = logging.getLogger("widget_server.workers.lifecycle")

#: How often the worker looks, with nothing to do: an expiry is recorded within a minute of its time.
POLL = 60.0
#: Subscriptions read per pass (a pass that finds as many runs again at once).
BATCH = 200
#: How often the reminders are looked for (they are due days ahead, not to the minute).
REMIND_EVERY = timedelta(minutes=10)


def expiry_context(reason: str, **evidence: str | None) -> EventContext:
    return EventContext(source="system", actor="system", evidence={"reason": reason, **evidence})


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


class LifecycleWorker:
    """Records expiries and queues re-permission reminders (see the module's docstring)."""

    def __init__(self, store: Store, clock: Callable[[], datetime], changes: Changes, centers: Mapping[str, Center],
                 *, wake_mail: Callable[[], None] = lambda: None, poll_interval: float = POLL,
                 batch: int = BATCH, remind_every: timedelta = REMIND_EVERY) -> None:
        self.store, self.clock, self.changes, self.centers = store, clock, changes, centers
        self.wake_mail, self.poll_interval, self.batch = wake_mail, poll_interval, batch
        self.remind_every = remind_every
        self._reminded_at: datetime | None = None

    async def run(self) -> None:
        """Work until cancelled: a pass, then at once again while a batch was full, else a poll's wait."""
        while True:
            try:
                busy = await self.expire_due()  # a full batch of expiries: the next one at once
                await self.remind_due()
            except Exception:  # a bad pass must not stop the worker (logged with its traceback)
                log.exception("lifecycle pass failed")
                busy = 0
            if busy < self.batch:
                await anyio.sleep(self.poll_interval)

    async def run_once(self) -> int:
        """One pass: expiries, then reminders. How many subscriptions it looked at."""
        return await self.expire_due() + await self.remind_due()

    # -- expiry ---------------------------------------------------------------------------

    async def expire_due(self) -> int:
        """Record every subscription of the batch whose ``until`` has passed; how many were due."""
        now = self.clock()
        due = await anyio.to_thread.run_sync(self._due_expiries, now)
        whose = {d.subscriber_id: d.center for d in due}  # one write per subscriber, in the order of their ends
        for subscriber_id, center in whose.items():
            try:
                await self.changes.write(partial(self._expire, center=center, subscriber_id=subscriber_id, now=now))
            except VersionConflict:  # someone saved in between: the next pass looks again
                continue
        return len(due)

    def _due_expiries(self, now: datetime) -> list[Due]:
        with self.store.engine.connect() as connection:
            return lifecycle.due_expiries(connection, now, self.batch)

    def _expire(self, connection: Connection, center: str, subscriber_id: str, now: datetime) -> int:
        """In one write transaction: the subscriber read afresh, and each subscription whose time
        is up recorded as expired (the pending ones in one event, each ended basis in its own,
        with its evidence). How many events were written."""
        subscriber = self.store.get_in(connection, center, subscriber_id)
        if subscriber is None or subscriber.erased_at is not None:
            return 0
        prefs = subscriber.preferences
        ended = [(key, basis) for key, state in sorted(prefs.subscriptions.items())
                 if state in (PENDING, OPTED_IN) and (basis := prefs.basis(*key)) is not None and basis.expired(now)]
        pending = [key for key, _ in ended if prefs.state(*key) == PENDING]
        written = 0
        if pending:
            prefs = self._save(connection, center, subscriber_id, prefs, pending, expiry_context("pending_expired"))
            written += 1
        for key, basis in ended:
            if key in pending:
                continue
            context = expiry_context("basis_expired", legal_basis=basis.legal_basis, until=_iso(basis.until))
            prefs = self._save(connection, center, subscriber_id, prefs, [key], context)
            written += 1
        return written

    def _save(self, connection: Connection, center: str, subscriber_id: str, prefs: Preferences,
              keys: list[tuple[str, str]], context: EventContext) -> Preferences:
        states = dict(prefs.subscriptions)
        for key in keys:
            states[key] = EXPIRED
        result = self.store.save_in(connection, center, subscriber_id, replace(prefs, subscriptions=states),
                                    base_version=prefs.version, context=context, seen=prefs)
        return result.preferences

    # -- re-permission reminders ---------------------------------------------------------------

    async def remind_due(self) -> int:
        """Queue the reminders that are due, center by center; how many subscriptions were looked at.

        At most every :attr:`remind_every`: a reminder is a month ahead, and the look reads every
        subscription ending within the longest reminder's horizon, not only the ones due.
        """
        now = self.clock()
        if self._reminded_at is not None and now - self._reminded_at < self.remind_every:
            return 0
        self._reminded_at = now
        looked = queued = 0
        for center in self.centers.values():
            ahead = _longest_reminder(center)
            if ahead is None:
                continue
            due = await anyio.to_thread.run_sync(self._reminders_of, center, now, now + timedelta(days=ahead))
            looked += len(due)
            for each in due:  # every page of the horizon
                topic = center.topic(each.topic)
                if topic is None or not topic.switchable or each.channel not in topic.channels:
                    continue  # no longer offered: nothing to renew (its expiry is still recorded)
                rule = rule_for(center, each.country, each.channel)
                days = rule.remind_days_before
                if days is None or each.until - timedelta(days=days) > now:
                    continue
                locale = each.locale if each.locale in center.locales else center.default_locale
                try:
                    done = await anyio.to_thread.run_sync(self._remind, each, locale, now)
                except IntegrityError:  # another process recorded it first
                    continue
                queued += int(done)
        if queued:
            self.wake_mail()
        return looked

    def _reminders_of(self, center: Center, now: datetime, horizon: datetime) -> list[Due]:
        """Every subscription of ``center`` ending within the horizon and not reminded yet, page by page."""
        found: list[Due] = []
        with self.store.engine.connect() as connection:
            while True:
                page = lifecycle.reminders_due(connection, center.id, now, horizon, self.batch,
                                               found[-1] if found else None)
                found += page
                if len(page) < self.batch:
                    return found

    def _remind(self, due: Due, locale: str, now: datetime) -> bool:
        with self.store.writing() as connection:
            return lifecycle.queue_reminder(connection, self.store.lookup_key, due, locale, now)


def _longest_reminder(center: Center) -> int | None:
    """The most days ahead any of the center's rules reminds (None: no rule reminds)."""
    days = [rule.remind_days_before for region in center.consent.regions for rule in region.channels.values()
            if rule.remind_days_before is not None]
    return max(days) if days else None

