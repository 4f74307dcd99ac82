"""Idempotency keys: a write's first answer, kept with the write itself.

The record is inserted in the same transaction as the change it answers, so either
both exist or neither does: a retry after a crash re-runs the write, a retry after a
commit replays the answer. Records older than :data:`KEEP` are purged lazily.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from .tables import idempotency_keys

KEEP = timedelta(hours=24)


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    status: int
    body: Any
    headers: dict[str, str]


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def find(connection: Connection, api_key_id: str, key: str, now: datetime) -> StoredAnswer | None:
    row = connection.execute(select(idempotency_keys).where(
        idempotency_keys.c.api_key_id == api_key_id, idempotency_keys.c.key == key,
        idempotency_keys.c.created_at > now - KEEP,
    )).first()
    if row is None:
        return None
    return StoredAnswer(row.fingerprint, row.status, row.body, dict(row.headers or {}))


def record(connection: Connection, api_key_id: str, key: str, answer: StoredAnswer, now: datetime) -> None:
    connection.execute(delete(idempotency_keys).where(
        idempotency_keys.c.api_key_id == api_key_id, idempotency_keys.c.key == key,
    ))  # an expired record of the same key
    connection.execute(insert(idempotency_keys).values(
        api_key_id=api_key_id, key=key, fingerprint=answer.fingerprint, status=answer.status,
        body=answer.body, headers=answer.headers, created_at=now,
    ))


def purge(connection: Connection, now: datetime) -> int:
    return connection.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at <= now - KEEP)).rowcount
