"""A subscriber's GDPR rights: everything held (access, portability) and erasure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from litestar import Controller, Request, Response, delete, get
from litestar.params import FromPath
from sqlalchemy import Connection

from .... import json_shapes
from ....errors import NotFound
from ....ledger import EventContext
from ....preferences import Preferences, suppress_all
from ....store import gdpr
from .bodies import Erasure, Export, problems
from .subscribers import center_of, load
from .writes import Answer, run_write


class RightsController(Controller):
    path = "/subscribers"
    tags = ["gdpr"]

    @get("/{subscriber_id:str}/export", opt={"scope": "admin"}, summary="Everything held (GDPR access)",
         responses=problems())
    async def export(self, request: Request, center_id: FromPath[str], subscriber_id: FromPath[str]) -> Export:
        center, store = center_of(request, center_id), request.app.state.store

        def read() -> dict[str, Any] | None:
            with store.engine.connect() as connection:
                return gdpr.export(store, connection, center.id, subscriber_id)

        held = await store.run_sync(read, large=True)
        if held is None:
            raise NotFound(center=center)
        return {  # type: ignore[return-value]
            "subscriber": json_shapes.document(center, held["subscriber"]),
            "contact_points": held["contact_points"],
            "events": [json_shapes.recorded_event(e) for e in held["events"]],
            "exported_at": json_shapes.instant(request.app.state.clock()),
        }

    @delete("/{subscriber_id:str}", opt={"scope": "admin"}, status_code=200, summary="Erase (GDPR)",
            responses=problems())
    async def erase(
        self, request: Request, center_id: FromPath[str], subscriber_id: FromPath[str],
    ) -> Response[Erasure]:
        center, store = center_of(request, center_id), request.app.state.store
        context = EventContext(source="api", actor=request.state.api_key.actor,
                               evidence={"method": "erasure_request"})

        def work(connection: Connection) -> Answer:
            current = load(store, connection, center, subscriber_id).preferences
            withdrawn = suppress_all(center, replace(Preferences(version=current.version),
                                                     subscriptions=current.subscriptions))
            done = gdpr.erase(store, connection, center.id, subscriber_id, withdrawn, context, store.clock())
            return Answer({"subscriber_id": subscriber_id, "erased_at": json_shapes.instant(done["erased_at"]),
                           "already_erased": done["already_erased"], "deleted": list(done["deleted"]),
                           "kept": list(done["kept"])})

        return await run_write(request, work)

