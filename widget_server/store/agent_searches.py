"""The agent console's audit trail: every search, by whom, for what, whom it found.

A search is kept as the keyed hash of what was typed (never the value: an admin reading
the trail learns who looked up whom, not a list of addresses), the agent's id and the
time. Its random id is what the console's form names afterwards, so an agent can change
only a customer their own search found, within :data:`SEARCH_LIFETIME`. The rows are the
per-agent rate limit's count too.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, insert, select

from .tables import agent_searches

#: How long a search's result stays open for changes: one call, with room to spare.
SEARCH_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class Search:
    id: str
    center: str
    agent_id: str
    kind: str
    query_hash: str
    subscriber_id: str | None
    searched_at: datetime

    @property
    def found(self) -> bool:
        return self.subscriber_id is not None


def record(connection: Connection, center: str, agent_id: str, kind: str, query_hash: str,
           subscriber_id: str | None, now: datetime) -> Search:
    search = Search("as_" + secrets.token_urlsafe(16), center, agent_id, kind, query_hash, subscriber_id, now)
    connection.execute(insert(agent_searches).values(**vars(search)))
    return search


def count_since(connection: Connection, center: str, agent_id: str, since: datetime) -> int:
    """How many searches this agent made in ``center`` since ``since`` (the rate limit's count)."""
    return connection.scalar(select(func.count()).select_from(agent_searches).where(
        agent_searches.c.center == center, agent_searches.c.agent_id == agent_id,
        agent_searches.c.searched_at >= since)) or 0


def open_search(connection: Connection, center: str, agent_id: str, search_id: str, now: datetime) -> Search | None:
    """The agent's own search, still open for changes, that found someone; else None."""
    row = connection.execute(select(agent_searches).where(
        agent_searches.c.id == search_id, agent_searches.c.center == center,
        agent_searches.c.agent_id == agent_id)).first()
    if row is None or row.subscriber_id is None or row.searched_at < now - SEARCH_LIFETIME:
        return None
    return Search(**row._mapping)


def listed(connection: Connection, center: str, *, agent_id: str | None = None, since: datetime | None = None,
           until: datetime | None = None, limit: int = 100, before: tuple[datetime, str] | None = None) -> list[Search]:
    """The trail of ``center``, newest first; ``before`` (time, id) pages on past the last one read."""
    where = [agent_searches.c.center == center]
    if agent_id is not None:
        where.append(agent_searches.c.agent_id == agent_id)
    if since is not None:
        where.append(agent_searches.c.searched_at >= since)
    if until is not None:
        where.append(agent_searches.c.searched_at < until)
    if before is not None:
        at, search_id = before
        where.append((agent_searches.c.searched_at < at)
                     | ((agent_searches.c.searched_at == at) & (agent_searches.c.id < search_id)))
    rows = connection.execute(select(agent_searches).where(*where)
                              .order_by(agent_searches.c.searched_at.desc(), agent_searches.c.id.desc()).limit(limit))
    return [Search(**row._mapping) for row in rows]
