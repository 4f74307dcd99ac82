"""``GET /c/{center}/theme.css``: the center's theme (see :mod:`..theming`)."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State
from litestar.params import FromPath

from ..theming import theme_css
from .widget import center_or_404


@get("/c/{center_id:str}/theme.css")
async def center_theme(state: State, center_id: FromPath[str]) -> Response[str]:
    center = center_or_404(state, center_id)
    return Response(
        theme_css(center.theme),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
