"""Every API write runs here: one transaction, with its idempotency record inside it.

``run_write(request, work)`` validates an ``Idempotency-Key``, replays the stored answer
of a repeat (``Idempotent-Replayed: true``), refuses the same key with another request
(``422``), and otherwise runs ``work(connection)`` in a write transaction, storing its
answer in that same transaction. A failed write stores nothing, so it can be retried.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

import msgspec
from litestar import Request, Response
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ....errors import BadRequest, Conflict, IdempotencyKeyInUse, IdempotencyKeyReused
from ....store import idempotency
from ....store.idempotency import StoredAnswer

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


async def run_write(request: Request, work: Callable[[Connection], Answer]) -> Response:
    key = request.headers.get("idempotency-key")
    if key is not None and not KEY_FORMAT.match(key):
        raise BadRequest(errors=[{"path": "Idempotency-Key", "message": "1 to 200 visible ASCII characters"}])
    state = request.app.state
    api_key = request.state.api_key
    fingerprint = idempotency.fingerprint(request.method, request.url.path, request.url.query or "",
                                          await request.body())

    def transaction(connection: Connection) -> tuple[Answer, bool]:
        now = state.clock()
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
        answer, replayed = await state.changes.write(transaction)
    except IntegrityError:
        # A concurrent request committed first: the same idempotency key, or the same
        # external id or address (a unique index). Nothing of this one was written.
        if key is not None:
            raise IdempotencyKeyInUse(retry_after=1) from None
        raise Conflict() from None
    return json_response(answer, replayed=replayed)
