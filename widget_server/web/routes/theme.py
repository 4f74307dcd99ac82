"""``GET /c/{center}/theme.css``: the center's theme (see :mod:`..theming`)."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from ...centers.model import Center
from ..openapi import documented, pages
from ..theming import MODES, theme_css, with_overrides
from .common import embed_query


@get("/theme.css", media_type="text/css", responses=pages(),  # under /c/{center_id}
     operation_class=documented(parameters=embed_query(("primary", "radius", "spacing", "font"))))
async def center_theme(
    request: Request,
    center: NamedDependency[Center],
    mode: FromQuery[str | None] = None,
) -> Response[str]:
    theme = with_overrides(center.theme, request.query_params)
    return Response(
        theme_css(theme, mode if mode in MODES else "auto"),
        media_type="text/css",  # Litestar adds "; charset=utf-8"
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
