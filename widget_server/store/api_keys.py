"""API keys: created and revoked from the command line, stored as a hash of their secret.

A key reads ``pck_<id>_<secret>``. The id finds the row; the secret is compared, in
constant time, with its SHA-256 (secrets are 256 random bits, so a fast hash is as good
as a slow one and keeps every API request cheap). The full key is shown once, at
creation, and cannot be recovered.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from .tables import api_keys

PREFIX = "pck_"
SCOPES = ("read", "write", "admin")
#: What each scope includes: admin can do everything write can, write everything read can.
IMPLIED = {"read": {"read"}, "write": {"read", "write"}, "admin": {"read", "write", "admin"}}


@dataclass(frozen=True)
class ApiKey:
    id: str
    center: str
    name: str
    scopes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None = None

    def allows(self, scope: str) -> bool:
        return any(scope in IMPLIED[s] for s in self.scopes)

    @property
    def actor(self) -> str:
        return f"api_key:{self.id}"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key(row) -> ApiKey:  # noqa: ANN001
    return ApiKey(row.id, row.center, row.name, frozenset(row.scopes.split(",")), row.created_at, row.revoked_at)


def create(connection: Connection, center: str, name: str, scopes: list[str], now: datetime) -> tuple[ApiKey, str]:
    """A new key; returns it and the full key string, which is never stored."""
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}")
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    ordered = ",".join(s for s in SCOPES if s in scopes)
    connection.execute(insert(api_keys).values(
        id=key_id, center=center, name=name, scopes=ordered, secret_hash=_hash(secret), created_at=now,
    ))
    return ApiKey(key_id, center, name, frozenset(scopes), now), f"{PREFIX}{key_id}_{secret}"


def authenticate(connection: Connection, presented: str) -> ApiKey | None:
    """The live key matching ``presented``, or None (malformed, unknown, wrong secret, revoked)."""
    if not presented.startswith(PREFIX):
        return None
    key_id, _, secret = presented[len(PREFIX):].partition("_")
    if not key_id or not secret:
        return None
    row = connection.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    return _key(row)


def listing(connection: Connection, center: str | None = None) -> list[ApiKey]:
    query = select(api_keys).order_by(api_keys.c.created_at)
    if center:
        query = query.where(api_keys.c.center == center)
    return [_key(r) for r in connection.execute(query)]


def revoke(connection: Connection, key_id: str, now: datetime) -> bool:
    done = connection.execute(
        update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=now)
    )
    return done.rowcount == 1
