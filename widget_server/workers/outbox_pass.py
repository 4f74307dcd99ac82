"""What the two outbox workers (webhook deliveries, mails) share: one pass, and the backoff.

A pass claims due rows under the write lock (in a thread: the store is synchronous),
sends them all at once on the event loop, then records every outcome in one more
transaction; a failed attempt waits :func:`retry_delay` before the next.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Awaitable, Callable, Sequence, TypeVar

import anyio

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

MAX_DELAY = timedelta(hours=1)


async def one_pass(
    claim: Callable[[], Sequence[Item]],
    send: Callable[[Item], Awaitable[Outcome]],
    settle: Callable[[list[tuple[Item, Outcome]]], object],
) -> int:
    """Claim, send, settle. Returns how many rows were tried (0: nothing was due)."""
    items = await anyio.to_thread.run_sync(claim)
    if not items:
        return 0
    outcomes = await asyncio.gather(*(send(item) for item in items))
    await anyio.to_thread.run_sync(settle, list(zip(items, outcomes, strict=True)))
    return len(items)


def retry_delay(first_retry: timedelta, attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: doubling, capped at an hour.

    The doublings are counted only up to the cap: ``first_retry * 2**n`` overflows a
    ``timedelta`` after some forty attempts, and ``webhook_max_attempts`` has no bound.
    """
    delay = first_retry
    for _ in range(max(attempts - 1, 0)):
        if delay >= MAX_DELAY:
            break
        delay *= 2
    return min(delay, MAX_DELAY)
