"""A subscriber's rights: everything held (access, portability), erasure, and signing out
every link they were sent (the API's twin of the history page's sign-out)."""

from __future__ import annotations

from dataclasses import replace

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy import Connection

from .... import json_shapes
from ....centers.model import Center
from ....errors import NotFound
from ....ledger import EventContext
from ....preferences import Preferences, suppress_all
from ....store import gdpr
from ....store.store import Store
from ...dependencies import Clock
from ...openapi import documented
from .bodies import IDEMPOTENCY_KEY, Erasure, Export, RevokedLinks, problems, write_problems
from .subscribers import load
from .writes import Answer, ApiWrite


class RightsController(Controller):
    path = "/subscribers"
    tags = ["gdpr"]

    @get("/{subscriber_id:str}/export", opt={"scope": "admin"}, summary="Everything held (GDPR access)",
         responses=problems())
    async def export(
        self,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        clock: NamedDependency[Clock],
        subscriber_id: FromPath[str],
    ) -> Export:
        document = await store.run_sync(gdpr.export_document, store, center, subscriber_id, clock(), large=True)
        if document is None:
            raise NotFound(center=center)
        return document  # type: ignore[return-value]

    @delete("/{subscriber_id:str}", opt={"scope": "admin"}, status_code=200, summary="Erase (GDPR)",
            responses=write_problems(), operation_class=documented(parameters=[IDEMPOTENCY_KEY]))
    async def erase(
        self,
        request: Request,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        write: NamedDependency[ApiWrite],
        subscriber_id: FromPath[str],
    ) -> Response[Erasure]:
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

        return await write(work)


    @post("/{subscriber_id:str}/revoke-links", opt={"scope": "write"}, status_code=200,
          summary="Sign out every link sent to this subscriber", responses=write_problems(),
          operation_class=documented(parameters=[IDEMPOTENCY_KEY]))
    async def revoke_links(
        self,
        center: NamedDependency[Center],
        store: NamedDependency[Store],
        write: NamedDependency[ApiWrite],
        subscriber_id: FromPath[str],
    ) -> Response[RevokedLinks]:
        """Every link signed until now (footer, unsubscribe, confirmation, history) stops working,
        as when the person signs out from their history page; new links work from the next second.
        A lost phone, a forwarded mail: the host's support can act without the person's link."""

        def work(connection: Connection) -> Answer:
            after = store.revoke_links_in(connection, subscriber_id, center.id)
            if after is None:
                raise NotFound(center=center)
            return Answer({"subscriber_id": subscriber_id, "links_valid_after": json_shapes.instant(after)})

        return await write(work)
