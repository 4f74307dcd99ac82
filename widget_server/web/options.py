"""``OPTIONS`` answers that name every method of their address.

Litestar 2 answers ``OPTIONS`` itself, but its handler is made when the first handler of a
path is registered and keeps that route's methods: ``/c/{center}/preferences`` said
``Allow: OPTIONS, POST`` though it serves ``GET`` too (litestar-org/litestar#4169, fixed
in 3.x only). This ``before_send`` hook writes the ``Allow`` of an ``OPTIONS`` answer from
the app's routes as built, the ones requests are routed by (a ``405`` already says so).
"""

from __future__ import annotations

from litestar.routes import HTTPRoute
from litestar.types import Message, Scope


async def complete_allow(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: an ``OPTIONS`` answer's ``Allow`` lists every method of its path."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    headers = list(message.get("headers", []))
    if not any(name.lower() == b"allow" for name, _ in headers):  # not Litestar's answer (a 404, a 401...)
        return
    template = scope.get("path_template")
    methods = next((route.methods for route in scope["app"].routes
                    if isinstance(route, HTTPRoute) and route.path_format == template), None)
    if methods:
        headers = [(name, value) for name, value in headers if name.lower() != b"allow"]
        message["headers"] = [*headers, (b"allow", ", ".join(sorted(methods)).encode())]
