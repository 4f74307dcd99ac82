"""Headers every response carries, and the same-origin rule for state changes.

The widget lives in third-party iframes where cookies are blocked, so identity travels
in the signed token, and forgery is stopped by refusing state changes that a browser
says come from another site (``Sec-Fetch-Site``, else ``Origin``). Who may frame a
center's pages is the center's list of allowed origins (CSP ``frame-ancestors``).
"""

from __future__ import annotations

import re
from typing import Callable, Iterable

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import CrossSiteRequest

CENTER_PATH = re.compile(r"^/c/([^/]+)/")

BASE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def frame_ancestors(origins: Iterable[str]) -> str:
    return " ".join(["'self'", *origins])


def security_headers_middleware(
    allowed_origins: Callable[[str], tuple[str, ...] | None],
) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware factory: adds CSP, Referrer-Policy, nosniff to every response.

    Responses that set their own ``Cache-Control`` (static files, themes) keep it;
    every other response is ``no-store``.
    """

    def middleware(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            match = CENTER_PATH.match(scope["path"])
            origins = (allowed_origins(match.group(1)) if match else None) or ()
            csp = f"{BASE_CSP}; frame-ancestors {frame_ancestors(origins)}".encode()

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
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
                    message = {**message, "headers": headers}
                await send(message)

            await app(scope, receive, send_with_headers)

        return wrapped

    return middleware


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
