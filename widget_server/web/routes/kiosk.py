"""The shop tablet: ``/c/{center}/kiosk?t=DEVICE_TOKEN`` (being built: issue 11)."""

from __future__ import annotations

from litestar import Controller, MediaType, get

from ...errors import NotFound


class KioskController(Controller):
    path = "/kiosk"  # under /c/{center_id}

    @get(media_type=MediaType.HTML, include_in_schema=False)
    async def welcome(self) -> None:
        raise NotFound()
