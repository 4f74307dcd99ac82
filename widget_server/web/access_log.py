"""One log line per request: method, path, status, time. Never the query string.

Tokens travel in query strings and form bodies, so neither is ever logged; the path
of a widget URL holds only the center id. Server access logs (uvicorn's) are off.
"""

from __future__ import annotations

import logging
import re
import time

from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("widget_server.access")


def access_log_middleware(app: ASGIApp) -> ASGIApp:
    async def logged(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, record_status)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            log.info("%s %s %d %.1fms", scope.get("method"), _printable(scope["path"]), status, elapsed)

    return logged


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(path: str) -> str:
    """The path with control characters escaped: a ``%0A`` in a URL must not forge a log line."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", path)
