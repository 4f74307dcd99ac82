"""The one write path: every surface that changes what is stored comes through here.

The widget form, the one-click unsubscribe and its page, the JSON API and its imports
(and the kiosk and agent console to come) each say *who* changes *what* from *where*:
a subscriber, the preferences wanted, and an :class:`~.ledger.EventContext`. This module
writes the new state, its chained event and the event's webhook outbox rows in one
transaction (through :class:`~.store.Store`), off the event loop, and once that
transaction has committed it wakes the webhook worker, so that every change is on its
way to every endpoint within milliseconds, whichever route made it.

A surface never calls ``Store.save`` or ``Store.writing`` itself: forgetting the wake-up
is how the widget's saves once waited for the worker's next poll.
"""

from __future__ import annotations

from functools import partial
from typing import Callable, TypeVar

import anyio
from sqlalchemy import Connection

from .ledger import EventContext
from .preferences import Preferences
from .store.store import SaveResult, Store, Subscriber, VersionConflict

T = TypeVar("T")

#: How often a change that cannot be stale (an unsubscribe) is applied again when
#: someone else saved in between.
ATTEMPTS = 5


class Changes:
    """Writes changes and tells the webhook worker about them.

    ``wake`` is called on the event loop after each committed write (the worker's
    ``asyncio.Event.set``, or nothing when this process does not deliver).
    """

    def __init__(self, store: Store, wake: Callable[[], None]) -> None:
        self.store = store
        self._wake = wake

    async def save(
        self,
        center_id: str,
        subscriber: Subscriber,
        desired: Preferences,
        *,
        base_version: int,
        context: EventContext,
        submission_id: str | None = None,
    ) -> SaveResult:
        """Save a form's choices, made from ``base_version`` of what ``subscriber`` holds.

        A stale form asking for anything but the current state raises
        :class:`VersionConflict`, carrying the current state: someone's newer choice is
        never overwritten. A repeat of the same submission records nothing.
        """
        return await self.write(lambda connection: self.store.save_in(
            connection, center_id, subscriber.id, desired, base_version=base_version,
            context=context, submission_id=submission_id, seen=subscriber.preferences,
        ))

    async def apply(
        self,
        center_id: str,
        subscriber: Subscriber,
        change: Callable[[Preferences], Preferences],
        context: EventContext,
        attempts: int = ATTEMPTS,
    ) -> SaveResult:
        """Apply ``change`` to the subscriber's latest state and record it.

        For a change that is not a form and so cannot be stale (an unsubscribe): if
        someone saved in between, it is applied again to what they saved. Applying it to
        a state that already has it records nothing (``unchanged``).
        """
        current = subscriber.preferences

        def once(connection: Connection, seen: Preferences) -> SaveResult:
            return self.store.save_in(connection, center_id, subscriber.id, change(seen),
                                      base_version=seen.version, context=context, seen=seen)

        for _ in range(attempts - 1):
            try:
                return await self.write(partial(once, seen=current))
            except VersionConflict as conflict:
                current = conflict.current
        return await self.write(partial(once, seen=current))  # a conflict now is raised

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(connection)`` in one write transaction, in a worker thread; after it
        commits, wake the webhook worker.

        For writes that put rows of their own beside a change (the API's idempotency
        record, an import's batches, an erasure, a webhook replay): whatever ``work``
        writes commits together or not at all. A failed write wakes no one; one the
        database cannot store (a full disk, a read-only database) is raised by
        ``Store.writing`` as ``StorageUnavailable`` (503, Retry-After), for every surface alike.
        """

        def transaction() -> T:
            with self.store.writing() as connection:
                return work(connection)

        result = await anyio.to_thread.run_sync(transaction)
        self._wake()
        return result
