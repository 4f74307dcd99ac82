"""``GET /c/{center}/theme.css``: the center's theme (see :mod:`..theming`)."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery

from ..theming import MODES, theme_css, with_overrides
from .common import center_or_404


@get("/c/{center_id:str}/theme.css")
async def center_theme(request: Request, state: State, center_id: FromPath[str],
                       mode: FromQuery[str | None] = None) -> Response[str]:
    center = center_or_404(state, center_id)
    theme = with_overrides(center.theme, request.query_params)
    return Response(
        theme_css(theme, mode if mode in MODES else "auto"),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
