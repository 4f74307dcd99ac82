"""``/api/v1/centers/{center}`` itself, and its change feed (``/events``)."""

from __future__ import annotations

from typing import Annotated, Any, cast

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from .... import json_shapes
from ....centers.model import Center
from ....store import feed
from ....store.store import Store
from .bodies import MAX_ID, CenterOut, FeedPage, problems


@get("/", opt={"scope": "read"}, tags=["center"], summary="The center's topics, channels, frequencies, interests",
     responses=problems())
async def center_definition(center: NamedDependency[Center]) -> CenterOut:
    return json_shapes.center_definition(center)  # type: ignore[return-value]


@get("/events", opt={"scope": "read"}, tags=["feed"], summary="The change feed, from a cursor", responses=problems())
async def events(
    center: NamedDependency[Center], store: NamedDependency[Store],
    # schema_extra: the bound as an integer (le= is written as a float, which rounds 2**63 - 1 up)
    after: Annotated[int, QueryParameter(ge=0, le=MAX_ID, schema_extra={"maximum": MAX_ID},
                                         description="The last event id you processed")] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 500,
    remaining: Annotated[bool, QueryParameter(description="Also count the events after this page (`remaining`): "
                                              "the total a progress display counts toward")] = False,
) -> FeedPage:
    def read() -> dict[str, Any]:
        with store.engine.connect() as connection:
            rows, more = feed.page(connection, center.id, after, limit)
            cursor = rows[-1]["id"] if rows else after
            page = {"events": [json_shapes.event(r) for r in rows], "next_cursor": cursor, "has_more": more}
            if remaining:  # a count at the time of reading: events committed since come on top
                page["remaining"] = feed.remaining(connection, center.id, cursor) if more else 0
        return page

    return cast(FeedPage, await store.run_sync(read, large=True))  # a dict of json_shapes, sent as that shape
