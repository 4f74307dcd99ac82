"""``/api/v1/centers/{center}/webhooks``: endpoints, their deliveries, replays (admin keys)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from preference_sdk._webhooks import new_webhook_secret
from sqlalchemy import Connection

from ... import wire
from ...errors import InvalidValues, NotFound
from ...store import webhooks as store_webhooks
from .schemas import MAX_ID, DeliveryList, DeliveryOut, Replayed, ReplayRequest, WebhookCreate, WebhookList, WebhookOut
from .writes import Answer, run_write


def url_problem(url: str) -> str | None:
    """Deliveries go out over https; plain http only to this machine (development)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "an absolute https URL"
    if parts.scheme == "http":
        host = parts.hostname
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            return "https is required (plain http only to localhost)"
    if parts.username or parts.password:
        return "no credentials in the URL: verify the signature instead"
    return None


def _delivery_id(raw: str) -> int:
    number = raw.removeprefix("dlv_")
    if not number.isdigit() or int(number) > MAX_ID:
        raise NotFound()
    return int(number)


class WebhooksController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    opt = {"scope": "admin"}

    @post("/", status_code=201, summary="Register an endpoint (the secret is shown once)")
    async def create(
        self, request: Request, center_id: FromPath[str], data: JSONBody[WebhookCreate],
    ) -> Response[WebhookOut]:
        problem = url_problem(data.url)
        if problem:
            raise InvalidValues(errors=[{"path": "url", "message": problem}])
        clock = request.app.state.clock

        def work(connection: Connection) -> Answer:
            made = store_webhooks.create_endpoint(connection, center_id, data.url, data.description,
                                                  new_webhook_secret(), clock())
            return Answer(wire.endpoint({**made, "counts": {}}, with_secret=True), 201)

        return await run_write(request, work)

    @get("/", summary="Endpoints, with delivery counts")
    async def listing(self, request: Request, center_id: FromPath[str]) -> WebhookList:
        store = request.app.state.store

        def read() -> dict[str, Any]:
            with store.engine.connect() as connection:
                return {"webhooks": [wire.endpoint(e) for e in store_webhooks.endpoints(connection, center_id)]}

        return await store.read(read)  # type: ignore[return-value]

    @delete("/{endpoint_id:str}", status_code=204, summary="Stop deliveries to an endpoint")
    async def remove(self, request: Request, center_id: FromPath[str], endpoint_id: FromPath[str]) -> None:
        state = request.app.state

        def work(connection: Connection) -> Answer:
            if store_webhooks.endpoint(connection, center_id, endpoint_id) is None:
                raise NotFound()
            store_webhooks.disable(connection, endpoint_id, state.clock())
            return Answer(None, 204)

        await run_write(request, work)

    @get("/{endpoint_id:str}/deliveries", summary="Deliveries, newest first")
    async def deliveries(
        self, request: Request, center_id: FromPath[str], endpoint_id: FromPath[str],
        status: Annotated[str | None, QueryParameter(pattern="^(pending|delivered|failed)$")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> DeliveryList:
        store = request.app.state.store

        def read() -> dict[str, Any]:
            with store.engine.connect() as connection:
                if store_webhooks.endpoint(connection, center_id, endpoint_id) is None:
                    raise NotFound()
                rows = store_webhooks.deliveries(connection, endpoint_id, status, limit)
            return {"deliveries": [wire.delivery(r) for r in rows]}

        return await store.read(read)  # type: ignore[return-value]

    @post("/{endpoint_id:str}/deliveries/{delivery_id:str}/replay", status_code=202,
          summary="Send one delivery again")
    async def replay_one(self, request: Request, center_id: FromPath[str], endpoint_id: FromPath[str],
                         delivery_id: FromPath[str]) -> Response[DeliveryOut]:
        number, clock = _delivery_id(delivery_id), request.app.state.clock

        def work(connection: Connection) -> Answer:
            if store_webhooks.endpoint(connection, center_id, endpoint_id) is None:
                raise NotFound()
            again = store_webhooks.replay_delivery(connection, endpoint_id, number, clock())
            if again is None:
                raise NotFound()
            return Answer(wire.delivery(again), 202)

        response = await run_write(request, work)
        request.app.state.deliveries_due.set()
        return response

    @post("/{endpoint_id:str}/replay", status_code=202, summary="Send every event after a cursor again")
    async def replay_after(self, request: Request, center_id: FromPath[str], endpoint_id: FromPath[str],
                           data: JSONBody[ReplayRequest]) -> Response[Replayed]:
        clock = request.app.state.clock

        def work(connection: Connection) -> Answer:
            if store_webhooks.endpoint(connection, center_id, endpoint_id) is None:
                raise NotFound()
            return Answer({"queued": store_webhooks.replay_after(connection, center_id, endpoint_id, data.after,
                                                                 clock())}, 202)

        response = await run_write(request, work)
        request.app.state.deliveries_due.set()
        return response
