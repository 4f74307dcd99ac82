"""Headers every response carries, and the same-origin rule for state changes.

The widget lives in third-party iframes where cookies are blocked, so identity travels
in the signed token, and forgery is stopped by refusing state changes that a browser
says come from another site (``Sec-Fetch-Site``, else ``Origin``). Who may frame a
center's pages is the center's list of allowed origins (CSP ``frame-ancestors``); its agent
console may also be framed by the call-center screens its ``[call_center]`` lists.
"""

from __future__ import annotations

import re
from typing import Awaitable, Callable, Iterable, Mapping

from litestar.types import Message, Scope

from ..centers.model import Center
from ..errors import CrossSiteRequest

#: A center's pages: its id, then what follows (``agent`` for the agent console).
CENTER_PATH = re.compile(r"^/c/([^/]+)/([^/]*)")

BASE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def frame_ancestors(origins: Iterable[str]) -> str:
    return " ".join(["'self'", *dict.fromkeys(origins)])  # each once, in order


def framing_origins(center: Center | None, page: str) -> tuple[str, ...]:
    """Who may frame ``page`` (the path's first segment after the center) of ``center``:
    the center's allowed origins; the agent console, only its call-center screens (the
    brand's public sites embed the widget, never the console)."""
    if center is None:
        return ()
    if page == "agent":
        return center.call_center.allowed_origins if center.call_center is not None else ()
    return center.allowed_origins


def security_headers(centers: Mapping[str, Center]) -> Callable[[Message, Scope], Awaitable[None]]:
    """A ``before_send`` hook: CSP, Referrer-Policy, nosniff... on every response.

    A hook, not a middleware: Litestar calls it for everything the app sends, including
    the answers no route gives (an unknown path's 404, a 405, the rate limiter's 429),
    which route middleware never sees. Responses that set their own ``Cache-Control``
    (static files, themes) keep it; every other response is ``no-store``.
    """

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope["type"] != "http":
            return
        match = CENTER_PATH.match(scope["path"])
        origins = framing_origins(centers.get(match.group(1)), match.group(2)) if match else ()
        csp = f"{BASE_CSP}; frame-ancestors {frame_ancestors(origins)}".encode()
        headers = list(message.get("headers", []))
        present = {name.lower() for name, _ in headers}
        for name, value in (
            (b"content-security-policy", csp),
            (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
            # Pages hold personal choices and a token: no cache may keep them.
            (b"cache-control", b"no-store"),
        ):
            if name not in present:
                headers.append((name, value))
        message["headers"] = headers  # the hook changes the message Litestar then sends

    return add_headers


def check_same_origin(headers, own_origins: Iterable[str]) -> None:  # noqa: ANN001
    """Refuse a state change a browser says was sent from another site.

    Browsers send ``Sec-Fetch-Site`` on every request (and ``Origin`` on POST); a
    client that sends neither is not a browser, so it cannot be a forged request.
    """
    site = headers.get("sec-fetch-site")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise CrossSiteRequest()
        return
    origin = headers.get("origin")
    if origin is not None and origin not in set(own_origins):
        raise CrossSiteRequest()
