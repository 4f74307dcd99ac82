"""``GET /favicon.ico``: where browsers look for an icon when a page names none (and a 404 otherwise).

Our pages name theirs (``base.html``: ``static/favicon.svg``, and ``favicon-32.png`` for
browsers without SVG icons); this answers the request every browser and feed reader makes
anyway, with the same icon as an ICO (a 32 px PNG inside). Its URL is fixed, so it is
cached for a day, not a year.
"""

from __future__ import annotations

from functools import cache

from litestar import Response, get

from ...paths import STATIC


@cache
def _icon() -> bytes:
    return (STATIC / "favicon.ico").read_bytes()


@get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response[bytes]:
    return Response(_icon(), media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})
