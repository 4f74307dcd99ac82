"""``/api/v1/centers/{center}/webhooks``: endpoints, their deliveries, replays (admin keys)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, cast

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from preference_sdk._webhooks import new_webhook_secret
from sqlalchemy import Connection

from .... import json_shapes
from ....errors import InvalidValues, NotFound
from ....settings import Settings
from ....store import webhooks as store_webhooks
from ....store.store import Store
from ....webhook_addresses import Resolver, Undeliverable, check_url
from ...dependencies import Clock
from ...openapi import documented
from .bodies import (
    IDEMPOTENCY_KEY,
    KEEP_PREVIOUS_SECRET_MAX,
    MAX_ID,
    DeliveryList,
    DeliveryOut,
    Replayed,
    ReplayRequest,
    SecretRotated,
    SecretRotation,
    WebhookCreate,
    WebhookList,
    WebhookOut,
    problems,
    write_problems,
)
from .writes import Answer, ApiWrite

DELIVERY_NUMBER = re.compile(r"[0-9]{1,19}")


def _delivery_id(raw: str) -> int:
    number = raw.removeprefix("dlv_")
    if not DELIVERY_NUMBER.fullmatch(number) or int(number) > MAX_ID:
        raise NotFound()
    return int(number)


class WebhooksController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    opt = {"scope": "admin"}

    @post("/", status_code=201, summary="Register an endpoint (the secret is shown once)",
          responses=write_problems(413, 415), operation_class=documented(parameters=[IDEMPOTENCY_KEY]))
    async def create(
        self,
        center_id: FromPath[str],
        settings: NamedDependency[Settings],
        clock: NamedDependency[Clock],
        write: NamedDependency[ApiWrite],
        resolve: NamedDependency[Resolver],
        data: JSONBody[WebhookCreate],
    ) -> Response[WebhookOut]:
        try:  # the rule each delivery applies again (webhook_addresses), with the same resolver
            await check_url(data.url, allow_private=settings.webhook_allow_private, resolve=resolve)
        except Undeliverable as refused:
            raise InvalidValues(errors=[{"path": "url", "message": str(refused)}]) from None

        def work(connection: Connection) -> Answer:
            made = store_webhooks.create_endpoint(connection, center_id, data.url, data.description,
                                                  new_webhook_secret(), clock())
            return Answer(json_shapes.endpoint({**made, "counts": {}}, with_secret=True), 201)

        return await write(work)

    @get("/", summary="Endpoints, with delivery counts", responses=problems())
    async def listing(self, center_id: FromPath[str], store: NamedDependency[Store]) -> WebhookList:

        def read() -> dict[str, Any]:
            with store.engine.connect() as connection:
                return {"webhooks": [json_shapes.endpoint(e) for e in store_webhooks.endpoints(connection, center_id)]}

        return cast(WebhookList, await store.run_sync(read))  # a dict of json_shapes, sent as that shape

    @delete("/{endpoint_id:str}", status_code=204, summary="Stop deliveries to an endpoint",
            responses=write_problems(), operation_class=documented(parameters=[IDEMPOTENCY_KEY]))
    async def remove(self, center_id: FromPath[str], endpoint_id: FromPath[str], clock: NamedDependency[Clock],
                     write: NamedDependency[ApiWrite]) -> None:

        def work(connection: Connection) -> Answer:
            if store_webhooks.endpoint(connection, center_id, endpoint_id) is None:
                raise NotFound()
            store_webhooks.disable(connection, endpoint_id, clock())
            return Answer(None, 204)

        await write(work)

    @post("/{endpoint_id:str}/rotate-secret", status_code=200,
          summary="Replace the secret (shown once); the previous one still signs for a while",
          responses=write_problems(413, 415), operation_class=documented(parameters=[IDEMPOTENCY_KEY]))
    async def rotate_secret(
        self,
        center_id: FromPath[str],
        endpoint_id: FromPath[str],
        clock: NamedDependency[Clock],
        write: NamedDependency[ApiWrite],
        data: JSONBody[SecretRotation | None] = None,
    ) -> Response[SecretRotated]:
        keep = (data or SecretRotation()).expire_previous_in
        if not 0 <= keep <= KEEP_PREVIOUS_SECRET_MAX:
            raise InvalidValues(errors=[{"path": "expire_previous_in",
                                         "message": f"a number of seconds from 0 to {KEEP_PREVIOUS_SECRET_MAX}"}])

        def work(connection: Connection) -> Answer:
            endpoint = store_webhooks.endpoint(connection, center_id, endpoint_id)
            if endpoint is None:
                raise NotFound()
            secret, now = new_webhook_secret(), clock()
            until = store_webhooks.rotate_secret(connection, endpoint_id, secret, now, timedelta(seconds=keep))
            shown = json_shapes.endpoint({**endpoint, "secret": secret}, with_secret=True)
            del shown["counts"]
            return Answer({**shown, "previous_secret_expires_at": json_shapes.instant(until)}, 200)

        return await write(work)

    @get("/{endpoint_id:str}/deliveries", summary="Deliveries, newest first", responses=problems())
    async def deliveries(
        self, center_id: FromPath[str], endpoint_id: FromPath[str], store: NamedDependency[Store],
        status: Annotated[str | None, QueryParameter(pattern="^(pending|delivered|failed)$")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> DeliveryList:

        def read() -> dict[str, Any]:
            with store.engine.connect() as connection:
                if store_webhooks.endpoint(connection, center_id, endpoint_id) is None:
                    raise NotFound()
                rows = store_webhooks.deliveries(connection, endpoint_id, status, limit)
            return {"deliveries": [json_shapes.delivery(r) for r in rows]}

        return cast(DeliveryList, await store.run_sync(read, large=True))

    @post("/{endpoint_id:str}/deliveries/{delivery_id:str}/replay", status_code=202,
          summary="Send one delivery again", responses=write_problems(),
          operation_class=documented(parameters=[IDEMPOTENCY_KEY]))
    async def replay_one(self, center_id: FromPath[str], endpoint_id: FromPath[str], delivery_id: FromPath[str],
                         clock: NamedDependency[Clock], write: NamedDependency[ApiWrite]) -> Response[DeliveryOut]:
        number = _delivery_id(delivery_id)

        def work(connection: Connection) -> Answer:
            if store_webhooks.endpoint(connection, center_id, endpoint_id) is None:
                raise NotFound()
            again = store_webhooks.replay_delivery(connection, endpoint_id, number, clock())
            if again is None:
                raise NotFound()
            return Answer(json_shapes.delivery(again), 202)

        return await write(work)

    @post("/{endpoint_id:str}/replay", status_code=202, summary="Send every event after a cursor again",
          responses=write_problems(413, 415), operation_class=documented(parameters=[IDEMPOTENCY_KEY]))
    async def replay_after(self, center_id: FromPath[str], endpoint_id: FromPath[str], clock: NamedDependency[Clock],
                           write: NamedDependency[ApiWrite], data: JSONBody[ReplayRequest]) -> Response[Replayed]:

        def work(connection: Connection) -> Answer:
            if store_webhooks.endpoint(connection, center_id, endpoint_id) is None:
                raise NotFound()
            return Answer({"queued": store_webhooks.replay_after(connection, center_id, endpoint_id, data.after,
                                                                 clock())}, 202)

        return await write(work)
