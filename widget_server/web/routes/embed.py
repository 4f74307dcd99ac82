"""``GET /embed.js``: the script-tag loader host pages include (``static/embed.js``).

Its URL is fixed (embedders paste it into their pages), so it cannot carry a content
hash like the other static files: it is cached for an hour, not a year. Pages of other
sites load it, hence ``Cross-Origin-Resource-Policy: cross-origin``.
"""

from __future__ import annotations

from functools import cache

from litestar import Response, get

from ...paths import STATIC


@cache
def _loader() -> bytes:
    return (STATIC / "embed.js").read_bytes()


@get("/embed.js", include_in_schema=False)
async def embed_script() -> Response[bytes]:
    return Response(
        _loader(),
        media_type="text/javascript",  # Litestar adds "; charset=utf-8"
        headers={"Cache-Control": "public, max-age=3600", "Cross-Origin-Resource-Policy": "cross-origin"},
    )
