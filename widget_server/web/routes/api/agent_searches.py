"""``/api/v1/centers/{center}/agent-searches``: the agent console's audit trail (admin keys).

Who searched, when, for which kind of contact point, and whom it found: never what was
typed (the store keeps only its keyed hash, and this answer not even that). Newest first,
in pages: ``next`` is the cursor of the page after this one (``before=``), ``null`` at the end.

A cursor is ``<microseconds since 1970>.<search id>``, the last search of a page: searches
that share an instant are ordered by id, so a page never skips or repeats one.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, cast

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from .... import json_shapes
from ....centers.model import Center
from ....store import agent_searches
from ....store.agent_searches import Search
from ....store.store import Store
from .bodies import PRINTABLE, SearchTrail, problems, rfc3339

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: 17 digits of microseconds reach the year 5138: every cursor the pattern admits is a time.
CURSOR = r"^[0-9]{1,17}\.[A-Za-z0-9_-]{1,40}$"


def cursor_of(search: Search) -> str:
    return f"{(search.searched_at - EPOCH) // timedelta(microseconds=1)}.{search.id}"


def _before(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    micros, _, search_id = cursor.partition(".")
    return EPOCH + timedelta(microseconds=int(micros)), search_id


def shown(search: Search) -> dict[str, Any]:
    return {"id": search.id, "agent": search.agent_id, "kind": search.kind, "found": search.found,
            "subscriber_id": search.subscriber_id, "searched_at": json_shapes.instant(search.searched_at)}


@get("/agent-searches", opt={"scope": "admin"}, tags=["call center"],
     summary="The agent console's audit trail: who searched, when, whom it found; newest first",
     responses=problems())
async def agent_search_trail(
    center: NamedDependency[Center],
    store: NamedDependency[Store],
    agent: Annotated[str | None, QueryParameter(min_length=1, max_length=80, pattern=PRINTABLE,
                                                description="Only this agent's searches (the id their token names)")
                     ] = None,
    since: Annotated[str | None, QueryParameter(schema_extra={"format": "date-time"},
                                                description="From this time on (RFC 3339, with its offset)")] = None,
    until: Annotated[str | None, QueryParameter(schema_extra={"format": "date-time"},
                                                description="Before this time (RFC 3339, with its offset)")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    before: Annotated[str | None, QueryParameter(pattern=CURSOR, description="The next of the page before")] = None,
) -> SearchTrail:
    start = rfc3339("since", since) if since is not None else None
    end = rfc3339("until", until) if until is not None else None
    after = _before(before)

    def read() -> dict[str, Any]:
        with store.engine.connect() as connection:
            rows = agent_searches.listed(connection, center.id, agent_id=agent, since=start, until=end,
                                         limit=limit + 1, before=after)  # one more: is there a next page?
        page = rows[:limit]
        return {"searches": [shown(row) for row in page], "next": cursor_of(page[-1]) if len(rows) > limit else None}

    return cast(SearchTrail, await store.run_sync(read, large=True))  # a dict of shapes, sent as that shape
