"""Every API write runs here: one transaction, with its idempotency record inside it.

A handler asks for ``write: ApiWrite`` (provided per request by :func:`provide_write`)
and returns ``await write(work)``: it validates an ``Idempotency-Key``, replays the stored answer
of a repeat (``Idempotent-Replayed: true``), refuses the same key with another request
(``422``), and otherwise runs ``work(connection)`` in a write transaction, storing its
answer in that same transaction. A failed write stores nothing, so it can be retried: one
the database cannot store is a 503 ``storage_unavailable`` with Retry-After (raised by
``Store.writing``), its idempotency key left free for the retry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

import msgspec
from litestar import Request, Response
from litestar.di import NamedDependency
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ....changes import Changes
from ....errors import BadRequest, Conflict, IdempotencyKeyInUse, IdempotencyKeyReused
from ....store import idempotency
from ....store.idempotency import StoredAnswer
from ...dependencies import Clock

KEY_FORMAT = re.compile(r"^[\x21-\x7e]{1,200}$")


@dataclass
class Answer:
    """What a write answers: status, JSON body, headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def json_response(answer: Answer, *, replayed: bool = False) -> Response:
    headers = dict(answer.headers)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(answer.body, status_code=answer.status, headers=headers, media_type="application/json")


_purged_at: list[datetime] = []
PURGE_EVERY = timedelta(minutes=10)


def _purge_now_and_then(connection: Connection, now: datetime) -> None:
    """Expired idempotency records go, at most every ten minutes per process."""
    if _purged_at and now - _purged_at[0] < PURGE_EVERY:
        return
    _purged_at[:] = [now]
    idempotency.purge(connection, now)


@dataclass(frozen=True)
class ApiWrite:
    """This request's write: its idempotency key, through the one write path (``Changes``)."""

    request: Request
    changes: Changes
    clock: Clock

    async def __call__(self, work: Callable[[Connection], Answer]) -> Response:
        return await run_write(self.request, self.changes, self.clock, work)


def provide_write(request: Request, changes: NamedDependency[Changes], clock: NamedDependency[Clock]) -> ApiWrite:
    return ApiWrite(request, changes, clock)


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key``, if it has one; a malformed one is a 400."""
    key = request.headers.get("idempotency-key")
    if key is not None and not KEY_FORMAT.match(key):
        raise BadRequest(errors=[{"path": "Idempotency-Key", "message": "1 to 200 visible ASCII characters"}])
    return key


async def run_write(request: Request, changes: Changes, clock: Clock, work: Callable[[Connection], Answer]) -> Response:
    key = idempotency_key(request)
    api_key = request.state.api_key
    fingerprint = idempotency.fingerprint(request.method, request.url.path, request.url.query or "",
                                          await request.body())

    def transaction(connection: Connection) -> tuple[Answer, bool]:
        now = clock()
        if key is not None:
            stored = idempotency.find(connection, api_key.id, key, now)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise IdempotencyKeyReused()
                return Answer(stored.body, stored.status, stored.headers), True
        answer = work(connection)
        answer.body = msgspec.to_builtins(answer.body)
        _purge_now_and_then(connection, now)
        if key is not None:
            idempotency.record(connection, api_key.id, key,
                               StoredAnswer(fingerprint, answer.status, answer.body, answer.headers), now)
        return answer, False

    try:
        # The one write path: commits, then wakes the webhook worker (changes.Changes.write).
        answer, replayed = await changes.write(transaction)
    except IntegrityError:
        # A concurrent request committed first: the same idempotency key, or the same
        # external id or address (a unique index). Nothing of this one was written.
        if key is not None:
            raise IdempotencyKeyInUse(retry_after=1) from None
        raise Conflict() from None
    return json_response(answer, replayed=replayed)
