"""Who is calling the API: the key in ``Authorization: Bearer``, its center and scopes.

A guard on the API router authenticates every request (``401``), checks that the key
belongs to the center in the path (``404`` otherwise, whether that center exists or not:
a key learns nothing of the others) and carries the scope the handler declares in its
``opt`` (``403``), and leaves the key in ``request.state.api_key`` for handlers to record
as the actor. Keys are looked up in the database on each request, so a revocation is
effective at once.
"""

from __future__ import annotations

import hashlib

from litestar.connection import ASGIConnection, Request
from litestar.handlers import BaseRouteHandler

from ....errors import CenterNotFound, Forbidden, Unauthenticated
from ....store import api_keys
from ....store.api_keys import ApiKey
from ...dependencies import AppState


def presented_key(connection: ASGIConnection) -> str | None:
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def require_scope(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """The API router's guard (see the module docstring)."""
    presented = presented_key(connection)
    if presented is None or not presented.isprintable():
        raise Unauthenticated()
    state = AppState.of(connection.app)
    store = state.store
    with store.engine.connect() as db:
        key = api_keys.authenticate(db, presented)
    if key is None:
        raise Unauthenticated()
    center_id = connection.path_params.get("center_id")
    if key.center != center_id or center_id not in state.centers:  # another center's or none: one answer
        raise CenterNotFound()
    needed = handler.opt.get("scope", "admin")
    if not key.allows(needed):
        raise Forbidden(required_scope=needed)  # says which key to make
    connection.state.api_key = key


def rate_limit_identity(request: Request) -> str:
    """Rate limits count per presented key, else per client address.

    The bucket is a hash of the whole key, not its public id: key ids appear in events,
    and a stranger sending a victim's id with a wrong secret must fill their own bucket,
    not the victim's. (Limits are per server process.)
    """
    presented = presented_key(request)
    if presented:
        return "key:" + hashlib.sha256(presented.encode("utf-8", "replace")).hexdigest()[:32]
    return "ip:" + (request.client.host if request.client else "unknown")


async def provide_api_key(request: Request) -> ApiKey:
    return request.state.api_key
