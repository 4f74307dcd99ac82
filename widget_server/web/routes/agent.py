"""The call-center console: ``/c/{center}/agent?t=AGENT_TOKEN`` (being built: issue 11)."""

from __future__ import annotations

from litestar import Controller, MediaType, get

from ...errors import NotFound


class AgentController(Controller):
    path = "/agent"  # under /c/{center_id}

    @get(media_type=MediaType.HTML, include_in_schema=False)
    async def console(self) -> None:
        raise NotFound()
