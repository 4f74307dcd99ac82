"""``/api/v1/centers/{center}/devices``: the shop tablets (kiosks), provisioned and revoked (admin keys).

A device's token is minted once, when it is created, into the kiosk link the answer
carries (``kiosk_url``); it is not stored, so no later answer can show it again. Beside it
the answer carries the device's staff PIN (``staff_pin``), which the store's staff type to
attest a customer's identity: only its keyed hash is stored (:mod:`widget_server.store.devices`),
and it is kept out of the idempotency record too, so a replay of the same
``Idempotency-Key`` answers the same device and link with ``"staff_pin": null`` (its
first answer lost: revoke that device and provision another). Revoking takes effect at
the kiosk's next request: the kiosk checks the device's row every time.

The body of ``POST`` is read here rather than by Litestar: a member that fails validation
is named by Litestar after the dependency of the same name (``store``), which it then
answers as a server error (500) instead of a 400 saying which member is wrong.

The command line (``widget-server device ...``) and the demo provision devices with the
same :func:`~widget_server.tokens.kiosk_url`.
"""

from __future__ import annotations

import re
from typing import Any, cast

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, RequestBody
from litestar.params import FromPath
from preference_sdk import TokenSigner
from sqlalchemy import Connection

from .... import json_shapes
from ....errors import BadRequest, NotFound
from ....settings import Settings
from ....store import devices
from ....store.devices import Device
from ....store.store import Store
from ....tokens import kiosk_url
from ...dependencies import Clock
from ...openapi import documented, struct_schema
from .bodies import IDEMPOTENCY_KEY, DeviceCreate, DeviceCreated, DeviceList, DeviceOut, problems, write_problems
from .writes import Answer, ApiWrite

DEVICE_BODY = RequestBody(required=True, content={"application/json": OpenAPIMediaType(schema=struct_schema(
    DeviceCreate))})
_WHERE = re.compile(r"^(?P<message>.*?)(?: - at `\$(?:\.(?P<path>.+))?`)?$", re.DOTALL)


def read_device(body: bytes) -> DeviceCreate:
    """The body of ``POST /devices``, or a 400 whose ``errors`` names the member, as Litestar's own would."""
    try:
        return msgspec.json.decode(body, type=DeviceCreate)
    except msgspec.ValidationError as error:
        where = _WHERE.match(str(error))
        path, message = (where["path"], where["message"]) if where else (None, str(error))
        if path in ("store", "name"):  # rather than msgspec's regex
            message = "text of 1 to 80 characters, not only spaces, no control characters"
        raise BadRequest(errors=[{"path": path, "message": message}]) from None
    except msgspec.DecodeError:
        raise BadRequest(errors=[{"path": None, "message": "the body is not JSON"}]) from None


def shown(device: Device) -> dict[str, Any]:
    """A device as the API sends it (never its token)."""
    return {"id": device.id, "store": device.location, "name": device.name,
            "created_at": json_shapes.instant(device.created_at), "revoked_at": json_shapes.instant(device.revoked_at)}


class DevicesController(Controller):
    path = "/devices"
    tags = ["kiosk"]
    opt = {"scope": "admin"}

    @post("/", status_code=201, summary="Provision a kiosk (its link and staff PIN are shown once)",
          responses=write_problems(413, 415),
          operation_class=documented(parameters=[IDEMPOTENCY_KEY], body=DEVICE_BODY))
    async def create(
        self,
        request: Request,
        center_id: FromPath[str],
        settings: NamedDependency[Settings],
        signer: NamedDependency[TokenSigner],
        clock: NamedDependency[Clock],
        store: NamedDependency[Store],
        write: NamedDependency[ApiWrite],
    ) -> Response[DeviceCreated]:
        data = read_device(await request.body())
        pins: list[str] = []

        def work(connection: Connection) -> Answer:
            device, pin = devices.provision(connection, store.lookup_key, center_id, data.store, data.name, clock())
            pins.append(pin)
            # The token is in the answer only (a retry with the same Idempotency-Key gets this same one).
            link = kiosk_url(settings.base_url, signer, device.center, device.id, device.location)
            return Answer({**shown(device), "kiosk_url": link}, 201,
                          {"Location": f"/api/v1/centers/{center_id}/devices/{device.id}"})

        answer = await write(work)
        # The PIN joins the answer after its idempotency record is stored: never kept in clear, anywhere.
        answer.content = {**answer.content, "staff_pin": pins[0] if pins else None}
        return answer

    @get("/", summary="Every kiosk of the center, revoked ones included, oldest first", responses=problems())
    async def listing(self, center_id: FromPath[str], store: NamedDependency[Store]) -> DeviceList:

        def read() -> dict[str, Any]:
            with store.engine.connect() as connection:
                return {"devices": [shown(device) for device in devices.listed(connection, center_id)]}

        return cast(DeviceList, await store.run_sync(read))  # a dict of shapes, sent as that shape

    @get("/{device_id:str}", summary="One kiosk", responses=problems())
    async def one(self, center_id: FromPath[str], device_id: FromPath[str], store: NamedDependency[Store]) -> DeviceOut:

        def read() -> Device | None:
            with store.engine.connect() as connection:
                return devices.get(connection, center_id, device_id)

        device = await store.run_sync(read)
        if device is None:
            raise NotFound()
        return cast(DeviceOut, shown(device))

    @delete("/{device_id:str}", status_code=200, summary="Revoke a kiosk (refused from its next request on)",
            responses=write_problems(), operation_class=documented(parameters=[IDEMPOTENCY_KEY]))
    async def revoke(self, center_id: FromPath[str], device_id: FromPath[str], clock: NamedDependency[Clock],
                     write: NamedDependency[ApiWrite]) -> Response[DeviceOut]:

        def work(connection: Connection) -> Answer:
            device = devices.revoke(connection, device_id, clock(), center=center_id)  # revoked already: as it was
            if device is None:
                raise NotFound()
            return Answer(shown(device))

        return await write(work)
